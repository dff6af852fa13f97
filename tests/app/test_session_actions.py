"""File menu sessions and export in the composed app (offscreen, no model), dialogs answered by the test."""

import errno
import json

import pytest
from PIL import Image
from PySide6.QtWidgets import QFileDialog, QMessageBox

from app.document import atomic
from app.document.model import DONE
from app.document.session_file import save_session
from fake_engine import FakeFactory

TABLE = "<table><tr><td>a</td><td>b</td></tr></table>"


@pytest.fixture
def relink_answers():
    """What the "document moved or changed" question answers, and the checks it was asked about."""
    return {"answer": "cancel", "asked": []}


@pytest.fixture
def studio(make_studio, relink_answers):
    def ask_relink(check):
        relink_answers["asked"].append(check.status)
        return relink_answers["answer"]

    return make_studio(FakeFactory(), build_options={"ask_relink": ask_relink})


def open_with_regions(studio, tmp_path):
    image = tmp_path / "scan.png"
    Image.new("RGB", (300, 300), "white").save(image)
    assert studio.documents.open_path(str(image))
    for task, box, text in [("table", (5, 100, 200, 150), TABLE), ("formula", (5, 5, 200, 50), "$$x$$")]:
        region = studio.regions.add_region(0, box, task=task, run=False)
        region.state, region.text = DONE, text
        region.result = {"task": task, "text": text, "parsed": None}
    studio.regions.sync_views()
    return image


def menu(studio, title):
    return next(a.menu() for a in studio.window.menuBar().actions() if a.text() == title)


def saved_regions(path, index=0):
    """The regions of the session file's document ``index``."""
    return json.loads(open(path).read())["documents"][index]["document"]["regions"]


def close_everything(studio):
    for opened in list(studio.workspace.documents):
        studio.workspace.close_document(opened)


def answer_save_dialog(monkeypatch, path):
    calls = []

    def fake(*args, **kwargs):
        calls.append(args)
        return str(path), ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(fake))
    return calls


def test_file_menu_has_session_and_export_entries_before_model(studio):
    file_menu = menu(studio, "&File")
    texts = [a.text() for a in file_menu.actions()]
    assert texts.index("&Save Session") < texts.index("&Close Document") < texts.index("&Model…")
    assert "Pre&ferences…" not in texts and "Pre&ferences…" in [a.text() for a in menu(studio, "&Edit").actions()]
    export_menu = next(a.menu() for a in file_menu.actions() if a.menu() and a.text() == "&Export")
    assert [a.text() for a in export_menu.actions()] == [
        "Export &Markdown…", "Export &Text…", "Export Tables as &CSV…", "Export Tables as CSV for &Excel…", "Export &JSON…"]


def test_save_session_asks_once_then_saves_edits_in_place(studio, tmp_path, monkeypatch):
    open_with_regions(studio, tmp_path)
    target = tmp_path / "work.glmocr-session"
    calls = answer_save_dialog(monkeypatch, target)
    studio.actions["save_session"].trigger()
    formula_card = next(c for c in studio.results.cards.values() if c.region.task == "formula")
    formula_card.view.set_latex("y")
    studio.actions["save_session"].trigger()  # pending edit is flushed, no second dialog
    assert len(calls) == 1
    saved = saved_regions(target)
    assert [r["edited_text"] for r in saved if r["task"] == "formula"] == ["y"]


def test_write_error_shows_message_and_keeps_the_work(studio, tmp_path, monkeypatch):
    open_with_regions(studio, tmp_path)
    answer_save_dialog(monkeypatch, tmp_path / "full.glmocr-session")

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", disk_full)
    assert studio.file_actions.save_session() is False
    assert "disk is full" in studio.window.last_error and "Nothing was lost" in studio.window.last_error
    assert len(studio.workspace.session.regions) == 2 and studio.file_actions.session_path is None


def test_exports_write_markdown_json_and_csv(studio, tmp_path, monkeypatch):
    open_with_regions(studio, tmp_path)
    answer_save_dialog(monkeypatch, tmp_path / "out.md")
    studio.file_actions.export_markdown_dialog()
    assert (tmp_path / "out.md").read_text().startswith("$$\nx\n$$\n\n| a | b |")
    answer_save_dialog(monkeypatch, tmp_path / "out.json")
    studio.file_actions.export_json_dialog()
    assert len(json.loads((tmp_path / "out.json").read_text())["regions"]) == 2
    answer_save_dialog(monkeypatch, tmp_path / "out.txt")
    studio.actions["export_text"].trigger()  # from the File > Export menu
    assert (tmp_path / "out.txt").read_text().startswith("x\n")
    assert studio.file_actions.export_csv_to(str(tmp_path), excel=True)
    assert (tmp_path / "scan-p1-table1.csv").read_bytes() == b"\xef\xbb\xbfa,b\r\n"


def test_csv_export_asks_before_replacing_and_keeps_file_on_no(studio, tmp_path, monkeypatch):
    open_with_regions(studio, tmp_path)
    existing = tmp_path / "scan-p1-table1.csv"
    existing.write_text("keep")
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.StandardButton.No))
    assert studio.file_actions.export_csv_to(str(tmp_path), excel=False) is False
    assert existing.read_text() == "keep"
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.StandardButton.Yes))
    assert studio.file_actions.export_csv_to(str(tmp_path), excel=False)
    assert existing.read_bytes() == b"a,b\r\n"


def test_open_session_with_moved_document_relinks(studio, tmp_path, monkeypatch, relink_answers):
    relink_answers["answer"] = "locate"
    image = open_with_regions(studio, tmp_path)
    session_file = save_session(studio.workspace.session, tmp_path / "s.glmocr-session")
    close_everything(studio)
    moved = tmp_path / "moved.png"
    image.rename(moved)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(moved), "")))
    assert studio.file_actions.open_session_file(str(session_file))
    assert relink_answers["asked"] == ["missing"] and studio.workspace.session.path == str(moved)
    assert sorted(r.task for r in studio.workspace.session.regions) == ["formula", "table"]


def test_open_session_cancelled_relink_keeps_current_work(studio, tmp_path):
    image = open_with_regions(studio, tmp_path)
    session_file = save_session(studio.workspace.session, tmp_path / "s.glmocr-session")
    studio.regions.add_region(0, (5, 220, 100, 260), run=False)  # the open document differs from the saved one now
    current = studio.workspace.session
    image.unlink()
    assert studio.file_actions.open_session_file(str(session_file)) is False
    assert studio.workspace.session is current and len(studio.workspace.documents) == 1


def test_restore_prompt_restores_an_orphaned_autosave(studio, tmp_path, qtbot):
    open_with_regions(studio, tmp_path)
    studio.workspace.session.regions[0].edited_text = "<table><tr><td>kept</td></tr></table>"
    (tmp_path / "data" / "autosave").mkdir(parents=True, exist_ok=True)
    orphan = save_session(studio.workspace.session, tmp_path / "data" / "autosave" / "999-dead.json")  # no lock: owner gone
    studio.file_actions.offer_restore()
    box = studio.file_actions.restore_box
    qtbot.waitUntil(box.isVisible)
    next(b for b in box.buttons() if b.text() == "Restore").click()
    qtbot.waitUntil(lambda: studio.file_actions.restore_box is None)
    assert any(r.edited_text and "kept" in r.edited_text for r in studio.workspace.session.regions)
    assert not orphan.exists()


def test_clean_exit_keeps_the_last_session_and_it_reopens(studio, tmp_path):
    open_with_regions(studio, tmp_path)
    studio.workspace.session.regions[1].edited_text = "z"
    studio.file_actions.autosaver.save_now()
    studio.file_actions.finish()
    data = tmp_path / "data"
    assert (data / "last-session.glmocr-session").is_file() and list((data / "autosave").iterdir()) == []
    before = studio.workspace.session
    close_everything(studio)
    studio.file_actions.reopen_last_session()
    assert studio.workspace.session is not before and [r.edited_text for r in studio.workspace.session.regions] == [None, "z"]


def test_template_button_sets_schema_and_reruns_only_on_extract_cards(studio, tmp_path):
    from app.document import templates

    open_with_regions(studio, tmp_path)
    region = studio.regions.add_region(0, (5, 200, 200, 280), task="extract", run=False)
    region.state, region.text = DONE, "{}"
    studio.regions.sync_views()
    card = studio.results.card(region.id)
    other = studio.results.card(studio.workspace.session.regions[0].id)
    assert card.template_button.isVisibleTo(card) and not other.template_button.isVisibleTo(other)
    templates.save_template("invoice", '{"number": ""}')
    card.template_button.use_saved("invoice")
    assert json.loads(region.schema) == {"number": ""} and region.state == "queued"
    studio.actions["task_text"].trigger()  # the selected (extract) region becomes a text region
    assert not card.template_button.isVisibleTo(card)


def test_an_edit_in_a_card_is_autosaved(studio, tmp_path, qtbot):
    studio.settings.set("autosave_interval_s", 1)
    open_with_regions(studio, tmp_path)
    studio.file_actions.autosaver.save_now()
    formula_card = next(c for c in studio.results.cards.values() if c.region.task == "formula")
    with qtbot.waitSignal(studio.file_actions.autosaver.saved, timeout=5_000) as saved:
        formula_card.view.set_latex("x + 1")
    regions = saved_regions(saved.args[0])
    assert [r["edited_text"] for r in regions if r["task"] == "formula"] == ["x + 1"]


def test_a_damaged_autosave_is_named_to_the_user_and_kept(studio, tmp_path):
    folder = tmp_path / "data" / "autosave"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "998-dead.json").write_text('{"format": "glmocr-studio-session", "version": 1, "document": []}')
    studio.file_actions.offer_restore()
    kept = folder / "damaged" / "998-dead.json"
    assert kept.is_file() and str(kept) in studio.window.last_error and "Nothing was deleted" in studio.window.last_error
    assert studio.file_actions.restore_box is None  # nothing restorable to offer
