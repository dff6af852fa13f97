"""The settings dialog over the typed settings table; settings survive a new QSettings; logging to a rotating file."""

from __future__ import annotations

import logging
import logging.handlers

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QDesktopServices

from app import logging_setup
from app.settings import KEYS, Settings
from app.engine.options import load_options
from app.dialogs.settings_dialog import DeviceCatalog, SettingsDialog
from glmocr_core.runtime.devices import DeviceInfo, precision_summary

CPU = DeviceInfo("cpu", "cpu", "CPU (8 logical cores)")
H200 = DeviceInfo("cuda:0", "cuda", "NVIDIA H200", 150_000_000_000)


def make_dialog(qtbot, settings, devices=(CPU,)):
    dialog = SettingsDialog(settings, list_devices=lambda: list(devices))
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.devices_label.text() != "Detecting devices…")
    return dialog


def test_values_written_by_the_dialog_come_back_from_a_new_qsettings(qtbot, tmp_path):
    settings = Settings(tmp_path / "settings.ini")
    dialog = make_dialog(qtbot, settings, devices=(CPU, H200))
    dialog.device_combo.setCurrentIndex(dialog.device_combo.findData("cuda:0"))
    dialog.precision_combo.setCurrentIndex(dialog.precision_combo.findData("fast"))
    dialog.token_spins["formula"].setValue(512)
    dialog.repeat_check.setChecked(False)
    dialog.dpi_spin.setValue(300)
    dialog.theme_combo.setCurrentIndex(dialog.theme_combo.findData("dark"))
    dialog.autosave_spin.setValue(0)
    with qtbot.waitSignal(dialog.settings_changed) as changed:
        dialog.accept()
    assert set(changed.args[0]) == {"device", "precision", "max_new_tokens/formula", "repeat_guard", "pdf_dpi",
                                    "theme", "autosave_interval_s"}
    again = Settings(tmp_path / "settings.ini")
    assert again.get("device") == "cuda:0" and again.get("precision") == "fast"
    assert again.get("max_new_tokens/formula") == 512 and again.get("max_new_tokens/text") == 4096
    assert again.get("repeat_guard") is False and again.get("pdf_dpi") == 300
    assert again.get("theme") == "dark" and again.get("autosave_interval_s") == 0


def test_native_store_round_trip_under_the_app_names(qtbot):
    # conftest points the user-scope QSettings at a temp folder, so this uses the real org/app names safely.
    first = Settings()
    first.set("hub/endpoint", "https://hf-mirror.example")
    first.set("pdf_dpi", 240)
    first.sync()
    second = Settings()
    assert second.get("hub/endpoint") == "https://hf-mirror.example" and second.get("pdf_dpi") == 240
    for name in ("hub/endpoint", "pdf_dpi"):
        second.reset(name)
    second.sync()


def test_cancel_saves_nothing(qtbot, settings):
    dialog = make_dialog(qtbot, settings)
    dialog.dpi_spin.setValue(450)
    dialog.reject()
    assert settings.get("pdf_dpi") == KEYS["pdf_dpi"].default


def test_restore_defaults_shows_the_table_defaults(qtbot, settings):
    settings.set("pdf_dpi", 333)
    settings.set("theme", "light")
    dialog = make_dialog(qtbot, settings)
    assert dialog.dpi_spin.value() == 333
    dialog.restore_defaults()
    assert dialog.dpi_spin.value() == KEYS["pdf_dpi"].default
    assert dialog.theme_combo.currentData() == KEYS["theme"].default
    assert dialog.token_spins["table"].value() == KEYS["max_new_tokens/table"].default


def test_detected_gpus_are_listed_with_their_memory(qtbot, settings):
    dialog = make_dialog(qtbot, settings, devices=(CPU, H200))
    labels = [dialog.device_combo.itemText(i) for i in range(dialog.device_combo.count())]
    assert "cuda:0 — NVIDIA H200, 150 GB" in labels
    assert "NVIDIA H200 (150 GB)" in dialog.devices_label.text()


def test_a_saved_device_that_is_gone_stays_selected_and_is_marked(qtbot, settings):
    settings.set("device", "mps")
    dialog = make_dialog(qtbot, settings, devices=(CPU,))
    assert dialog.device_combo.currentData() == "mps"
    assert dialog.device_combo.currentText() == "Apple GPU (MPS) (not detected)"
    assert "No GPU found" in dialog.devices_label.text()


def test_failed_detection_leaves_the_cpu_usable(qtbot, settings):
    def broken():
        raise RuntimeError("CUDA driver crashed")

    dialog = SettingsDialog(settings, list_devices=broken)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: "detection failed" in dialog.devices_label.text())
    assert "CUDA driver crashed" in dialog.devices_label.text()
    assert dialog.device_combo.findData("cpu") >= 0


def test_each_precision_is_explained_in_the_cores_words(qtbot, settings):
    dialog = make_dialog(qtbot, settings)
    # at open, the saved precision (auto) already says what it picks on this CPU (the suite's: no flags, exact)
    assert dialog.precision_label.text() == precision_summary("auto") and "Exact on this CPU" in \
        dialog.precision_label.text()
    for precision in ("fast", "exact", "auto"):
        dialog.precision_combo.setCurrentIndex(dialog.precision_combo.findData(precision))
        assert dialog.precision_label.text() == precision_summary(precision)
    dialog.precision_combo.setCurrentIndex(dialog.precision_combo.findData("fast"))
    assert "int8" in dialog.precision_label.text()


def test_devices_are_detected_once_per_run(qtbot, settings):
    calls = []
    catalog = DeviceCatalog(lambda: calls.append(1) or [CPU, H200])
    for _ in range(2):
        dialog = SettingsDialog(settings, devices=catalog)
        qtbot.addWidget(dialog)
        qtbot.waitUntil(lambda: "H200" in dialog.devices_label.text())
    assert calls == [1]


@pytest.mark.parametrize("device, precision, expected", [
    ("auto", "auto", {}),
    ("cpu", "exact", {"device": "cpu", "precision": "exact"}),
    ("cuda:0", "fast", {"device": "cuda:0", "precision": "fast"}),
])
def test_load_options_follow_the_settings(settings, device, precision, expected):
    settings.set("device", device)
    settings.set("precision", precision)
    assert load_options(settings) == expected


def test_open_log_folder_opens_the_platform_log_folder(qtbot, settings, tmp_path, monkeypatch):
    opened = []
    monkeypatch.setenv("GLMOCR_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()) or True)
    dialog = make_dialog(qtbot, settings)
    dialog.log_button.click()
    assert opened == [str(tmp_path / "logs")] and (tmp_path / "logs").is_dir()


def test_logging_goes_to_a_rotating_file_once(tmp_path):
    try:
        path = logging_setup.setup_logging(folder=tmp_path / "logs")
        assert logging_setup.setup_logging(folder=tmp_path / "logs") == path
        handlers = [h for h in logging.getLogger().handlers if h.get_name() == logging_setup._HANDLER_NAME]
        assert len(handlers) == 1 and isinstance(handlers[0], logging.handlers.RotatingFileHandler)
        assert handlers[0].maxBytes == logging_setup.MAX_LOG_BYTES
        logging.getLogger("app.logging_check").warning("a line the user can send us")
        handlers[0].flush()
        assert "a line the user can send us" in path.read_text(encoding="utf-8")
    finally:
        logging_setup.close_logging()


def test_the_snip_habits_and_auto_run_are_in_the_dialog_and_saved(qtbot, tmp_path):
    settings = Settings(tmp_path / "settings.ini")
    dialog = make_dialog(qtbot, settings)
    checks = dialog.run_checks
    assert {name: check.isChecked() for name, check in checks.items()} == \
        {"auto_run": True, "run_pasted_images": True, "copy_result_when_done": False}  # the table's defaults
    assert checks["copy_result_when_done"].toolTip() == KEYS["copy_result_when_done"].help
    qtbot.mouseClick(checks["run_pasted_images"], Qt.MouseButton.LeftButton)  # what a user does
    qtbot.mouseClick(checks["copy_result_when_done"], Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(dialog.settings_changed) as changed:
        dialog.accept()
    assert set(changed.args[0]) == {"run_pasted_images", "copy_result_when_done"}
    again = Settings(tmp_path / "settings.ini")
    assert again.get("run_pasted_images") is False and again.get("copy_result_when_done") is True
    reopened = make_dialog(qtbot, again)
    assert not reopened.run_checks["run_pasted_images"].isChecked()
    assert reopened.run_checks["copy_result_when_done"].isChecked()
    reopened.restore_defaults()
    assert reopened.run_checks["run_pasted_images"].isChecked()


def test_the_dialog_fits_an_800_by_600_screen_with_every_note_showing(qtbot, settings, no_keyring):
    dialog = make_dialog(qtbot, settings, devices=(CPU, H200))
    dialog.backend_combo.setCurrentIndex(dialog.backend_combo.findData("openai"))  # the no-keyring warning shows
    dialog.precision_combo.setCurrentIndex(dialog.precision_combo.findData("fast"))  # and what "fast" means
    dialog.show()
    hint = dialog.sizeHint()
    assert hint.width() <= 800 and hint.height() <= 540  # room left for a title bar and a panel
    assert [dialog.tabs.tabText(i) for i in range(dialog.tabs.count())] == \
        ["Where it runs", "Model and device", "Recognition", "Screen capture", "Application"]
    assert dialog.tabs.widget(2).isAncestorOf(dialog.run_checks["run_pasted_images"])
