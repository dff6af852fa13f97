"""Result views as tall as their content, long strings never cut, cards that shrink with a narrow panel (issue 13,
point 6). Real widgets offscreen; the rendered pages in real QtWebEngine."""

import json

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QWidget

from app.document.model import DONE, RUNNING, Region
from app.resources_setup import katex_available
from app.results import make_result_view
from app.results.cards import ResultsPanel

needs_katex = pytest.mark.skipif(not katex_available(), reason="run `python -m app.resources_setup` first")
LONG_URL = "https://example.org/" + "averyveryverylongpathsegment" * 8
OLD_WEB_VIEW_LIMIT = 520  # the height limit views had before (their inner scrollbar started here)


def region(task, text, parsed=None, state=DONE, **extra):
    result = {"task": task, "text": text, "parsed": parsed, "parse_error": None, "stop_reason": "eos"}
    return Region(page=0, box=(0, 0, 10, 10), task=task, state=state, text=text, result=result, **extra)


def run_js(qtbot, view, script):
    """The script's value, through JSON (arrays do not cross runJavaScript as lists)."""
    box = []
    view.page().runJavaScript(f"JSON.stringify({script})", 0, box.append)
    qtbot.waitUntil(lambda: bool(box), timeout=10_000)
    return json.loads(box[0])


def show(qtbot, widget, width=420, height=400):
    qtbot.addWidget(widget)
    widget.resize(width, height)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def page_fits(qtbot, view) -> bool:
    """The web page needs no scrollbar of its own: the view is as tall and as wide as what it shows."""
    overflow = run_js(qtbot, view, "[document.documentElement.scrollHeight - window.innerHeight,"
                                   " document.documentElement.scrollWidth - window.innerWidth]")
    return overflow[0] <= 0 and overflow[1] <= 0


@needs_katex
def test_a_long_text_result_is_as_tall_as_its_page_and_long_words_wrap(qtbot):
    text = "\n\n".join([f"Paragraph {n} with $x_{n}$ and some words that fill a line." for n in range(30)]
                       + [LONG_URL])
    view = make_result_view(region("text", text))
    with qtbot.waitSignal(view.preview.rendered, timeout=15_000):
        show(qtbot, view)
    qtbot.waitUntil(lambda: view.preview.height() > OLD_WEB_VIEW_LIMIT and page_fits(qtbot, view.preview),
                    timeout=10_000)
    url_right = run_js(qtbot, view.preview, "Math.max(...[...document.querySelectorAll('p')].map("
                                            "p => p.getBoundingClientRect().right))")
    assert url_right <= view.preview.width()


@needs_katex
def test_a_short_text_result_leaves_no_empty_space_below_it(qtbot):
    view = make_result_view(region("text", "One short line."))
    with qtbot.waitSignal(view.preview.rendered, timeout=15_000):
        show(qtbot, view)
    qtbot.waitUntil(lambda: page_fits(qtbot, view.preview), timeout=10_000)
    # The hidden Markdown source tab (4+ lines) must not make the card taller than the rendered line.
    # What a card gives the view is its size hint: the hidden Markdown source tab (4+ lines) must not count.
    qtbot.waitUntil(lambda: view.sizeHint().height() <= view.tabs.tabBar().height() + view.preview.height() + 4)
    assert view.preview.height() < 60


@needs_katex
def test_a_wide_formula_scrolls_sideways_inside_its_view_and_the_page_fits(qtbot):
    tex = " + ".join(f"\\frac{{a_{{{n}}}}}{{b_{{{n}}}}}" for n in range(40))
    view = make_result_view(region("formula", tex, tex))
    with qtbot.waitSignal(view.preview.rendered, timeout=15_000):
        show(qtbot, view)
    qtbot.waitUntil(lambda: page_fits(qtbot, view.preview), timeout=10_000)
    display = run_js(qtbot, view.preview, "(d => [d.scrollWidth, d.clientWidth])"
                                          "(document.querySelector('.katex-display'))")
    assert display[0] > display[1]  # the formula scrolls inside its own box, nothing is cut off


def test_the_latex_editor_starts_at_four_lines_and_grows_as_the_user_types(qtbot):
    view = show(qtbot, make_result_view(region("formula", "x", "x")))
    editor = view.source
    line = editor.fontMetrics().lineSpacing()
    assert editor.height() >= 4 * line
    start = editor.height()
    editor.setFocus()
    editor.moveCursor(editor.textCursor().MoveOperation.End)
    for n in range(8):
        QTest.keyClick(editor, Qt.Key.Key_Return)
        QTest.keyClicks(editor, f"+ y_{n}")
    assert editor.toPlainText().count("\n") == 8
    assert editor.height() >= start + 4 * line
    assert editor.verticalScrollBar().maximum() == 0  # every line is on show


def test_long_strings_in_the_latex_source_wrap_instead_of_being_cut(qtbot):
    tex = "\\mathrm{" + "x" * 300 + "}"
    view = show(qtbot, make_result_view(region("formula", tex, tex)), width=300)
    editor = view.source
    qtbot.waitUntil(lambda: editor.horizontalScrollBar().maximum() == 0 == editor.verticalScrollBar().maximum())
    assert editor.height() > 6 * editor.fontMetrics().lineSpacing()


def test_a_table_shows_every_row_and_long_cells_make_their_row_taller(qtbot):
    rows = "".join(f"<tr><td>row {n}</td><td>{n}</td></tr>" for n in range(20))
    long_cell = "a long description that cannot fit one line of a narrow column " * 2
    html = f"<table><tr><td>{long_cell}</td><td>x</td></tr>{rows}</table>"
    view = show(qtbot, make_result_view(region("table", html)), width=360)
    table = view.table
    header = table.verticalHeader()
    qtbot.waitUntil(lambda: header.sectionSize(0) >= 2 * header.sectionSize(1))
    assert table.verticalScrollBar().maximum() == 0  # 21 rows, no inner scrollbar (it started after 12)
    assert table.height() >= sum(header.sectionSize(r) for r in range(21))


def test_long_extracted_values_wrap_and_every_field_is_shown(qtbot):
    data = {f"field_{n}": f"value {n}" for n in range(14)}
    data["address"] = "Somewhere Street 12345, a long address line that goes on and on, 10115 Berlin, Germany"
    view = show(qtbot, make_result_view(region("extract", json.dumps(data), data)), width=320)
    tree = view.tree
    short, long = tree.topLevelItem(0), tree.topLevelItem(14)
    qtbot.waitUntil(lambda: tree.visualItemRect(long).height() >= 2 * tree.visualItemRect(short).height())
    assert tree.textElideMode() == Qt.TextElideMode.ElideNone
    assert tree.verticalScrollBar().maximum() == 0


def every_kind_of_card() -> list[Region]:
    data = {"invoice_number": "INV-2024-0117", "seller": {"name": "Acme GmbH"}}
    table = ("<table><tr><th>Region</th><th>2023</th><th>2024</th></tr>"
             "<tr><td>North</td><td>1</td><td>2</td></tr></table>")
    return [region("text", f"Some text and a link {LONG_URL}"), region("formula", "x^2", "x^2"),
            region("table", table), region("extract", json.dumps(data), data, schema='{"invoice_number": ""}'),
            region("extract", ""), region("text", "stream", state=RUNNING), cut_by_the_budget()]


def cut_by_the_budget() -> Region:
    cut = region("text", "a long result that ran out of tokens")
    cut.result["stop_reason"] = "max_tokens"
    return cut


def assert_cards_inside(panel: ResultsPanel) -> None:
    width = panel.viewport().width()
    assert panel.horizontalScrollBar().maximum() == 0
    for card in panel.cards.values():
        assert card.geometry().right() < width, card.region.task
        for child in card.findChildren(QWidget):
            if child.isVisibleTo(card) and child.parentWidget() is card:  # header, message, body: all inside
                assert child.geometry().right() <= card.width(), (card.region.task, child)


def test_cards_shrink_with_a_narrow_panel_instead_of_overflowing_sideways(qtbot):
    panel = ResultsPanel()
    show(qtbot, panel, width=290, height=560)
    panel.sync(every_kind_of_card())
    qtbot.wait(50)
    assert_cards_inside(panel)
    panel.resize(230, 560)
    qtbot.waitUntil(lambda: panel.viewport().width() < 230)
    assert_cards_inside(panel)


def test_at_800_by_600_the_cards_fit_the_results_panel(make_studio, qtbot, tmp_path):
    from helpers import make_png

    studio = make_studio()
    studio.window.resize(800, 600)
    assert studio.documents.open_path(str(make_png(tmp_path / "page.png")))
    for kind in every_kind_of_card():
        added = studio.regions.add_region(0, (10, 10, 200, 100), task=kind.task, run=False)
        added.state, added.text, added.result, added.schema = kind.state, kind.text, kind.result, kind.schema
    studio.regions.sync_views()
    qtbot.wait(100)
    assert_cards_inside(studio.results)


def test_a_merged_header_cell_is_never_cut_by_its_column(qtbot):
    from PySide6.QtGui import QFont, QFontMetrics

    html = ("<table><tr><th rowspan=2>Region</th><th colspan=2>Revenue</th></tr><tr><th>2023</th><th>2024</th></tr>"
            "<tr><td>N</td><td>1</td><td>2</td></tr></table>")
    view = show(qtbot, make_result_view(region("table", html)))
    bold = QFont(view.table.font())
    bold.setBold(True)
    assert view.table.columnWidth(0) > QFontMetrics(bold).horizontalAdvance("Region")
