"""The Screen capture tab of Settings: the shortcut (checked before it is saved), the task a capture starts with and
the capture switches, written to the settings table."""

from __future__ import annotations

from app.dialogs.settings_dialog import CAPTURE_TAB, SettingsDialog
from app.settings import Settings
from glmocr_core.runtime.devices import DeviceInfo

CPU = DeviceInfo("cpu", "cpu", "CPU")


def make_dialog(qtbot, settings):
    dialog = SettingsDialog(settings, list_devices=lambda: [CPU])
    qtbot.addWidget(dialog)
    return dialog


def test_capture_settings_are_saved(qtbot, tmp_path):
    settings = Settings(tmp_path / "settings.ini")
    dialog = make_dialog(qtbot, settings)
    dialog.shortcut_edit.setText("Ctrl+Shift+X")
    dialog.capture_task_combo.setCurrentIndex(dialog.capture_task_combo.findData("formula"))
    dialog.capture_checks["capture/tray_icon"].setChecked(False)
    dialog.accept()
    again = Settings(tmp_path / "settings.ini")
    assert again.get("capture/shortcut") == "Ctrl+Shift+X" and again.get("capture/default_task") == "formula"
    assert again.get("capture/tray_icon") is False and again.get("capture/copy_result") is True


def test_a_shortcut_that_cannot_be_registered_keeps_the_dialog_open(qtbot, tmp_path):
    settings = Settings(tmp_path / "settings.ini")
    dialog = make_dialog(qtbot, settings)
    dialog.show()
    dialog.tabs.setCurrentIndex(0)
    dialog.shortcut_edit.setText("Ctrl+Nonsense+Q")
    dialog.accept()
    assert dialog.isVisible() and dialog.shortcut_error
    assert dialog.tabs.tabText(dialog.tabs.currentIndex()) == CAPTURE_TAB
    assert settings.get("capture/shortcut") == "Ctrl+Alt+S"  # nothing was saved
