"""Extraction templates: skeletons from results, saved as JSON files, never silently replaced."""

import json

import pytest

from app.document import templates


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
