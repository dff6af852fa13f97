"""Several documents open at once, as tabs: opening another file, a session, a paste or the sample page adds a
document instead of discarding the one on screen; switching never loses anything; closing a document with unsaved
work asks; session files, the autosave and the last session hold every open document (older one-document session
files still load)."""

import json

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor, QImage
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QFileDialog, QPlainTextEdit, QTabBar, QTextEdit

from app.document.model import DONE
from app.document.session_file import SESSION_FORMAT, last_session_path, load_session
from app.window.file_actions import CANCEL, DISCARD, SAVE
from fake_engine import FakeFactory
from helpers import WAIT_MS, header_checkpoint, make_pdf, make_png


@pytest.fixture
def studio(make_studio, qtbot, tmp_path):
    header_checkpoint(tmp_path / "model")
    factory = FakeFactory(tokens=["a ", "b"])
    made = make_studio(factory, model_env="model", auto_run=False, run_pasted_images=False)
    made.factory = factory
    made.asked_to_close = []
    made.close_answer = CANCEL
    made.file_actions.ask_close = lambda opened: made.asked_to_close.append(opened.name) or made.close_answer
    qtbot.waitUntil(lambda: made.host.has_model, timeout=WAIT_MS)
    return made


def with_result(studio, text="kept", box=(10, 10, 200, 100), task="text", page=0):
    region = studio.regions.add_region(page, box, task=task, run=False)
    region.state, region.text, region.result_box = DONE, text, region.box
    region.result = {"task": task, "text": text, "parsed": None}
    studio.regions.sync_views()
    return region


def names(studio):
    return [d.name for d in studio.workspace.documents]


def click_tab(studio, index):
    tabs: QTabBar = studio.window.document_tabs
    QTest.mouseClick(tabs, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, tabs.tabRect(index).center())


def test_another_file_opens_next_to_the_first_and_a_tab_click_brings_the_first_back(studio, tmp_path):
    window = studio.window
    assert studio.documents.open_path(str(make_png(tmp_path / "first.png")))
    first = with_result(studio)
    first.edited_text = "my edit"
    assert studio.documents.open_path(str(make_pdf(tmp_path / "second.pdf", pages=2)))
    assert names(studio) == ["first.png", "second.pdf"] and window.document_tabs.count() == 2
    assert studio.workspace.session.name == "second.pdf" and studio.results.cards == {}
    assert window.thumbnails.count() == 2 and "second.pdf" in window.windowTitle()
    click_tab(studio, 0)
    session = studio.workspace.session
    assert session.name == "first.png" and session.regions == [first] and first.edited_text == "my edit"
    assert set(studio.results.cards) == {first.id} and set(window.page_view.items_by_id) == {first.id}
    assert window.thumbnails.count() == 1 and "first.png" in window.windowTitle()
    assert studio.documents.open_path(str(tmp_path / "first.png"))  # open already: shown, not opened twice
    assert len(studio.workspace.documents) == 2


def test_a_paste_and_the_sample_page_open_new_documents(studio, tmp_path):
    assert studio.documents.open_path(str(make_png(tmp_path / "first.png")))
    with_result(studio)
    image = QImage(120, 80, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    QApplication.clipboard().setImage(image)
    studio.actions["paste"].trigger()
    studio.model.manager.sample_requested.emit(str(make_png(tmp_path / "sample.png")))
    assert names(studio) == ["first.png", "Pasted image", "sample.png"]
    assert len(studio.workspace.documents[0].session.regions) == 1


def test_a_result_lands_in_its_own_document_while_another_is_on_screen(make_studio, qtbot, tmp_path):
    header_checkpoint(tmp_path / "model")
    factory = FakeFactory(tokens=["late ", "text"], pause_after=1)
    studio = make_studio(factory, model_env="model")
    qtbot.waitUntil(lambda: studio.host.has_model, timeout=WAIT_MS)
    assert studio.documents.open_path(str(make_png(tmp_path / "first.png")))
    region = studio.regions.add_region(0, (10, 10, 200, 100))
    assert factory.engine.paused.wait(10)
    assert studio.documents.open_path(str(make_png(tmp_path / "second.png")))
    factory.engine.release.set()
    qtbot.waitUntil(lambda: region.state == DONE, timeout=WAIT_MS)
    assert region.text == "late text" and studio.workspace.session.regions == [] and studio.results.cards == {}
    studio.documents.switch_to(studio.workspace.documents[0])
    assert studio.results.card(region.id).view.text() == "late text"


def test_switching_keeps_an_edit_still_in_its_typing_pause(studio, qtbot, tmp_path):
    assert studio.documents.open_path(str(make_png(tmp_path / "first.png")))
    region = with_result(studio, "x", task="formula")
    view = studio.results.card(region.id).view
    editor = next(w for kind in (QPlainTextEdit, QTextEdit) for w in view.findChildren(kind) if not w.isReadOnly())
    editor.setFocus()
    editor.moveCursor(editor.textCursor().MoveOperation.End)
    QTest.keyClicks(editor, "+1")
    assert studio.documents.open_path(str(make_png(tmp_path / "second.png")))
    assert region.edited_text == "x+1"


def test_closing_asks_only_when_work_would_be_lost(studio, tmp_path, monkeypatch):
    tabs = studio.window.document_tabs
    assert studio.documents.open_path(str(make_png(tmp_path / "empty.png")))
    assert studio.documents.open_path(str(make_png(tmp_path / "worked.png")))
    with_result(studio)
    tabs.tabButton(0, QTabBar.ButtonPosition.RightSide).click()  # nothing done on it: closes without a word
    assert names(studio) == ["worked.png"] and studio.asked_to_close == []
    studio.actions["close_document"].trigger()
    assert studio.asked_to_close == ["worked.png"] and names(studio) == ["worked.png"]  # Cancel keeps it open
    studio.close_answer = SAVE
    target = tmp_path / "kept.glmocr-session"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(target), "")))
    studio.actions["close_document"].trigger()
    assert names(studio) == [] and load_session(target).document.regions[0].text == "kept"
    assert studio.window.center.currentWidget() is studio.window.empty_state
    assert not studio.actions["close_document"].isEnabled() and not studio.actions["next_page"].isEnabled()


def test_close_without_saving_closes(studio, tmp_path):
    assert studio.documents.open_path(str(make_png(tmp_path / "worked.png")))
    with_result(studio)
    studio.close_answer = DISCARD
    studio.actions["close_document"].trigger()
    assert names(studio) == [] and studio.asked_to_close == ["worked.png"]


def test_a_session_file_holds_every_open_document_and_opens_them_all(studio, tmp_path, monkeypatch):
    assert studio.documents.open_path(str(make_png(tmp_path / "first.png")))
    with_result(studio, "one")
    assert studio.documents.open_path(str(make_pdf(tmp_path / "second.pdf", pages=3)))
    with_result(studio, "two", page=2)
    target = tmp_path / "both.glmocr-session"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(target), "")))
    assert studio.file_actions.save_session()
    loaded = load_session(target)
    assert [e.document.name for e in loaded.entries] == ["first.png", "second.pdf"] and loaded.current == 1
    assert loaded.entries[1].ui_state == {"page": 2}
    for opened in list(studio.workspace.documents):
        studio.file_actions.close_document(opened)  # saved: no question
    assert studio.asked_to_close == []
    assert studio.file_actions.open_session_file(str(target))
    assert names(studio) == ["first.png", "second.pdf"] and studio.workspace.session.name == "second.pdf"
    assert studio.documents.current_page() == 2
    assert [d.session.regions[0].text for d in studio.workspace.documents] == ["one", "two"]


def test_a_session_opens_next_to_the_documents_already_open(studio, tmp_path):
    assert studio.documents.open_path(str(make_png(tmp_path / "first.png")))
    with_result(studio, "one")
    session = tmp_path / "one.glmocr-session"
    studio.file_actions._save_session_to(str(session))
    assert studio.documents.open_path(str(make_png(tmp_path / "other.png")))
    studio.file_actions.close_document(studio.workspace.documents[0])
    assert studio.file_actions.open_session_file(str(session))
    assert names(studio) == ["other.png", "first.png"]


def test_a_single_document_session_file_of_an_older_version_still_opens(studio, tmp_path):
    image = make_png(tmp_path / "old.png")
    region = {"page": 0, "box": [5, 5, 100, 60], "task": "formula", "id": "r1", "state": "done", "text": "x^2",
              "result": {"task": "formula", "text": "x^2", "parsed": "x^2"}, "edited_text": "x^3"}
    old = {"format": SESSION_FORMAT, "version": 1, "saved_at": "2026-01-05T10:00:00+00:00",
           "document": {"path": str(image), "name": "old.png", "kind": "image", "regions": [region]},
           "ui": {"page": 0}}
    path = tmp_path / "old.glmocr-session"
    path.write_text(json.dumps(old))
    assert studio.file_actions.open_session_file(str(path))
    (restored,) = studio.workspace.session.regions
    assert (restored.id, restored.edited_text, restored.result_box) == ("r1", "x^3", None)


def test_autosave_and_restore_hold_every_document(studio, tmp_path, qtbot, data_dir):
    assert studio.documents.open_path(str(make_png(tmp_path / "first.png")))
    with_result(studio, "one")
    assert studio.documents.open_path(str(make_png(tmp_path / "second.png")))
    with_result(studio, "two")
    autosave = studio.file_actions.autosaver.save_now()
    saved = json.loads(autosave.read_text())
    assert [d["document"]["name"] for d in saved["documents"]] == ["first.png", "second.png"]
    dead = data_dir / "autosave" / "999-dead.json"
    dead.write_bytes(autosave.read_bytes())  # as a crashed app leaves it: no live lock next to it
    for opened in list(studio.workspace.documents):
        studio.workspace.close_document(opened)
    studio.file_actions.offer_restore()
    box = studio.file_actions.restore_box
    qtbot.waitUntil(box.isVisible)
    assert "“second.png” and 1 other document" in box.text() and "today at" in box.text()
    next(b for b in box.buttons() if b.text() == "Restore").click()
    qtbot.waitUntil(lambda: len(studio.workspace.documents) == 2, timeout=WAIT_MS)
    assert [d.session.regions[0].text for d in studio.workspace.documents] == ["one", "two"]
    assert all(d.unsaved for d in studio.workspace.documents)  # restored work is in no session file yet


def test_reopen_last_session_brings_back_every_document_open_at_exit(studio, tmp_path):
    assert studio.documents.open_path(str(make_png(tmp_path / "first.png")))
    with_result(studio, "one")
    assert studio.documents.open_path(str(make_png(tmp_path / "plain.png")))  # no regions: still part of it
    studio.file_actions.finish()
    assert [e.document.name for e in load_session(last_session_path()).entries] == ["first.png", "plain.png"]
    for opened in list(studio.workspace.documents):
        studio.workspace.close_document(opened)
    studio.actions["reopen_last"].trigger()
    assert names(studio) == ["first.png", "plain.png"]
    assert studio.workspace.documents[0].session.regions[0].text == "one"


def test_ctrl_tab_goes_to_the_next_document(studio, tmp_path):
    for name in ("a.png", "b.png", "c.png"):
        assert studio.documents.open_path(str(make_png(tmp_path / name)))
    studio.window.page_view.setFocus()
    QTest.keyClick(studio.window.page_view, Qt.Key.Key_Tab, Qt.KeyboardModifier.ControlModifier)
    assert studio.workspace.session.name == "a.png"
    tabs = studio.window.document_tabs
    assert tabs.currentIndex() == 0 and tabs.tabText(0) == "a.png"
    QTest.mouseMove(tabs, QPoint(1, 1))


def test_the_open_dialog_opens_several_files_at_once(studio, tmp_path, monkeypatch):
    chosen = [str(make_png(tmp_path / "one.png")), str(make_pdf(tmp_path / "two.pdf", pages=2))]
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", staticmethod(lambda *a, **k: (chosen, "")))
    studio.actions["open"].trigger()
    assert names(studio) == ["one.png", "two.pdf"] and studio.workspace.session.name == "one.png"
