"""The frozen-screen overlay and the capture controller, with real widgets offscreen: drags, clicks, keys, the task
bar, and the crop that comes out, pixel for pixel (the real grab under X is test_capture_xvfb.py)."""

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QImage
from PySide6.QtTest import QTest

from app.capture.controller import CaptureController
from app.capture.geometry import Rect, ScreenLayout, Selection, crop_rect
from app.capture.grabbers import GrabChain, GrabError
from app.capture.overlay import CaptureOverlay

WAIT_MS = 5000
LEFT = Qt.MouseButton.LeftButton


def pattern(width, height):
    """A picture whose every pixel differs from its neighbours, so a crop one pixel off is a different image (built
    from an array: thousands of painter calls would each drop a reference to None in PySide6 6.12 on CPython 3.11)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.uint32)
    pixels = (0xFF << 24) | ((x & 0xFF) << 16) | ((y & 0xFF) << 8) | (((x >> 8) << 4 | (y >> 8)) & 0xFF)
    data = np.ascontiguousarray(pixels, dtype=np.uint32)
    return QImage(data.tobytes(), width, height, width * 4, QImage.Format.Format_RGB32).copy()


def drag(widget, start, end, release=True):
    QTest.mousePress(widget, LEFT, Qt.KeyboardModifier.NoModifier, QPoint(*start))
    QTest.mouseMove(widget, QPoint((start[0] + end[0]) // 2, (start[1] + end[1]) // 2))
    QTest.mouseMove(widget, QPoint(*end))
    if release:
        QTest.mouseRelease(widget, LEFT, Qt.KeyboardModifier.NoModifier, QPoint(*end))


HIDPI = ScreenLayout("HiDPI", Rect(0, 0, 400, 300), 2.0, (800, 600))


@pytest.fixture
def overlay(qtbot):
    made = CaptureOverlay(HIDPI, pattern(800, 600), "text")
    qtbot.addWidget(made)
    made.show()
    qtbot.waitExposed(made)
    return made


def test_a_drag_selects_and_the_release_confirms(qtbot, overlay):
    with qtbot.waitSignal(overlay.selected, timeout=WAIT_MS) as selected:
        drag(overlay, (110, 70), (10, 20))  # up and to the left
    assert selected.args == [Selection(10, 20, 100, 50)]
    assert overlay.crop() == Rect(20, 40, 200, 100)


def test_a_click_is_not_a_selection(qtbot, overlay):
    with qtbot.assertNotEmitted(overlay.selected):
        drag(overlay, (50, 50), (51, 52))
    assert overlay.selection is None


def test_a_drag_past_the_edge_stops_at_the_edge(qtbot, overlay):
    with qtbot.waitSignal(overlay.selected, timeout=WAIT_MS):
        drag(overlay, (350, 250), (900, 700))
    assert overlay.selection == Selection(350, 250, 50, 50)
    assert overlay.crop() == Rect(700, 500, 100, 100)


@pytest.mark.parametrize("key", [Qt.Key.Key_Escape])
def test_escape_cancels(qtbot, overlay, key):
    with qtbot.waitSignal(overlay.cancelled, timeout=WAIT_MS):
        QTest.keyClick(overlay, key)


def test_a_right_click_cancels(qtbot, overlay):
    with qtbot.waitSignal(overlay.cancelled, timeout=WAIT_MS):
        QTest.mouseClick(overlay, Qt.MouseButton.RightButton)


@pytest.mark.parametrize("key, task", [(Qt.Key.Key_1, "text"), (Qt.Key.Key_2, "formula"), (Qt.Key.Key_3, "table"),
                                       (Qt.Key.Key_4, "extract")])
def test_keys_one_to_four_pick_the_task(qtbot, overlay, key, task):
    with qtbot.waitSignal(overlay.task_chosen, timeout=WAIT_MS) as chosen:
        QTest.keyClick(overlay, key)
    assert chosen.args == [task]


def test_the_bar_picks_the_task_without_starting_a_rectangle(qtbot, overlay):
    with qtbot.waitSignal(overlay.task_chosen, timeout=WAIT_MS) as chosen:
        QTest.mouseClick(overlay.bar.button("table"), LEFT)
    assert chosen.args == ["table"]
    assert overlay.selection is None
    overlay.set_task("table")
    assert overlay.bar.button("table").isChecked() and not overlay.bar.button("text").isChecked()


def test_without_confirm_on_release_enter_confirms(qtbot):
    overlay = CaptureOverlay(HIDPI, pattern(800, 600), "text", confirm_on_release=False)
    qtbot.addWidget(overlay)
    overlay.show()
    qtbot.waitExposed(overlay)
    with qtbot.assertNotEmitted(overlay.selected):
        drag(overlay, (10, 10), (60, 40))
    with qtbot.waitSignal(overlay.selected, timeout=WAIT_MS) as selected:
        QTest.keyClick(overlay, Qt.Key.Key_Return)
    assert selected.args == [Selection(10, 10, 50, 30)]


# --- the controller --------------------------------------------------------------------------------------------


class PatternGrabber:
    """Stands in for a real grab on the offscreen platform: each screen at twice its size, patterned."""

    name = "pattern"

    def __init__(self):
        self.calls = 0
        self.pictures = []

    def grab(self, targets):
        self.calls += 1
        self.pictures = [pattern(t.geometry.width * 2, t.geometry.height * 2) for t in targets]
        return self.pictures


class FailingGrabber:
    name = "portal"

    def grab(self, targets):
        raise GrabError("it did not answer")


@pytest.fixture
def controller(qtbot):
    grabber = PatternGrabber()
    made = CaptureController(chain=lambda: GrabChain([grabber]), grab_delay_ms=0, task=lambda: "formula")
    made.grabber = grabber
    yield made
    made.cancel()


def start(qtbot, controller):
    with qtbot.waitSignal(controller.overlays_shown, timeout=WAIT_MS):
        assert controller.start_capture()
    overlay = controller.overlays[0]
    qtbot.waitExposed(overlay)
    return overlay


def test_a_capture_emits_the_framed_pixels_of_the_grabbed_picture(qtbot, controller):
    overlay = start(qtbot, controller)
    picture, layout = controller.grabber.pictures[0], overlay.layout_info
    with qtbot.waitSignal(controller.captured, timeout=WAIT_MS) as captured:
        drag(overlay, (30, 40), (130, 90))
    crop, task = captured.args
    expected = crop_rect(layout, Selection(30, 40, 100, 50))
    assert (expected.width, expected.height) == (crop.width(), crop.height())  # picture pixels, not logical ones
    assert crop == picture.copy(expected.x, expected.y, expected.width, expected.height)
    assert task == "formula"  # the default the controller was given
    assert controller.overlays == [] and not controller.capturing
    g = layout.geometry
    assert controller.last_selection.getRect() == (g.x + 30, g.y + 40, 100, 50)


def test_the_task_chosen_on_one_overlay_is_the_captures_task(qtbot, controller):
    overlay = start(qtbot, controller)
    QTest.keyClick(overlay, Qt.Key.Key_3)
    assert all(o.task == "table" for o in controller.overlays)
    with qtbot.waitSignal(controller.captured, timeout=WAIT_MS) as captured:
        drag(overlay, (10, 10), (50, 50))
    assert captured.args[1] == "table"


def test_escape_cancels_the_capture_and_closes_every_overlay(qtbot, controller):
    overlay = start(qtbot, controller)
    with qtbot.waitSignal(controller.cancelled, timeout=WAIT_MS):
        QTest.keyClick(overlay, Qt.Key.Key_Escape)
    assert controller.overlays == [] and not controller.capturing


def test_a_second_start_while_frozen_does_not_grab_the_overlay(qtbot, controller):
    start(qtbot, controller)
    assert controller.start_capture() is False
    assert controller.grabber.calls == 1


def test_about_to_grab_comes_before_the_grab(qtbot, controller):
    calls_when_told = []
    controller.about_to_grab.connect(lambda: calls_when_told.append(controller.grabber.calls))
    start(qtbot, controller)
    assert calls_when_told == [0]


def test_a_failed_grab_is_reported_and_leaves_no_overlay(qtbot):
    controller = CaptureController(chain=lambda: GrabChain([FailingGrabber()]), grab_delay_ms=0)
    with qtbot.waitSignal(controller.failed, timeout=WAIT_MS) as failed:
        controller.start_capture()
    assert failed.args == ["The screen could not be captured. portal: it did not answer."]
    assert controller.overlays == [] and not controller.capturing
