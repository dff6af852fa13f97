"""The result popup near the selection (placement, streaming, result, copy, errors) and the tray icon's menu."""

import pytest
from PySide6.QtCore import QRect
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QSystemTrayIcon

from app.capture.geometry import Rect
from app.capture.popup import COPIED, DONE, FAILED, READING, ResultPopup, popup_position
from app.capture.tray import ACTION_TEXTS, CaptureTray, create_tray, snip_icon

SCREEN = Rect(0, 0, 1920, 1080)


@pytest.mark.parametrize("selection, expected", [
    (Rect(100, 100, 300, 50), (100, 158)),  # below, left edges aligned
    (Rect(100, 900, 300, 150), (100, 672)),  # no room below: above
    (Rect(1800, 100, 100, 50), (1500, 158)),  # would leave the screen on the right: moved in
    (Rect(100, 0, 300, 1080), (100, 860)),  # no room above or below: over the bottom, on the screen
])
def test_popup_position_stays_next_to_the_selection_and_on_the_screen(selection, expected):
    assert popup_position(selection, (420, 220), SCREEN) == expected


def test_popup_position_on_a_screen_left_of_the_primary():
    left_screen = Rect(-1280, 0, 1280, 1024)
    assert popup_position(Rect(-1270, 10, 50, 20), (420, 220), left_screen) == (-1270, 38)
    assert popup_position(Rect(-100, 10, 50, 20), (420, 220), left_screen) == (-420, 38)


@pytest.fixture
def popup(qtbot):
    made = ResultPopup()
    qtbot.addWidget(made)
    return made


def test_streaming_text_then_the_result_with_copy(qtbot, popup):
    popup.show_near(QRect(40, 40, 200, 60), task="formula")
    assert popup.isVisible() and popup.status.text() == READING and "Formula" in popup.title.text()
    assert not popup.copy_button.isEnabled()
    for piece in ("E = ", "mc", "^2"):
        popup.show_text_delta(piece)
    assert popup.text.toPlainText() == "E = mc^2"
    popup.show_result("E = mc^{2}")
    assert popup.text.toPlainText() == "E = mc^{2}" and popup.status.text() == DONE
    popup.copy_button.click()
    assert QGuiApplication.clipboard().text() == "E = mc^{2}" and popup.status.text() == COPIED


def test_the_result_is_copied_at_once_when_the_setting_says_so(popup):
    popup.show_near(QRect(0, 0, 10, 10))
    popup.show_result("Hello", copy=True)
    assert QGuiApplication.clipboard().text() == "Hello" and popup.status.text() == COPIED


def test_an_error_is_shown_and_nothing_can_be_copied(popup):
    popup.show_near(QRect(0, 0, 10, 10))
    popup.show_error("The model is not loaded.")
    assert popup.text.toPlainText() == "The model is not loaded." and popup.status.text() == FAILED
    assert not popup.copy_button.isEnabled()


def test_open_in_studio_asks_and_closes(qtbot, popup):
    popup.show_near(QRect(0, 0, 10, 10))
    with qtbot.waitSignal(popup.open_in_studio_requested), qtbot.waitSignal(popup.closed):
        popup.open_button.click()
    assert not popup.isVisible()


def test_a_new_capture_starts_the_popup_empty(popup):
    popup.show_near(QRect(0, 0, 10, 10))
    popup.show_result("old")
    popup.show_near(QRect(0, 0, 10, 10))
    assert popup.text.toPlainText() == "" and popup.status.text() == READING


# --- the tray ----------------------------------------------------------------------------------------------


def test_no_tray_where_the_desktop_has_none(qapp):
    assert create_tray(available=lambda: False) is None


def test_the_tray_menu_has_capture_open_window_quit(qtbot):
    tray = CaptureTray(snip_icon())
    assert [a.text() for a in tray.menu.actions() if not a.isSeparator()] == list(ACTION_TEXTS.values())
    for key, signal in (("capture", tray.capture_requested), ("open_window", tray.open_window_requested),
                        ("quit", tray.quit_requested)):
        with qtbot.waitSignal(signal, timeout=1000):
            tray.actions[key].trigger()


def test_a_click_on_the_icon_captures_and_a_double_click_opens_the_window(qtbot):
    tray = CaptureTray()
    assert not tray.icon.icon().isNull()  # the drawn icon when the application has none
    with qtbot.waitSignal(tray.capture_requested, timeout=1000):
        tray.icon.activated.emit(QSystemTrayIcon.ActivationReason.Trigger)
    with qtbot.waitSignal(tray.open_window_requested, timeout=1000):
        tray.icon.activated.emit(QSystemTrayIcon.ActivationReason.DoubleClick)
