"""The settings dialog: device, precision, token budgets, repetition guard, PDF resolution, theme, autosave, logs.

Every control reads and writes one key of the settings table (app.settings.KEYS), so defaults live in one place.
Detecting devices needs torch, which takes seconds to import, so it runs on a background thread while the dialog
is already usable.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable

from PySide6.QtCore import QObject, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
)

from app.paths import log_dir
from app.model_manager.text import escape, human_bytes
from app.settings import KEYS
from glmocr_core.tasks.specs import TASK_SPECS

log = logging.getLogger(__name__)

PRECISIONS = {
    "auto": "Automatic (fp32 on the CPU, bf16/fp16 on a GPU)",
    "exact": "Exact (fp32 everywhere: slowest, matches the reference)",
    "fast": "Fast (bf16/fp16 where the hardware supports it)",
}
THEMES = {"system": "Follow the system", "light": "Light", "dark": "Dark"}
DEVICE_KINDS = {"auto": "Automatic (best available)", "cpu": "CPU", "cuda": "NVIDIA GPU (CUDA)",
                "mps": "Apple GPU (MPS)"}
TOKEN_RANGE = (16, 32768)
DPI_RANGE = (72, 600)
AUTOSAVE_RANGE_S = (0, 3600)


_DEVICE_CACHE: list = []  # [devices] once detected: the hardware does not change while the app runs


def _remember_devices(devices: list) -> None:
    _DEVICE_CACHE[:] = [devices]


def _default_list_devices():
    from glmocr_core.runtime.devices import list_devices  # imports torch inside the call, on the probe thread

    return list_devices()


class _DeviceProbe(QObject):
    """Detects devices on a daemon thread (importing torch takes seconds and cannot be interrupted; a daemon thread
    never holds up quitting the way a running QThread would). Results arrive queued on the GUI thread."""

    found = Signal(object)  # list of glmocr_core.runtime.devices.DeviceInfo
    failed = Signal(str)

    def start(self, list_devices: Callable[[], list]) -> None:
        threading.Thread(target=self._run, args=(list_devices,), name="device-probe", daemon=True).start()

    def _run(self, list_devices: Callable[[], list]) -> None:
        try:
            devices = list(list_devices())
        except Exception as exc:  # no torch, a broken driver: the CPU still works
            log.warning("device detection failed: %s", exc)
            self._emit(self.failed, str(exc))
        else:
            self._emit(self.found, devices)

    @staticmethod
    def _emit(signal, value) -> None:
        try:
            signal.emit(value)
        except RuntimeError:  # the dialog was closed and deleted meanwhile
            pass


class SettingsDialog(QDialog):
    settings_changed = Signal(list)  # names of the keys whose value changed
    model_manager_requested = Signal()

    def __init__(self, settings, parent=None, list_devices: Callable[[], list] | None = None):
        super().__init__(parent)
        self.settings = settings
        self.setWindowTitle("Settings")
        self.setObjectName("settingsDialog")
        self.devices: list = []
        self._build()
        self.load_values()
        self._start_probe(list_devices)

    # --- layout ---------------------------------------------------------------------------------------------------

    def _build(self) -> None:
        column = QVBoxLayout(self)
        column.addWidget(self._compute_box())
        column.addWidget(self._recognition_box())
        column.addWidget(self._app_box())
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
                                   | QDialogButtonBox.StandardButton.RestoreDefaults)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults).clicked.connect(self.restore_defaults)
        self.button_box = buttons
        column.addWidget(buttons)

    def _compute_box(self) -> QGroupBox:
        box = QGroupBox("Model and device")
        self.device_combo = _combo("Device", {})
        self.devices_label = QLabel("Detecting devices…")
        self.devices_label.setWordWrap(True)
        self.devices_label.setAccessibleName("Detected devices")
        self.precision_combo = _combo("Precision", PRECISIONS)
        self.model_button = QPushButton("Model folder and download…")
        self.model_button.setAccessibleName("Open the model manager")
        self.model_button.clicked.connect(self.model_manager_requested)
        form = QFormLayout(box)
        form.addRow("Device", self.device_combo)
        form.addRow("", self.devices_label)
        form.addRow("Precision", self.precision_combo)
        form.addRow("Model", self.model_button)
        return box

    def _recognition_box(self) -> QGroupBox:
        box = QGroupBox("Recognition")
        form = QFormLayout(box)
        self.token_spins: dict[str, QSpinBox] = {}
        for task, spec in TASK_SPECS.items():
            spin = _spin(f"Maximum new tokens for {spec.label}", TOKEN_RANGE, step=256)
            self.token_spins[task] = spin
            form.addRow(f"Max tokens · {spec.label}", spin)
        self.repeat_check = QCheckBox("Stop a generation that keeps repeating itself")
        self.repeat_check.setAccessibleName("Repetition guard")
        form.addRow("Repetition guard", self.repeat_check)
        self.dpi_spin = _spin("PDF resolution in dots per inch", DPI_RANGE, step=10, suffix=" dpi")
        form.addRow("PDF resolution", self.dpi_spin)
        return box

    def _app_box(self) -> QGroupBox:
        box = QGroupBox("Application")
        self.theme_combo = _combo("Theme", THEMES)
        self.autosave_spin = _spin("Autosave interval in seconds, 0 turns autosave off", AUTOSAVE_RANGE_S,
                                   step=15, suffix=" s")
        self.autosave_spin.setSpecialValueText("Off")
        self.log_button = QPushButton("Open log folder")
        self.log_button.setAccessibleName("Open the log folder")
        self.log_button.clicked.connect(self.open_log_folder)
        form = QFormLayout(box)
        form.addRow("Theme", self.theme_combo)
        form.addRow("Autosave every", self.autosave_spin)
        form.addRow("Logs", self.log_button)
        return box

    # --- values ---------------------------------------------------------------------------------------------------

    def _widget_values(self) -> dict:
        values = {f"max_new_tokens/{task}": spin.value() for task, spin in self.token_spins.items()}
        values.update({"device": self.device_combo.currentData(), "precision": self.precision_combo.currentData(),
                       "repeat_guard": self.repeat_check.isChecked(), "pdf_dpi": self.dpi_spin.value(),
                       "theme": self.theme_combo.currentData(),
                       "autosave_interval_s": self.autosave_spin.value()})
        return values

    def _show_values(self, values: dict) -> None:
        self._fill_devices(values["device"])
        _select(self.precision_combo, values["precision"])
        for task, spin in self.token_spins.items():
            spin.setValue(values[f"max_new_tokens/{task}"])
        self.repeat_check.setChecked(values["repeat_guard"])
        self.dpi_spin.setValue(values["pdf_dpi"])
        _select(self.theme_combo, values["theme"])
        self.autosave_spin.setValue(values["autosave_interval_s"])

    def _names(self) -> list[str]:
        return ["device", "precision", *(f"max_new_tokens/{t}" for t in TASK_SPECS), "repeat_guard", "pdf_dpi",
                "theme", "autosave_interval_s"]

    def load_values(self) -> None:
        self._show_values({name: self.settings.get(name) for name in self._names()})

    def restore_defaults(self) -> None:
        self._show_values({name: KEYS[name].default for name in self._names()})

    def save(self) -> list[str]:
        changed = []
        for name, value in self._widget_values().items():
            if value is not None and value != self.settings.get(name):
                self.settings.set(name, value)
                changed.append(name)
        self.settings.sync()
        return changed

    def accept(self) -> None:
        changed = self.save()
        log.info("settings changed: %s", ", ".join(changed) or "nothing")
        super().accept()
        if changed:
            self.settings_changed.emit(changed)

    # --- devices --------------------------------------------------------------------------------------------------

    def _device_choices(self, saved: str) -> list[tuple[str, str]]:
        """(value, label) pairs: auto, CPU, each detected GPU, and the saved choice even if it is gone now."""
        choices = [("auto", DEVICE_KINDS["auto"]), ("cpu", DEVICE_KINDS["cpu"])]
        for device in self.devices:
            if device.kind != "cpu":
                memory = f", {human_bytes(device.memory_bytes)}" if device.memory_bytes else ""
                choices.append((device.name, f"{device.name} — {device.description}{memory}"))
        if saved not in dict(choices):
            label = DEVICE_KINDS.get(saved, saved)
            choices.append((saved, f"{label} (not detected)" if self.devices else label))
        return choices

    def _fill_devices(self, selected: str) -> None:
        self.device_combo.clear()
        for value, label in self._device_choices(selected):
            self.device_combo.addItem(label, value)
        _select(self.device_combo, selected)

    def _start_probe(self, list_devices: Callable[[], list] | None) -> None:
        if list_devices is None and _DEVICE_CACHE:
            self._on_devices(_DEVICE_CACHE[0])
            return
        self.probe = _DeviceProbe(self)
        self.probe.found.connect(self._on_devices)
        self.probe.failed.connect(self._on_probe_failed)
        if list_devices is None:
            self.probe.found.connect(_remember_devices)
        self.probe.start(list_devices or _default_list_devices)

    def _on_probe_failed(self, message: str) -> None:
        self._on_devices([], message)

    def _on_devices(self, devices: list, error: str = "") -> None:
        current = self.device_combo.currentData() or self.settings.get("device")
        self.devices = devices
        self._fill_devices(current)
        self.devices_label.setText(_describe_devices(devices, error))

    def open_log_folder(self) -> bool:
        folder = log_dir()
        folder.mkdir(parents=True, exist_ok=True)
        return QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))


def _describe_devices(devices: list, error: str) -> str:
    if error:
        return f"Only the CPU can be used: device detection failed ({escape(error)})."
    gpus = [d for d in devices if d.kind != "cpu"]
    if not gpus:
        return "No GPU found: the model runs on the CPU."
    parts = [f"{d.name}: {d.description}" + (f" ({human_bytes(d.memory_bytes)})" if d.memory_bytes else "")
             for d in gpus]
    return "Detected: " + "; ".join(parts)


def _combo(name: str, items: dict[str, str]) -> QComboBox:
    combo = QComboBox()
    combo.setAccessibleName(name)
    for value, label in items.items():
        combo.addItem(label, value)
    return combo


def _spin(name: str, bounds: tuple[int, int], step: int, suffix: str = "") -> QSpinBox:
    spin = QSpinBox()
    spin.setAccessibleName(name)
    spin.setRange(*bounds)
    spin.setSingleStep(step)
    spin.setSuffix(suffix)
    return spin


def _select(combo: QComboBox, value) -> None:
    index = combo.findData(value)
    combo.setCurrentIndex(index if index >= 0 else 0)
