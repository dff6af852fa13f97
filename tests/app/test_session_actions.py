"""File menu sessions and export inside a real MainWindow (offscreen, no model), dialogs answered by the test."""

import errno
import json

import pytest
from PIL import Image
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from app.document.atomic import WriteError
from app.document.model import DONE
from app.main_window import MainWindow
from app.results import session_actions
from app.results.session_actions import install_file_actions
from app.document.session_file import save_session
from app.paths import MODEL_DIR_ENV
from app.settings import Settings

TABLE = "<table><tr><td>a</td><td>b</td></tr></table>"


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("GLMOCR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv(MODEL_DIR_ENV, str(tmp_path / "no-model"))
    win = MainWindow(Settings(tmp_path / "settings.ini"), autoload_model=False)
    qtbot.addWidget(win)
    actions = install_file_actions(win)
    yield win
    QApplication.instance().aboutToQuit.disconnect(actions.finish)
    actions.autosaver.finish()


def open_with_regions(win, tmp_path):
    image = tmp_path / "scan.png"
    Image.new("RGB", (300, 300), "white").save(image)
    assert win.open_path(str(image))
    for task, box, text in [("table", (5, 100, 200, 150), TABLE), ("formula", (5, 5, 200, 50), "$$x$$")]:
        region = win.add_region(0, box, task=task, run=False)
        region.state, region.text = DONE, text
        region.result = {"task": task, "text": text, "parsed": None}
    win._sync_region_views()
    return image


def answer_save_dialog(monkeypatch, path):
    calls = []

    def fake(*args, **kwargs):
        calls.append(args)
        return str(path), ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(fake))
    return calls


def test_file_menu_has_session_and_export_entries_before_model(window):
    texts = [a.text() for a in window.file_menu.actions()]
    assert texts.index("&Save Session") < texts.index("&Model…")
    export_menu = next(a.menu() for a in window.file_menu.actions() if a.menu() and a.text() == "&Export")
    assert [a.text() for a in export_menu.actions()] == [
        "Export &Markdown…", "Export Tables as &CSV…", "Export Tables as CSV for &Excel…", "Export &JSON…"]


def test_save_session_asks_once_then_saves_edits_in_place(window, tmp_path, monkeypatch):
    open_with_regions(window, tmp_path)
    target = tmp_path / "work.glmocr-session"
    calls = answer_save_dialog(monkeypatch, target)
    window.file_actions.actions["save_session"].trigger()
    formula_card = next(c for c in window.results.cards.values() if c.region.task == "formula")
    formula_card.view.set_latex("y")
    window.file_actions.actions["save_session"].trigger()  # pending edit is flushed, no second dialog
    assert len(calls) == 1
    saved = json.loads(target.read_text())["document"]["regions"]
    assert [r["edited_text"] for r in saved if r["task"] == "formula"] == ["y"]


def test_write_error_shows_message_and_keeps_the_work(window, tmp_path, monkeypatch):
    open_with_regions(window, tmp_path)
    answer_save_dialog(monkeypatch, tmp_path / "full.glmocr-session")

    def disk_full(*args, **kwargs):
        raise WriteError(args[1], OSError(errno.ENOSPC, "No space left on device"))

    monkeypatch.setattr(session_actions, "save_session", disk_full)
    assert window.file_actions.save_session() is False
    assert "disk is full" in window.last_error and "Nothing was lost" in window.last_error
    assert len(window.session.regions) == 2 and window.file_actions.session_path is None


def test_exports_write_markdown_json_and_csv(window, tmp_path, monkeypatch):
    open_with_regions(window, tmp_path)
    answer_save_dialog(monkeypatch, tmp_path / "out.md")
    window.file_actions.export_markdown_dialog()
    assert (tmp_path / "out.md").read_text().startswith("$$\nx\n$$\n\n| a | b |")
    answer_save_dialog(monkeypatch, tmp_path / "out.json")
    window.file_actions.export_json_dialog()
    assert len(json.loads((tmp_path / "out.json").read_text())["regions"]) == 2
    assert window.file_actions.export_csv_to(str(tmp_path), excel=True)
    assert (tmp_path / "scan-p1-table1.csv").read_bytes() == b"\xef\xbb\xbfa,b\r\n"


def test_csv_export_asks_before_replacing_and_keeps_file_on_no(window, tmp_path, monkeypatch):
    open_with_regions(window, tmp_path)
    existing = tmp_path / "scan-p1-table1.csv"
    existing.write_text("keep")
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.StandardButton.No))
    assert window.file_actions.export_csv_to(str(tmp_path), excel=False) is False
    assert existing.read_text() == "keep"
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.StandardButton.Yes))
    assert window.file_actions.export_csv_to(str(tmp_path), excel=False)
    assert existing.read_bytes() == b"a,b\r\n"


def test_open_session_with_moved_document_relinks(window, tmp_path, monkeypatch):
    image = open_with_regions(window, tmp_path)
    session_file = save_session(window.session, tmp_path / "s.glmocr-session")
    moved = tmp_path / "moved.png"
    image.rename(moved)
    asked = []
    monkeypatch.setattr(window.file_actions, "_ask_relink", lambda check: asked.append(check.status) or "locate")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(moved), "")))
    assert window.file_actions.open_session_file(str(session_file))
    assert asked == ["missing"] and window.session.path == str(moved)
    assert sorted(r.task for r in window.session.regions) == ["formula", "table"]


def test_open_session_cancelled_relink_keeps_current_work(window, tmp_path, monkeypatch):
    image = open_with_regions(window, tmp_path)
    session_file = save_session(window.session, tmp_path / "s.glmocr-session")
    current = window.session
    image.unlink()
    monkeypatch.setattr(window.file_actions, "_ask_relink", lambda check: "cancel")
    assert window.file_actions.open_session_file(str(session_file)) is False
    assert window.session is current


def test_restore_prompt_restores_an_orphaned_autosave(window, tmp_path, qtbot):
    open_with_regions(window, tmp_path)
    window.session.regions[0].edited_text = "<table><tr><td>kept</td></tr></table>"
    (tmp_path / "data" / "autosave").mkdir(parents=True, exist_ok=True)
    orphan = save_session(window.session, tmp_path / "data" / "autosave" / "999-dead.json")  # no lock: owner gone
    window.file_actions.offer_restore()
    box = window.file_actions.restore_box
    qtbot.waitUntil(box.isVisible)
    box.restore_button.click()
    qtbot.waitUntil(lambda: window.file_actions.restore_box is None)
    assert any(r.edited_text and "kept" in r.edited_text for r in window.session.regions)
    assert not orphan.exists()


def test_clean_exit_keeps_the_last_session_and_it_reopens(window, tmp_path):
    open_with_regions(window, tmp_path)
    window.session.regions[1].edited_text = "z"
    window.file_actions.autosaver.save_now()
    window.file_actions.finish()
    data = tmp_path / "data"
    assert (data / "last-session.glmocr-session").is_file() and list((data / "autosave").iterdir()) == []
    before = window.session
    window.file_actions.reopen_last_session()
    assert window.session is not before and [r.edited_text for r in window.session.regions] == [None, "z"]


def test_template_button_sets_schema_and_reruns_only_on_extract_cards(window, tmp_path):
    from app.document import templates

    open_with_regions(window, tmp_path)
    region = window.add_region(0, (5, 200, 200, 280), task="extract", run=False)
    region.state, region.text = DONE, "{}"
    window._sync_region_views()
    card = window.results.card(region.id)
    other = window.results.card(window.session.regions[0].id)
    assert card.template_button.isVisibleTo(card) and not other.template_button.isVisibleTo(other)
    templates.save_template("invoice", '{"number": ""}')
    card.template_button.use_saved("invoice")
    assert json.loads(region.schema) == {"number": ""} and region.state == "queued"
    region.task = "text"
    window._sync_region_views()
    assert not card.template_button.isVisibleTo(card)
