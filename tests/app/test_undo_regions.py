"""Nothing the user did not ask for replaces a result, and everything they did can be undone.

Moving or resizing a region keeps its result (the card says it is the old box's and offers a re-run, which asks first
when the result was edited); drawing, moving, deleting, a new task, a re-run and an edit of a result are undo steps of
their document, under Edit ▸ Undo / Redo and the standard keys. Real mouse and key events where the user's hand is.
"""

import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMessageBox

from app.document.model import DONE
from app.window.card_notes import outdated_note
from fake_engine import FakeFactory
from helpers import WAIT_MS, drag_on_page, header_checkpoint, make_png, viewport_point

TABLE = "<table><tr><td>80 s</td><td>of work</td></tr></table>"


@pytest.fixture
def studio(make_studio, qtbot, tmp_path):
    header_checkpoint(tmp_path / "model")
    factory = FakeFactory(tokens=["new ", "result"])
    made = make_studio(factory, model_env="model")
    made.factory = factory
    made.window.activateWindow()
    qtbot.waitUntil(lambda: made.host.has_model, timeout=WAIT_MS)
    assert made.documents.open_path(str(make_png(tmp_path / "page.png", size=(600, 400))))
    return made


def runs(studio) -> int:
    return len(studio.factory.engine.calls) + len(studio.factory.engine.batch_calls)


def finished_table(studio, box=(50, 50, 250, 150)):
    region = studio.regions.add_region(0, box, task="table", run=False)
    region.state, region.text, region.result_box = DONE, TABLE, region.box
    region.result = {"task": "table", "text": TABLE, "parsed": None}
    studio.regions.sync_views()
    studio.regions.select_region(region.id)
    return region


def drag(window, start, end) -> None:
    viewport = window.page_view.viewport()
    a, b = viewport_point(window, *start), viewport_point(window, *end)
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, a)
    for step in (0.25, 0.5, 0.75, 1.0):
        QTest.mouseMove(viewport, (a + (b - a) * step).toPoint() if isinstance(a, QPointF) else a + (b - a) * step)
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, b)


def press(studio, key, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    studio.window.page_view.setFocus()
    QTest.keyClick(studio.window.page_view, key, modifiers)


def undo(studio) -> None:
    press(studio, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)


def redo(studio) -> None:
    press(studio, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)


def answer(monkeypatch, yes: bool) -> list:
    asked = []
    button = QMessageBox.StandardButton.Yes if yes else QMessageBox.StandardButton.No
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: asked.append(a[2]) or button))
    return asked


# --- moving keeps the result ----------------------------------------------------------------------------------


def test_moving_a_region_with_the_mouse_keeps_its_result_and_marks_it_as_the_old_box(studio, qtbot):
    region = finished_table(studio)
    drag(studio.window, (150, 100), (350, 250))  # grab the middle, drop it lower right
    assert region.box[0] > 200 and region.box[1] > 150
    qtbot.wait(100)
    assert runs(studio) == 0 and region.state == DONE and region.text == TABLE
    card = studio.results.card(region.id)
    note = outdated_note(card)
    assert note is not None and note.isVisibleTo(card) and "old box" in note.label.text()
    assert "old box" in studio.window.statusBar().currentMessage()
    note.button.click()  # the offered re-run
    qtbot.waitUntil(lambda: region.state == DONE and region.text == "new result", timeout=WAIT_MS)
    assert runs(studio) == 1 and outdated_note(card) is None


def test_resizing_an_edited_region_offers_a_rerun_that_asks_first(studio, qtbot, monkeypatch):
    region = finished_table(studio)
    region.edited_text = "<table><tr><td>mine</td></tr></table>"
    corner, target = (250, 150), (320, 220)
    drag(studio.window, corner, target)
    assert abs(region.box[2] - 320) <= 3 and runs(studio) == 0
    asked = answer(monkeypatch, yes=False)
    outdated_note(studio.results.card(region.id)).button.click()
    assert len(asked) == 1 and "edits" in asked[0]
    assert region.edited_text and runs(studio) == 0
    answer(monkeypatch, yes=True)
    studio.results.card(region.id).rerun_button.click()
    qtbot.waitUntil(lambda: region.text == "new result", timeout=WAIT_MS)
    assert region.edited_text is None


# --- undo and redo --------------------------------------------------------------------------------------------


def test_drawing_is_undone_and_redone_with_the_standard_keys(studio, qtbot):
    drag_on_page(studio.window, (20, 20), (200, 120))
    (region,) = studio.workspace.session.regions
    qtbot.waitUntil(lambda: region.state == DONE, timeout=WAIT_MS)
    assert studio.actions["undo"].isEnabled() and studio.actions["undo"].text().startswith("&Undo Draw")
    undo(studio)
    assert studio.workspace.session.regions == [] and studio.results.cards == {}
    assert studio.window.page_view.items_by_id == {}
    redo(studio)
    (back,) = studio.workspace.session.regions
    assert back.id == region.id and back.text == region.text and studio.results.card(back.id) is not None
    assert runs(studio) == 1  # it came back with its result: nothing ran again


def test_delete_says_undo_brings_it_back_and_it_does_with_results_and_edits(studio):
    region = finished_table(studio)
    region.edited_text = "<table><tr><td>mine</td></tr></table>"
    press(studio, Qt.Key.Key_Delete)
    assert studio.workspace.session.regions == []
    message = studio.window.statusBar().currentMessage()
    assert "Deleted" in message and "Ctrl+Z" in message
    undo(studio)
    (back,) = studio.workspace.session.regions
    assert (back.id, back.box, back.text, back.edited_text) == (region.id, region.box, TABLE, region.edited_text)
    assert studio.results.card(back.id).view.text().count("mine") == 1


def test_a_move_is_undone(studio):
    region = finished_table(studio)
    before = region.box
    drag(studio.window, (150, 100), (350, 250))
    assert region.box != before and studio.actions["undo"].text() == "&Undo Move Region #1"
    studio.actions["undo"].trigger()  # Edit > Undo, as from the menu
    assert region.box == before and outdated_note(studio.results.card(region.id)) is None
    studio.actions["redo"].trigger()
    assert region.box != before and outdated_note(studio.results.card(region.id)) is not None


def test_a_task_key_on_a_finished_table_is_undone_with_its_result(studio, qtbot):
    region = finished_table(studio)
    press(studio, Qt.Key.Key_1)  # Text: asked for, so the region runs again as Text
    qtbot.waitUntil(lambda: region.state == DONE and region.task == "text", timeout=WAIT_MS)
    assert region.text == "new result"
    undo(studio)
    assert (region.task, region.state, region.text) == ("table", DONE, TABLE)  # the table result is back
    assert studio.results.card(region.id).view.text().count("80 s") == 1
    redo(studio)
    assert (region.task, region.text) == ("text", "new result") and runs(studio) == 1


def test_an_edit_of_a_result_is_one_undo_step(studio, qtbot):
    region = finished_table(studio)
    view = studio.results.card(region.id).view
    view.editor.set_cell(0, 0, "fixed")
    assert "fixed" in region.edited_text
    undo(studio)
    assert region.edited_text is None
    assert studio.results.card(region.id).view.text().count("80 s") == 1  # the view shows the result again
    redo(studio)
    assert "fixed" in region.edited_text and "fixed" in studio.results.card(region.id).view.text()


def test_each_document_has_its_own_history(studio, tmp_path):
    first = finished_table(studio)
    press(studio, Qt.Key.Key_Delete)
    assert studio.documents.open_path(str(make_png(tmp_path / "other.png")))
    assert not studio.actions["undo"].isEnabled()  # nothing done on this one yet
    studio.regions.add_region(0, (10, 10, 100, 100), run=False)
    undo(studio)
    assert studio.workspace.session.regions == []
    studio.documents.switch_to(studio.workspace.documents[0])
    assert studio.actions["undo"].text() == "&Undo Delete Region #1"
    undo(studio)
    assert [r.id for r in studio.workspace.session.regions] == [first.id]


def test_the_region_list_says_when_a_result_is_the_old_boxs(studio):
    region = finished_table(studio)
    drag(studio.window, (150, 100), (350, 250))
    assert studio.window.region_list.state_of(region.id) == "✓ Done · old box"
    undo(studio)
    assert studio.window.region_list.state_of(region.id) == "✓ Done"


def test_a_task_key_on_an_edited_result_asks_and_no_changes_nothing(studio, monkeypatch):
    region = finished_table(studio)
    region.edited_text = "<table><tr><td>mine</td></tr></table>"
    asked = answer(monkeypatch, yes=False)
    press(studio, Qt.Key.Key_2)
    assert len(asked) == 1 and "edits" in asked[0]
    assert (region.task, region.edited_text) == ("table", "<table><tr><td>mine</td></tr></table>")
    assert studio.regions.default_task() == "table" and studio.actions["task_table"].isChecked()
    assert runs(studio) == 0 and not studio.actions["undo"].text().startswith("&Undo Region")
