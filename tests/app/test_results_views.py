"""Result views in real widgets (offscreen), KaTeX in real QtWebEngine: formula, text, table, extract, copy-as."""

import json

import pytest
from PySide6.QtCore import QItemSelection, QItemSelectionModel, Qt
from PySide6.QtGui import QGuiApplication

from app.document.model import DONE, Region
from app.resources_setup import katex_available
from app.results import make_result_view
from app.results.web import blocked_requests

needs_katex = pytest.mark.skipif(not katex_available(), reason="run `python -m app.resources_setup` first")
SPANNED = ("<table><tr><th colspan=2>Head</th><th>n</th></tr>"
           "<tr><td rowspan=2>A</td><td>b</td><td>1</td></tr><tr><td>c</td><td>2</td></tr></table>")


@pytest.fixture(autouse=True)
def _empty_clipboard_after(qapp):
    yield
    QGuiApplication.clipboard().clear()  # mime data left on the offscreen clipboard crashes Qt at exit


def region(task, text, parsed=None, **extra):
    result = {"task": task, "text": text, "parsed": parsed, "parse_error": None}
    return Region(page=0, box=(0, 0, 10, 10), task=task, state=DONE, text=text, result=result, **extra)


def run_js(qtbot, view, script):
    box = []
    view.page().runJavaScript(script, 0, box.append)
    qtbot.waitUntil(lambda: bool(box), timeout=10_000)
    return box[0]


def show(qtbot, widget):
    qtbot.addWidget(widget)
    widget.resize(520, 360)
    widget.show()
    return widget


@needs_katex
def test_formula_renders_with_katex_and_shows_parse_errors_inline(qtbot):
    view = make_result_view(region("formula", "$$\\frac{a}{b}$$", "\\frac{a}{b}"))
    with qtbot.waitSignal(view.preview.rendered, timeout=15_000) as rendered:
        show(qtbot, view)
    assert rendered.args == [1]
    assert run_js(qtbot, view.preview, "document.querySelectorAll('.katex-display .katex .mfrac').length") == 1
    with qtbot.waitSignal(view.preview.rendered, timeout=5_000) as rendered:
        view.set_latex("\\frac{1}{")
    assert rendered.args == [0]
    message = run_js(qtbot, view.preview, "document.querySelector('.render-error').textContent")
    assert "KaTeX parse error" in message and "expected '}'" in message
    assert "\\frac{1}{" in run_js(qtbot, view.preview, "document.querySelector('.katex-error').textContent")
    assert view.region.edited_text == "\\frac{1}{"
    assert blocked_requests() == []


@needs_katex
def test_text_view_renders_markdown_with_inline_and_display_math(qtbot):
    text = "# Result\n\nInline $a_1^2$ and \\(b\\), price $5.\n\n$$\\sum_{i=1}^n i$$\n\n| x | y |\n|---|---|\n| 1 | 2 |"
    view = make_result_view(region("text", text))
    with qtbot.waitSignal(view.preview.rendered, timeout=15_000) as rendered:
        show(qtbot, view)
    assert rendered.args == [3]
    assert run_js(qtbot, view.preview, "document.querySelectorAll('.katex-display').length") == 1
    assert run_js(qtbot, view.preview, "document.querySelectorAll('td').length") == 2
    assert "price $5." in run_js(qtbot, view.preview, "document.body.innerText")
    with qtbot.waitSignal(view.edited, timeout=5_000):
        view.source.setPlainText("Only $x$ now")
    assert view.region.edited_text == "Only $x$ now"
    qtbot.waitUntil(lambda: run_js(qtbot, view.preview, "document.querySelectorAll('.katex').length") == 1)


def test_missing_katex_files_show_source_with_a_notice(qtbot, tmp_path, monkeypatch):
    from app.resources_setup import web_dir

    web = tmp_path / "web"
    web.mkdir()
    for name in ("results.html", "results.css", "results.js"):
        (web / name).write_bytes((web_dir() / name).read_bytes())
    monkeypatch.setenv("GLMOCR_RESOURCES_DIR", str(tmp_path))
    view = make_result_view(region("formula", "x^2", "x^2"))
    with qtbot.waitSignal(view.preview.rendered, timeout=15_000):
        show(qtbot, view)
    shown = run_js(qtbot, view.preview, "document.body.innerText")
    assert "x^2" in shown and "unavailable" in shown


def test_without_webengine_formula_source_stays_editable(qtbot, monkeypatch):
    import app.results.formula_view as formula_view

    monkeypatch.setattr(formula_view, "make_katex_view", lambda parent=None: None)
    view = show(qtbot, make_result_view(region("formula", "x", "x")))
    assert view.preview is None and not view.source.isReadOnly()
    assert "QtWebEngine" in view.notice.text() and view.notice.isVisibleTo(view)
    with qtbot.waitSignal(view.edited, timeout=5_000):
        view.set_latex("y")
    assert view.region.edited_text == "y"


def test_table_edit_undo_redo_and_spans(qtbot):
    reg = region("table", SPANNED)
    view = show(qtbot, make_result_view(reg))
    model, table = view.editor.model, view.table
    assert (table.rowSpan(1, 0), table.columnSpan(0, 0)) == (2, 2)
    with qtbot.waitSignal(view.edited):
        model.setData(model.index(1, 1), "bee")
    assert model.data(model.index(1, 1)) == "bee" and "bee" in reg.edited_text
    table.setCurrentIndex(model.index(2, 1))
    view.insert_row_below()
    assert model.rowCount() == 4 and table.rowSpan(1, 0) == 2
    view.insert_col_right()
    assert model.columnCount() == 4
    view.undo_action.trigger()
    view.undo_action.trigger()
    assert (model.rowCount(), model.columnCount()) == (3, 3)
    view.undo_action.trigger()
    assert model.data(model.index(1, 1)) == "b" and "bee" not in reg.edited_text
    view.redo_action.trigger()
    assert model.data(model.index(1, 1)) == "bee"
    assert view.editor.undo_stack.count() == 3


def test_table_undo_shortcut_inside_the_card(qtbot):
    view = show(qtbot, make_result_view(region("table", SPANNED)))
    view.editor.set_cell(0, 2, "N")
    view.table.setFocus()
    qtbot.waitUntil(view.table.hasFocus)
    qtbot.keyClick(view.table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert view.editor.grid.to_matrix()[0][2] == "n"
    qtbot.keyClick(view.table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert view.editor.grid.to_matrix()[0][2] == "N"


def test_table_copy_selection_and_paste_tsv(qtbot):
    view = show(qtbot, make_result_view(region("table", SPANNED)))
    model = view.editor.model
    view.table.selectionModel().select(QItemSelection(model.index(1, 1), model.index(2, 2)),
                                       QItemSelectionModel.SelectionFlag.Select)
    view.copy_selection()
    mime = QGuiApplication.clipboard().mimeData()
    assert mime.text() == "b\t1\nc\t2\n" and "<td>c</td>" in mime.html()
    QGuiApplication.clipboard().setText("p\tq\tr\ns\tt\tu\n")
    view.table.setCurrentIndex(model.index(2, 1))
    view.paste_clipboard()
    assert model.rowCount() == 4 and model.columnCount() == 4
    assert view.editor.grid.to_matrix()[3] == ["", "s", "t", "u"]
    view.undo_action.trigger()
    assert (model.rowCount(), model.columnCount()) == (3, 3)


def test_unreadable_table_shows_raw_text(qtbot):
    view = show(qtbot, make_result_view(region("table", "no table here")))
    assert view.editor is None
    assert view.raw.toPlainText() == "no table here" and not view.raw.isReadOnly()


def test_extract_tree_edits_keep_json_types(qtbot):
    data = {"name": "Ada", "total": 12, "paid": False, "items": [{"sku": "A1", "qty": 2}]}
    reg = region("extract", json.dumps(data), data)
    view = show(qtbot, make_result_view(reg))
    tree = view.tree
    assert tree.data() == data
    total = tree.topLevelItem(1)
    with qtbot.waitSignal(view.edited):
        total.setText(1, "12.5")
    tree.topLevelItem(0).setText(1, "42")  # a string stays a string even when it looks like a number
    qty = tree.topLevelItem(3).child(0).child(1)
    qty.setText(1, "three")  # a number that no longer parses becomes text, nothing is refused
    edited = json.loads(reg.edited_text)
    assert edited == {"name": "42", "total": 12.5, "paid": False, "items": [{"sku": "A1", "qty": "three"}]}
    assert json.loads(view.raw.toPlainText()) == edited  # the text tab follows the tree


def test_extract_parse_error_shows_message_and_raw_text(qtbot):
    view = show(qtbot, make_result_view(region("extract", '{"a": 1,')))
    assert view.error_label.isVisible() and "The output is not valid JSON" in view.error_label.text()
    assert view.tabs.currentWidget() is view.raw and view.raw.toPlainText() == '{"a": 1,'


@pytest.mark.parametrize("task,text,parsed,key,expected_plain,has_html", [
    ("formula", "$$x^2$$", "x^2", "latex_inline", "$x^2$", False),
    ("formula", "$$x^2$$", "x^2", "latex_display", "$$\nx^2\n$$", False),
    ("text", "Some **bold** $a$", None, "plain", "Some bold $a$", False),
    ("text", "Some **bold** $a$", None, "markdown", "Some **bold** $a$", False),
    ("table", "<table><tr><td>a</td><td>b, c</td></tr></table>", None, "tsv", "a\tb, c\n", True),
    ("table", "<table><tr><td>a</td><td>b, c</td></tr></table>", None, "csv", 'a,"b, c"\r\n', False),
    ("table", SPANNED, None, "markdown", "<table>", False),
    ("extract", '{"k": "v"}', {"k": "v"}, "plain", '{\n  "k": "v"\n}', False),
])
def test_copy_as_puts_the_format_on_the_clipboard(qtbot, task, text, parsed, key, expected_plain, has_html):
    from app.results.copy_menu import CopyAsButton

    button = CopyAsButton(region(task, text, parsed))
    qtbot.addWidget(button)
    button.copy_key(key)
    mime = QGuiApplication.clipboard().mimeData()
    assert mime.text().startswith(expected_plain)
    assert len(mime.text()) == len(expected_plain) or (task, key) == ("table", "markdown")
    assert mime.hasHtml() == has_html


def test_copy_menu_lists_every_format_and_follows_edits(qtbot):
    from app.results.copy_menu import CopyAsButton

    reg = region("formula", "$$x$$", "x")
    button = CopyAsButton(reg)
    qtbot.addWidget(button)
    button.menu().aboutToShow.emit()
    labels = [a.text() for a in button.menu().actions()]
    assert len(labels) == 4 and any("$$" in label for label in labels)
    reg.edited_text = "y"
    button.copy_default()
    assert QGuiApplication.clipboard().text() == "y"


def test_a_page_answer_after_its_view_was_deleted_is_dropped(qtbot):
    """Chromium may answer a render or a height query while the card holding the view is being deleted; the
    answer then finds a Python wrapper without its C++ view and must not raise in Qt's event loop."""
    import shiboken6

    from app.results.web import make_katex_view

    view = make_katex_view()
    if view is None:
        pytest.skip("QtWebEngine is not available here")
    shiboken6.delete(view)
    view._after_render(3)
    view._fit_height(120)
