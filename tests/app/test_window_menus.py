"""Manners of the window: an Edit menu (Undo, Redo, Copy, Select All, Delete, Preferences), actions that need a
document disabled without one, file dialogs that start in the user's folders, and a restore prompt in local time."""

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from PySide6.QtCore import QLocale, QTime, Qt
from PySide6.QtGui import QAction, QColor, QImage
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QFileDialog

from app.document.model import DONE
from app.window.file_actions import saved_when
from fake_engine import FakeFactory
from helpers import make_pdf, make_png

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def studio(make_studio, monkeypatch):
    monkeypatch.chdir(REPO)  # started from the source tree: no dialog may start here
    return make_studio(FakeFactory(), auto_run=False, run_pasted_images=False)


def menu(studio, title):
    return next(a.menu() for a in studio.window.menuBar().actions() if a.text() == title)


def dialog_folders(monkeypatch, method: str, answer: str = "") -> list:
    """Where each file dialog of ``method`` was asked to start."""
    starts = []

    def fake(parent, caption="", folder="", *rest, **kwargs):
        starts.append(folder)
        if method == "getOpenFileNames":
            return ([answer] if answer else []), ""
        return answer if method == "getExistingDirectory" else (answer, "")

    monkeypatch.setattr(QFileDialog, method, staticmethod(fake))
    return starts


# --- menus --------------------------------------------------------------------------------------------------


def test_the_edit_menu_and_preferences_in_their_place(studio):
    texts = [a.text() for a in menu(studio, "&Edit").actions() if not a.isSeparator()]
    assert texts == ["&Undo", "&Redo", "&Copy", "Select &All", "&Delete region", "Pre&ferences…"]
    assert [a.text() for a in studio.window.menuBar().actions()][:3] == ["&File", "&Edit", "&View"]
    assert studio.actions["settings"].menuRole() == QAction.MenuRole.PreferencesRole  # macOS: the app menu
    assert studio.actions["about"].menuRole() == QAction.MenuRole.AboutRole
    assert not studio.actions["undo"].isEnabled() and not studio.actions["redo"].isEnabled()


def test_document_actions_wait_for_a_document(studio, tmp_path):
    needs_document = ["prev_page", "next_page", "whole_page", "rerun", "run_page", "delete", "save_session",
                      "export_markdown", "export_json", "zoom_in", "fit_page", "close_document"]
    assert [k for k in needs_document if studio.actions[k].isEnabled()] == []
    assert studio.documents.open_path(str(make_pdf(tmp_path / "doc.pdf", pages=3)))
    assert [k for k in needs_document if not studio.actions[k].isEnabled()] == ["prev_page"]
    studio.documents.go_to_page(2)
    assert studio.actions["prev_page"].isEnabled() and not studio.actions["next_page"].isEnabled()
    studio.actions["close_document"].trigger()
    assert [k for k in needs_document if studio.actions[k].isEnabled()] == []
    assert studio.window.page_label.text() == ""


# --- file dialogs -------------------------------------------------------------------------------------------


def test_file_dialogs_start_in_home_then_in_the_last_folder(studio, tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    opens = dialog_folders(monkeypatch, "getOpenFileNames")
    sessions = dialog_folders(monkeypatch, "getOpenFileName")
    studio.actions["open"].trigger()
    studio.actions["open_session"].trigger()
    assert opens == [str(home)] and sessions == [str(home)]
    folder = tmp_path / "scans"
    folder.mkdir()
    assert studio.documents.open_path(str(make_png(folder / "page.png")))
    studio.actions["open"].trigger()
    assert opens[-1] == str(folder.resolve())


def test_save_dialogs_of_a_pasted_picture_suggest_a_name_in_home(studio, tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    image = QImage(50, 40, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    QApplication.clipboard().setImage(image)
    studio.actions["paste"].trigger()
    saves = dialog_folders(monkeypatch, "getSaveFileName")
    studio.actions["save_session_as"].trigger()
    studio.actions["export_markdown"].trigger()
    assert [Path(s).parent for s in saves] == [home, home]
    assert not any(str(REPO) in s for s in saves)


# --- the restore prompt's time ------------------------------------------------------------------------------


def test_the_restore_time_is_local_and_human():
    now = datetime.now().astimezone()
    earlier = (now - timedelta(minutes=5)).replace(second=0, microsecond=0)
    utc = earlier.astimezone(timezone.utc).isoformat(timespec="seconds")
    clock = QLocale().toString(QTime(earlier.hour, earlier.minute), QLocale.FormatType.ShortFormat)
    if earlier.date() == now.date():
        assert saved_when(utc, now) == f"today at {clock}"
    assert saved_when(utc, now + timedelta(days=1)) == f"yesterday at {clock}"
    older = saved_when(utc, now + timedelta(days=9))
    assert older.startswith("on ") and older.endswith(f"at {clock}") and "T" not in older and "+00" not in older
    assert saved_when("not a time") == "at an unknown time"


# --- copy and select all --------------------------------------------------------------------------------------


def test_copy_on_the_page_copies_the_selected_result(studio, tmp_path):
    assert studio.documents.open_path(str(make_png(tmp_path / "page.png")))
    region = studio.regions.add_region(0, (10, 10, 200, 100), run=False)
    region.state, region.text, region.result = DONE, "copied words", {"task": "text", "text": "copied words"}
    studio.regions.sync_views()
    studio.regions.select_region(region.id)
    studio.window.page_view.setFocus()
    QTest.keyClick(studio.window.page_view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.clipboard().text() == "copied words"
    assert "copied" in studio.window.statusBar().currentMessage()


def test_select_all_and_copy_in_a_read_only_view_act_on_its_text(studio, tmp_path, qtbot):
    assert studio.documents.open_path(str(make_png(tmp_path / "page.png")))
    region = studio.regions.add_region(0, (10, 10, 200, 100), run=False)
    view = studio.results.card(region.id).stream_view
    view.setPlainText("some streamed text")
    view.setFocus()
    qtbot.waitUntil(view.hasFocus)
    studio.actions["select_all"].trigger()  # from the menu: the focus stays in the view
    assert view.textCursor().selectedText() == "some streamed text"
    studio.actions["copy"].trigger()
    assert QApplication.clipboard().text() == "some streamed text"
