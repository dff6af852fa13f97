"""Extraction templates: skeletons from results, saved as JSON files, never silently replaced; the built-in ones
(invoice, receipt, ID card, business card) listed first and never overwritten."""

import json

import pytest

from app.document import templates
from app.resources_setup import builtin_templates_dir

BUILT_IN = ["Business card", "ID card", "Invoice", "Receipt"]


def test_template_from_data_empties_values_and_keeps_structure():
    data = {"name": "Ada", "total": 3.5, "items": [{"sku": "A", "qty": 2}, {"sku": "B", "qty": 1}], "tags": []}
    assert templates.template_from_data(data) == {"name": "", "total": "", "items": [{"sku": "", "qty": ""}],
                                                  "tags": []}


def test_save_list_load_delete(tmp_path):
    templates.save_template("Invoice (DE)", '{"number": ""}', folder=tmp_path)
    templates.save_template("receipt", '{"total": ""}', folder=tmp_path)
    assert templates.list_templates(tmp_path) == ["Invoice (DE)", "receipt"]
    assert json.loads(templates.load_template("Invoice (DE)", tmp_path)) == {"number": ""}
    with pytest.raises(FileExistsError):
        templates.save_template("receipt", "{}", folder=tmp_path)
    templates.delete_template("receipt", tmp_path)
    assert templates.list_templates(tmp_path) == ["Invoice (DE)"]


def test_bad_templates_and_names_are_refused(tmp_path):
    with pytest.raises(ValueError):
        templates.save_template("x", "{not json", folder=tmp_path)
    with pytest.raises(ValueError, match="template name"):
        templates.save_template("../..", "{}", folder=tmp_path)
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ValueError, match="broken.json"):
        templates.load_template("broken", tmp_path)


def test_default_folder_follows_the_data_dir_override(tmp_path, monkeypatch):
    monkeypatch.setenv("GLMOCR_DATA_DIR", str(tmp_path))
    templates.save_template("t", "{}")
    assert (tmp_path / "templates" / "t.json").is_file()


def test_the_app_ships_four_built_in_templates_listed_before_the_users_own(tmp_path):
    assert templates.builtin_templates() == BUILT_IN
    for name in BUILT_IN:
        assert isinstance(json.loads(templates.load_builtin_template(name)), dict)
    templates.save_template("Mine", '{"a": ""}', folder=tmp_path)
    entries = templates.all_templates(folder=tmp_path)
    assert [(e.name, e.builtin) for e in entries] == [(n, True) for n in BUILT_IN] + [("Mine", False)]


def test_saving_under_a_built_in_name_never_touches_the_built_in_file(data_dir):
    shipped = builtin_templates_dir() / "Invoice.json"
    before = shipped.read_bytes()
    saved = templates.save_template("Invoice", '{"mine": ""}')
    assert saved.parent == data_dir / "templates" and shipped.read_bytes() == before
    assert json.loads(templates.load_builtin_template("Invoice")) != {"mine": ""}
    assert templates.TemplateEntry("Invoice") in templates.all_templates()  # listed as the user's own too
