"""Keys that do what they say: a digit typed into a result is a digit, never a task change or a re-run of the region.

The task keys 1-4, Delete and Esc are single keys, so they work on the page view and the region list only; in a
table cell, a text field or a read-only result view the keys are typing. Real key and mouse events throughout.
"""

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QPlainTextEdit, QTextEdit

from app.document.model import DONE
from fake_engine import FakeFactory
from helpers import WAIT_MS, header_checkpoint, make_png

TABLE = "<table><tr><td>a</td><td>b</td></tr><tr><td>c</td><td>d</td></tr></table>"


@pytest.fixture
def studio(make_studio, qtbot, tmp_path):
    header_checkpoint(tmp_path / "model")
    factory = FakeFactory()
    made = make_studio(factory, model_env="model", auto_run=False)
    made.factory = factory
    made.window.activateWindow()
    qtbot.waitUntil(lambda: made.host.has_model, timeout=WAIT_MS)
    assert made.documents.open_path(str(make_png(tmp_path / "page.png")))
    return made


def finished(studio, task, text, box=(10, 10, 300, 200)):
    region = studio.regions.add_region(0, box, task=task, run=False)
    region.state, region.text = DONE, text
    region.result = {"task": task, "text": text, "parsed": None}
    studio.regions.sync_views()
    studio.regions.select_region(region.id)
    return region


def engine_runs(studio) -> int:
    engine = studio.factory.engine
    return len(engine.calls) + len(engine.batch_calls)


def type_keys(text: str) -> None:
    """Each key to whatever has the focus now, as a keyboard would send it."""
    for char in text:
        QTest.keyClicks(QApplication.focusWidget(), char)


def focus(qtbot, widget) -> None:
    widget.setFocus(Qt.FocusReason.MouseFocusReason)
    qtbot.waitUntil(widget.hasFocus, timeout=WAIT_MS)


def test_typing_a_number_into_a_table_cell_edits_the_cell_and_never_reruns(studio, qtbot):
    region = finished(studio, "table", TABLE)
    table = studio.results.card(region.id).view.table
    cell = table.model().index(0, 0)
    table.scrollTo(cell)
    QTest.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     table.visualRect(cell).center())
    focus(qtbot, table)
    type_keys("1.09")
    QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "1.09" in (region.edited_text or ""), timeout=WAIT_MS)
    assert table.model().index(0, 0).data() == "1.09"
    assert region.task == "table" and studio.regions.default_task() == "table"
    assert engine_runs(studio) == 0 and region.state == DONE


def test_digits_and_delete_in_a_read_only_view_do_nothing_to_the_region(studio, qtbot):
    region = studio.regions.add_region(0, (10, 10, 300, 200), task="table", run=False)  # not run: its text box shows
    view = studio.results.card(region.id).stream_view
    assert isinstance(view, QTextEdit) and view.isReadOnly()
    focus(qtbot, view)
    type_keys("1234")
    QTest.keyClick(view, Qt.Key.Key_Delete)
    QTest.keyClick(view, Qt.Key.Key_Escape)
    assert region.task == "table" and studio.workspace.session.regions == [region]
    assert engine_runs(studio) == 0


def test_typing_into_the_latex_editor_is_text(studio, qtbot):
    region = finished(studio, "formula", "x^2")
    view = studio.results.card(region.id).view
    editor = next(w for kind in (QPlainTextEdit, QTextEdit) for w in view.findChildren(kind) if not w.isReadOnly())
    focus(qtbot, editor)
    editor.moveCursor(editor.textCursor().MoveOperation.End)
    type_keys("+12")
    assert editor.toPlainText().endswith("+12")
    assert region.task == "formula" and engine_runs(studio) == 0


def test_the_same_keys_on_the_page_view_and_the_region_list_still_work(studio, qtbot):
    region = finished(studio, "table", TABLE)
    focus(qtbot, studio.window.region_list)
    QTest.keyClick(studio.window.region_list, Qt.Key.Key_1)
    assert region.task == "text"  # a task change on a finished region runs it again: asked for, so it may
    focus(qtbot, studio.window.page_view)
    QTest.keyClick(studio.window.page_view, Qt.Key.Key_Delete)
    assert studio.workspace.session.regions == []


def test_every_single_key_shortcut_is_bound_to_the_page_and_lists_only(studio):
    plain = {Qt.KeyboardModifier.NoModifier, Qt.KeyboardModifier.ShiftModifier, Qt.KeyboardModifier.KeypadModifier}
    window = studio.window
    single = [key for key, action in studio.actions.items() if action.shortcuts()
              and all(s.count() == 1 and s[0].keyboardModifiers() in plain for s in action.shortcuts())]
    assert {"task_text", "task_formula", "task_table", "task_extract", "delete", "cancel", "prev_page",
            "next_page"} <= set(single)
    for key in single:
        action = studio.actions[key]
        assert action.shortcutContext() == Qt.ShortcutContext.WidgetWithChildrenShortcut, key
        assert action not in window.actions(), key
        assert all(action in widget.actions() for widget in (window.page_view, window.region_list)), key
    for key in ("undo", "copy", "open", "whole_page"):  # keys with Ctrl work in the whole window
        assert studio.actions[key] in window.actions(), key
    assert QKeySequence(QKeySequence.StandardKey.Undo) in studio.actions["undo"].shortcuts()
