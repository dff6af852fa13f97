"""Result cards and pages follow the palette, also when the user switches between light and dark while they are on
screen (issue 13, point 6: result pages stayed white and card headers nearly invisible in dark)."""

import json

import pytest
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QLabel

from app.document.model import DONE, Region
from app.resources_setup import katex_available
from app.results import make_result_view
from app.results.cards import ResultCard
from app.window.about import dark_palette

needs_katex = pytest.mark.skipif(not katex_available(), reason="run `python -m app.resources_setup` first")


@pytest.fixture
def light_then_dark(qapp):
    """Starts in the style's light palette; ``switch()`` goes dark as Settings does; the palette is restored after."""
    before = QApplication.palette()
    QApplication.setPalette(QApplication.style().standardPalette())
    yield lambda: QApplication.setPalette(dark_palette())
    QApplication.setPalette(before)


def region(task, text, parsed=None):
    result = {"task": task, "text": text, "parsed": parsed, "parse_error": None, "stop_reason": "eos"}
    return Region(page=0, box=(0, 0, 10, 10), task=task, state=DONE, text=text, result=result)


def run_js(qtbot, view, script):
    box = []
    view.page().runJavaScript(f"JSON.stringify({script})", 0, box.append)
    qtbot.waitUntil(lambda: bool(box), timeout=10_000)
    return json.loads(box[0])


def css_rgb(color: str) -> str:
    value = QColor(color)
    return f"rgb({value.red()}, {value.green()}, {value.blue()})"


def page_colors(qtbot, view):
    return run_js(qtbot, view, "(s => [s.backgroundColor, s.color])(getComputedStyle(document.body))")


@needs_katex
@pytest.mark.parametrize("task,text,parsed", [("formula", "x^2", "x^2"), ("text", "Some *text* and $x$", None)])
def test_a_result_page_on_screen_turns_dark_with_the_app(qtbot, light_then_dark, task, text, parsed):
    view = make_result_view(region(task, text, parsed))
    qtbot.addWidget(view)
    with qtbot.waitSignal(view.preview.rendered, timeout=15_000):
        view.show()
    light = QApplication.palette()
    qtbot.waitUntil(lambda: page_colors(qtbot, view.preview) == [css_rgb(light.color(QPalette.ColorRole.Base).name()),
                                                                  css_rgb(light.color(QPalette.ColorRole.Text).name())])
    light_then_dark()
    dark = dark_palette()
    expected = [css_rgb(dark.color(role).name()) for role in (QPalette.ColorRole.Base, QPalette.ColorRole.Text)]
    qtbot.waitUntil(lambda: page_colors(qtbot, view.preview) == expected, timeout=5_000)
    assert view.preview.page().backgroundColor() == dark.color(QPalette.ColorRole.Base)


def brightest_in(widget, image) -> int:
    """The lightest pixel (0-255) inside ``widget``'s area of ``image`` (a grab of its card)."""
    rect = widget.geometry()
    return max(QColor(image.pixel(x, y)).lightness() for x in range(rect.left(), rect.right())
               for y in range(rect.top(), rect.bottom()))


def test_card_header_text_is_light_on_dark_after_a_live_switch(qtbot, light_then_dark):
    card = ResultCard(region("text", "hello"), view_factory=lambda r: QLabel(""))
    qtbot.addWidget(card)
    card.refresh(number=1)
    card.set_selected(False)
    card.resize(360, 120)
    card.show()
    qtbot.waitExposed(card)
    light_then_dark()
    qtbot.wait(20)
    image = card.grab().toImage()
    for label in (card.number_label, card.title_label, card.state_label):
        assert brightest_in(label, image) > 180, label.accessibleName() or label.text()
    assert card.palette().color(QPalette.ColorRole.Window).lightness() < 80  # the card itself went dark too
