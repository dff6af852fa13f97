"""Extract without a template asks for one instead of failing; built-in templates; raw text that can be fixed by
hand; one Ctrl+Z undoes one typing step in the LaTeX editor (issue 13, point 8). Real key and mouse events."""

import json

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from app.document import templates
from app.document.model import DONE, FAILED, QUEUED, Region
from app.results import make_result_view
from app.results.cards import ResultsPanel
from app.results.extract_view import RAW_TAB, TREE_TAB, TemplatePrompt

BUILT_IN = ["Business card", "ID card", "Invoice", "Receipt"]


def region(task, text="", parsed=None, state=DONE, **extra):
    result = {"task": task, "text": text, "parsed": parsed, "parse_error": None, "stop_reason": "eos"}
    return Region(page=0, box=(0, 0, 10, 10), task=task, state=state, text=text,
                  result=result if state == DONE else None, **extra)


def show(qtbot, widget, width=420, height=400):
    qtbot.addWidget(widget)
    widget.resize(width, height)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def panel_with(qtbot, *regions) -> ResultsPanel:
    panel = show(qtbot, ResultsPanel(), height=600)
    panel.sync(list(regions))
    return panel


def type_into(editor, text: str) -> None:
    editor.setFocus()
    cursor = editor.textCursor()
    cursor.movePosition(cursor.MoveOperation.End)
    editor.setTextCursor(cursor)
    QTest.keyClicks(editor, text)


# --- templates -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("state,error", [(QUEUED, None), (FAILED, "the extract task needs a JSON template (schema)")])
def test_extract_without_a_template_asks_for_one_instead_of_failing(qtbot, state, error):
    reg = region("extract", state=state, error=error)
    panel = panel_with(qtbot, reg)
    card = panel.card(reg.id)
    prompt = card.template_prompt
    assert isinstance(prompt, TemplatePrompt) and prompt.isVisibleTo(card)
    assert not card.message.isVisibleTo(card)  # no red error
    assert card.state_label.full_text() == "Needs a template"
    assert [prompt.button(name) is not None for name in BUILT_IN] == [True] * 4
    with qtbot.waitSignal(panel.template_chosen) as chosen:
        QTest.mouseClick(prompt.button("Invoice"), Qt.MouseButton.LeftButton)
    assert chosen.args[0] == reg.id
    assert json.loads(chosen.args[1]) == json.loads(templates.load_builtin_template("Invoice"))


def test_the_prompt_lets_the_user_write_a_template_and_lists_saved_ones(qtbot, monkeypatch):
    from app.results import extract_view

    templates.save_template("Delivery note", '{"number": ""}')
    reg = region("extract", state=QUEUED)
    panel = panel_with(qtbot, reg)
    prompt = panel.card(reg.id).template_prompt
    saved = prompt.button("Saved ▾")
    assert [a.text() for a in saved.menu().actions()] == ["Delivery note"]
    with qtbot.waitSignal(panel.template_chosen) as chosen:
        saved.menu().actions()[0].trigger()
    assert json.loads(chosen.args[1]) == {"number": ""}
    monkeypatch.setattr(extract_view.QInputDialog, "getMultiLineText",
                        staticmethod(lambda *args: ('{"plate": ""}', True)))
    with qtbot.waitSignal(panel.template_chosen) as chosen:
        QTest.mouseClick(prompt.button("Write one…"), Qt.MouseButton.LeftButton)
    assert chosen.args == [reg.id, '{"plate": ""}']


def test_once_a_template_is_set_the_prompt_gives_way(qtbot):
    reg = region("extract", state=QUEUED)
    panel = panel_with(qtbot, reg)
    card = panel.card(reg.id)
    reg.schema = '{"total": ""}'
    panel.sync([reg])
    assert card.template_prompt is None and card.stream_view.isVisibleTo(card)


def test_the_template_menu_lists_built_in_and_saved_templates(qtbot):
    templates.save_template("Mine", '{"a": ""}')
    reg = region("extract", '{"a": 1}', {"a": 1}, schema='{"a": ""}')
    panel = panel_with(qtbot, reg)
    button = panel.card(reg.id).template_button
    button.menu().aboutToShow.emit()
    names = [a.text() for a in button.menu().actions() if not a.isSeparator()]
    assert names[:1] == ["Edit template…"] and set(BUILT_IN + ["Mine"]) <= set(names)
    receipt = next(a for a in button.menu().actions() if a.text() == "Receipt")
    with qtbot.waitSignal(panel.rerun_requested):
        receipt.trigger()
    assert json.loads(reg.schema) == json.loads(templates.load_builtin_template("Receipt"))


# --- raw text fixed by hand ------------------------------------------------------------------------------------


def test_invalid_json_can_be_fixed_by_hand_and_the_fields_appear(qtbot):
    reg = region("extract", '{"total": 12.5, "paid": true', schema='{"total": ""}')
    panel = panel_with(qtbot, reg)
    card = panel.card(reg.id)
    view = card.view
    assert view.tabs.currentIndex() == RAW_TAB and not view.tabs.isTabEnabled(TREE_TAB)
    with qtbot.waitSignal(panel.edited, timeout=5_000) as edited:
        type_into(view.raw, "}")
    assert edited.args == [reg.id, '{"total": 12.5, "paid": true}'] and reg.edited_text == edited.args[1]
    assert view.tabs.currentIndex() == TREE_TAB and view.tree.data() == {"total": 12.5, "paid": True}
    assert not view.error_label.isVisibleTo(view)


def test_an_unreadable_table_can_be_fixed_by_hand_and_becomes_a_grid(qtbot):
    reg = region("table", "Region | 2023\nNorth | 1,200")
    view = show(qtbot, make_result_view(reg))
    assert view.editor is None and not view.raw.isReadOnly()
    view.raw.selectAll()
    with qtbot.waitSignal(view.edited, timeout=5_000):
        QTest.keyClicks(view.raw, "<table><tr><td>Region</td><td>2023</td></tr>"
                                  "<tr><td>North</td><td>1,200</td></tr></table>")
    qtbot.waitUntil(lambda: view.editor is not None)
    assert view.editor.grid.to_matrix() == [["Region", "2023"], ["North", "1,200"]]
    assert reg.edited_text.startswith("<table>") and view.raw is None


# --- undo in steps ---------------------------------------------------------------------------------------------


def test_one_ctrl_z_in_the_latex_editor_undoes_one_typing_step(qtbot):
    reg = region("formula", "x", "x")
    view = show(qtbot, make_result_view(reg))
    editor = view.source
    type_into(editor, " + y + z")
    assert editor.toPlainText() == "x + y + z"
    QTest.keyClick(editor, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert editor.toPlainText() == "x + y + "  # only the last word, not everything since the card opened
    QTest.keyClick(editor, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert editor.toPlainText() == "x + y "
    QTest.keyClick(editor, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert editor.toPlainText() == "x + y + "


def test_a_typing_pause_ends_an_undo_step_too(qtbot):
    from app.results import widgets

    view = show(qtbot, make_result_view(region("formula", "a", "a")))
    editor = view.source
    type_into(editor, "bc")
    qtbot.wait(widgets.UNDO_PAUSE_MS + 200)
    QTest.keyClicks(editor, "de")
    QTest.keyClick(editor, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert editor.toPlainText() == "abc"


def test_undo_in_the_editor_reaches_the_region_and_the_preview(qtbot):
    reg = region("formula", "x", "x")
    view = show(qtbot, make_result_view(reg))
    with qtbot.waitSignal(view.edited, timeout=5_000):
        type_into(view.source, " + 1")
    assert reg.edited_text == "x + 1"
    with qtbot.waitSignal(view.edited, timeout=5_000):
        QTest.keyClick(view.source, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert reg.edited_text == "x + "


def test_digits_typed_into_a_table_cell_are_the_cells_not_a_window_shortcut(qtbot):
    from PySide6.QtGui import QAction, QKeySequence
    from PySide6.QtWidgets import QApplication, QVBoxLayout, QWidget

    window = QWidget()
    fired = []
    task_key = QAction("Text task", window)
    task_key.setShortcut(QKeySequence("1"))  # the window's task keys 1-4 are window-wide shortcuts
    task_key.triggered.connect(lambda: fired.append("1"))
    window.addAction(task_key)
    reg = region("table", "<table><tr><td>a</td><td>b</td></tr></table>")
    view = make_result_view(reg)
    QVBoxLayout(window).addWidget(view)
    show(qtbot, window)
    model = view.editor.model
    view.table.setCurrentIndex(model.index(0, 1))
    view.table.setFocus()
    qtbot.waitUntil(view.table.hasFocus)
    for key in "1.09":  # each key to whatever has focus, as a keyboard does: the cell editor once it opens
        QTest.keyClick(QApplication.focusWidget(), key)
    QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: model.data(model.index(0, 1)) == "1.09")
    assert fired == [] and "1.09" in reg.edited_text
