"""The settings dialog: where recognition runs (this computer, or an OpenAI-compatible or Ollama server with its URL,
key, model name and a "Test connection" check), device, precision, token budgets, repetition guard, PDF resolution,
when regions run (as drawn, pasted screenshots at once) and whether a finished result is copied, theme, autosave,
logs.

Every control reads and writes one key of the settings table (app.settings.KEYS), so defaults live in one place; the
device and precision names and what each precision does come from glmocr_core. Detecting devices needs torch, which
takes seconds to import, so a ``DeviceCatalog`` does it on a background thread while the dialog is already usable, once
per run of the app. The connection test also runs on a daemon thread (a server may take seconds to answer or
not answer at all), and the API key goes to the keyring through ``Settings.set_api_key``.
"""

from __future__ import annotations

import html
import logging
import threading
from typing import Callable

from PySide6.QtCore import QObject, Qt, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from glmocr_core.backends.settings import BACKENDS, DEFAULT_URLS, IMAGE_FORMATS, REMOTE_KINDS, RemoteSettings

from glmocr_core.documents.pages import MAX_DPI, MIN_DPI
from glmocr_core.errors import GlmOcrError
from glmocr_core.runtime.devices import DEVICES, PRECISIONS, precision_summary
from glmocr_core.tasks.specs import TASK_SPECS

from app.dialogs.text import human_bytes
from app.paths import log_dir
from app import secret_store
from app.settings import KEYS, THEMES, server_urls

log = logging.getLogger(__name__)

PRECISION_LABELS = {"auto": "Automatic", "exact": "Exact", "fast": "Fast"}
THEME_LABELS = {"system": "Follow the system", "light": "Light", "dark": "Dark"}
DEVICE_LABELS = {"auto": "Automatic (best available)", "cpu": "CPU", "cuda": "NVIDIA GPU (CUDA)",
                 "mps": "Apple GPU (MPS)"}
# Every name the core accepts has a label (and nothing else does): a new core name fails here, not in a user's dialog.
assert tuple(PRECISION_LABELS) == PRECISIONS and tuple(DEVICE_LABELS) == DEVICES and tuple(THEME_LABELS) == THEMES
BACKEND_LABELS = {"local": "This computer",
                  "openai": "An OpenAI-compatible server (vLLM, SGLang, llama.cpp, LM Studio, glmocr-studio serve)",
                  "ollama": "An Ollama server"}
IMAGE_FORMAT_LABELS = {"png": "PNG (lossless)", "jpeg": "JPEG (smaller)"}
assert tuple(BACKEND_LABELS) == BACKENDS and tuple(IMAGE_FORMAT_LABELS) == IMAGE_FORMATS
NO_KEYRING_WARNING = ("No system keyring was found: the API key is saved in plain text in the settings file. "
                      "Anyone who can read your files can read it.")
# A connection test should answer within seconds, unlike recognition, which may wait minutes for a busy server.
TEST_TIMEOUTS_S = {"connect_timeout_s": 5.0, "read_timeout_s": 15.0}
# The on/off settings of "Running regions", in the order shown (their tooltips are the settings table's help).
RUN_CHECKS = {"auto_run": "Run a region as soon as it is drawn",
              "run_pasted_images": "Run a pasted or dropped screenshot at once (Text, whole image)",
              "copy_result_when_done": "Copy a region's result to the clipboard when it finishes"}
CAPTURE_CHECKS = {"capture/copy_result": "Copy a capture's result to the clipboard when it finishes",
                  "capture/confirm_on_release": "Read the rectangle as soon as the mouse is released (off: Enter)",
                  "capture/tray_icon": "Show a tray icon (Capture, Open window, Quit)"}
CAPTURE_TAB = "Screen capture"
CONCURRENCY_RANGE = (1, 64)
TOKEN_RANGE = (16, 32768)
DPI_RANGE = (max(72, MIN_DPI), min(600, MAX_DPI))  # the core's limits, narrowed to what is sensible to offer
AUTOSAVE_RANGE_S = (0, 3600)


def _detect_devices() -> list:
    from glmocr_core.runtime.devices import list_devices  # imports torch inside the call, on the probe thread

    return list_devices()


class DeviceCatalog(QObject):
    """This machine's compute devices, detected once (the hardware does not change while the app runs).

    Detection runs on a daemon thread: importing torch takes seconds and cannot be interrupted, and a daemon thread
    never holds up quitting the way a running QThread would. ``ready(devices, error)`` always arrives on the GUI
    thread; a failed detection is not remembered, so the next request tries again.

    Make it without a parent (its owner keeps a Python reference): a running probe then keeps it alive, so the probe
    never emits into an object Qt deleted with its window (that crashed the interpreter once).
    """

    ready = Signal(object, str)  # list of glmocr_core.runtime.devices.DeviceInfo, error message ("" when found)
    _found = Signal(object)
    _failed = Signal(str)

    def __init__(self, list_devices: Callable[[], list] | None = None):
        super().__init__()
        self._list_devices = list_devices or _detect_devices
        self.devices: list | None = None
        self._probing = False
        self._found.connect(self._on_found)
        self._failed.connect(self._on_failed)

    def request(self) -> None:
        """``ready`` now when the devices are known, else once a detection (started here if none runs) ends."""
        if self.devices is not None:
            self.ready.emit(self.devices, "")
        elif not self._probing:
            self._probing = True
            threading.Thread(target=self._probe, name="device-probe", daemon=True).start()

    def _probe(self) -> None:
        try:
            devices = list(self._list_devices())
        except Exception as exc:  # no torch, a broken driver: the CPU still works
            log.warning("device detection failed: %s", exc)
            self._emit(self._failed, str(exc))
        else:
            self._emit(self._found, devices)

    @staticmethod
    def _emit(signal, value) -> None:
        try:
            signal.emit(value)
        except RuntimeError:  # the catalog was deleted meanwhile (its window closed)
            pass

    @Slot(object)
    def _on_found(self, devices: list) -> None:
        self._probing, self.devices = False, devices
        self.ready.emit(devices, "")

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self._probing = False
        self.ready.emit([], message)


def _check_connection(settings: RemoteSettings) -> tuple[bool, str, list]:
    from glmocr_core.backends.remote import RemoteEngine  # httpx, imported on the test thread when first needed

    engine = RemoteEngine(settings)
    try:
        health = engine.health()
    finally:
        engine.close()
    return health.ok, health.message, health.models


class ConnectionTest(QObject):
    """Asks a server which models it serves, on a daemon thread; ``answered(ok, message, models)`` arrives on the
    GUI thread. A test started while one runs replaces it: only the newest answer is shown.

    Make it without a parent: the running thread then keeps it alive, so a dialog closed mid-test never has its
    answer emitted into a deleted object (the dialog's slot is disconnected when the dialog goes)."""

    answered = Signal(bool, str, list)
    _done = Signal(int, bool, str, list)

    def __init__(self, check: Callable[[RemoteSettings], tuple] = _check_connection, parent=None):
        super().__init__(parent)
        self._check = check
        self._latest = 0
        self._done.connect(self._on_done)

    def start(self, settings: RemoteSettings) -> None:
        self._latest += 1
        threading.Thread(target=self._run, args=(self._latest, settings), name="connection-test",
                         daemon=True).start()

    def _run(self, number: int, settings: RemoteSettings) -> None:
        try:
            ok, message, models = self._check(settings)
        except Exception as exc:  # noqa: BLE001 - unreachable, timeout, bad TLS: all shown as text
            ok, message, models = False, str(exc) or type(exc).__name__, []
        try:
            self._done.emit(number, ok, message, list(models))
        except RuntimeError:  # the dialog closed meanwhile
            pass

    @Slot(int, bool, str, list)
    def _on_done(self, number: int, ok: bool, message: str, models: list) -> None:
        if number == self._latest:
            self.answered.emit(ok, message, models)


class SettingsDialog(QDialog):
    settings_changed = Signal(list)  # names of the keys whose value changed
    model_manager_requested = Signal()

    def __init__(self, settings, parent=None, list_devices: Callable[[], list] | None = None,
                 devices: DeviceCatalog | None = None, connection_test: ConnectionTest | None = None):
        super().__init__(parent)
        self.settings = settings
        self.setWindowTitle("Settings")
        self.setObjectName("settingsDialog")
        self.devices: list = []
        self.connection_test = connection_test or ConnectionTest()
        self.connection_test.answered.connect(self._show_connection)
        self._build()
        self.load_values()
        self.catalog = devices or DeviceCatalog(list_devices)
        self.catalog.ready.connect(self._on_devices)
        self.catalog.request()

    # --- layout ---------------------------------------------------------------------------------------------------

    def _build(self) -> None:
        """Tabs, so the dialog fits a small screen (800×600) whichever notes and warnings are showing."""
        column = QVBoxLayout(self)
        self.tabs = QTabWidget()
        for title, boxes in (("Where it runs", (self._backend_box(),)), ("Model and device", (self._compute_box(),)),
                             ("Recognition", (self._recognition_box(), self._running_box())),
                             (CAPTURE_TAB, (self._capture_box(),)), ("Application", (self._app_box(),))):
            self.tabs.addTab(_page(boxes), title)
        column.addWidget(self.tabs)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
                                   | QDialogButtonBox.StandardButton.RestoreDefaults)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults).clicked.connect(self.restore_defaults)
        self.button_box = buttons
        column.addWidget(buttons)

    def _backend_box(self) -> QGroupBox:
        box = QGroupBox("Recognition runs on")
        self.backend_combo = _combo("Recognition runs on", BACKEND_LABELS)
        self.backend_combo.currentIndexChanged.connect(self._show_backend)
        self.url_edit = QPlainTextEdit()
        self.url_edit.setAccessibleName("Server URLs, one per line")
        self.url_edit.setFixedHeight(self.fontMetrics().lineSpacing() * 3 + 12)
        self.key_edit = QLineEdit()
        self.key_edit.setAccessibleName("API key")
        self.key_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.key_edit.setPlaceholderText("none")
        self.keyring_label = QLabel(NO_KEYRING_WARNING)
        self.keyring_label.setWordWrap(True)
        self.keyring_label.setObjectName("keyringWarning")
        self.keyring_label.setStyleSheet("color: #b35c00;")
        self.keyring_label.setVisible(False)
        self.model_name_edit = QLineEdit()
        self.model_name_edit.setAccessibleName("Model name on the server")
        self.concurrency_spin = _spin("Requests in flight at once", CONCURRENCY_RANGE, step=1)
        self.image_format_combo = _combo("Image format sent to the server", IMAGE_FORMAT_LABELS)
        self.verify_tls_check = QCheckBox("Check the server's certificate (HTTPS)")
        self.verify_tls_check.setAccessibleName("Verify TLS certificates")
        self.test_button = QPushButton("Test connection")
        self.test_button.setAccessibleName("Test the connection to the server")
        self.test_button.clicked.connect(self.test_connection)
        self.connection_label = QLabel()
        self.connection_label.setWordWrap(True)
        self.connection_label.setAccessibleName("Connection test result")
        self.connection_label.setTextFormat(Qt.TextFormat.PlainText)
        form = QFormLayout(box)
        form.addRow("Runs on", self.backend_combo)
        form.addRow("Server URL", self.url_edit)
        form.addRow("API key", self.key_edit)
        form.addRow("", self.keyring_label)
        form.addRow("Model name", self.model_name_edit)
        form.addRow("Parallel requests", self.concurrency_spin)
        form.addRow("Images sent as", self.image_format_combo)
        form.addRow("TLS", self.verify_tls_check)
        form.addRow(self.test_button, self.connection_label)
        self.remote_widgets = (self.url_edit, self.key_edit, self.model_name_edit, self.concurrency_spin,
                               self.image_format_combo, self.verify_tls_check, self.test_button)
        return box

    def _compute_box(self) -> QGroupBox:
        box = QGroupBox("Model and device")
        self.device_combo = _combo("Device", {})
        self.devices_label = QLabel("Detecting devices…")
        self.devices_label.setWordWrap(True)
        self.devices_label.setAccessibleName("Detected devices")
        self.precision_combo = _combo("Precision", PRECISION_LABELS)
        self.precision_label = QLabel()
        self.precision_label.setWordWrap(True)
        self.precision_label.setAccessibleName("What this precision does")
        self.precision_combo.currentIndexChanged.connect(self._describe_precision)
        self.model_button = QPushButton("Model folder and download…")
        self.model_button.setAccessibleName("Open the model manager")
        self.model_button.clicked.connect(self.model_manager_requested)
        self.local_widgets = (self.device_combo, self.precision_combo, self.model_button)
        form = QFormLayout(box)
        form.addRow("Device", self.device_combo)
        form.addRow("", self.devices_label)
        form.addRow("Precision", self.precision_combo)
        form.addRow("", self.precision_label)
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

    def _running_box(self) -> QGroupBox:
        """When regions run and what happens to a finished result: the habits of snip tools."""
        box = QGroupBox("Running regions")
        self.run_checks = _setting_checks(RUN_CHECKS)
        column = QVBoxLayout(box)
        for check in self.run_checks.values():
            column.addWidget(check)
        return box

    def _capture_box(self) -> QGroupBox:
        """How a capture starts and ends; the shortcut field only where the desktop lets the app register one."""
        from app.capture.grabbers import Desktop
        from app.capture.hotkeys import hotkey_backend, shortcut_route

        box = QGroupBox("Screen capture")
        form = QFormLayout(box)
        self.shortcut_edit = QLineEdit()
        self.shortcut_edit.setAccessibleName("Capture shortcut")
        self.shortcut_edit.setPlaceholderText("e.g. Ctrl+Alt+S; empty = none")
        self.shortcut_edit.setToolTip(KEYS["capture/shortcut"].help)
        desktop = Desktop.current()
        if hotkey_backend(desktop) is not None:
            form.addRow("Shortcut", self.shortcut_edit)
        else:
            route = QLabel(shortcut_route(desktop))
            route.setWordWrap(True)
            form.addRow("Shortcut", route)
        self.capture_task_combo = _combo("Task a capture starts with",
                                         {name: spec.label for name, spec in TASK_SPECS.items()})
        form.addRow("Start as", self.capture_task_combo)
        self.capture_checks = _setting_checks(CAPTURE_CHECKS)
        for check in self.capture_checks.values():
            form.addRow(check)
        return box

    def _app_box(self) -> QGroupBox:
        box = QGroupBox("Application")
        self.theme_combo = _combo("Theme", THEME_LABELS)
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
        values.update({name: check.isChecked() for name, check in self.run_checks.items()})
        values.update({name: check.isChecked() for name, check in self.capture_checks.items()})
        values.update({"capture/shortcut": self.shortcut_edit.text().strip(),
                       "capture/default_task": self.capture_task_combo.currentData()})
        values.update({"backend": self.backend_combo.currentData(), "remote/urls": self._urls_text(),
                       "remote/model_name": self.model_name_edit.text().strip(),
                       "remote/concurrency": self.concurrency_spin.value(),
                       "remote/image_format": self.image_format_combo.currentData(),
                       "remote/verify_tls": self.verify_tls_check.isChecked()})
        return values

    def _urls_text(self) -> str:
        return "\n".join(server_urls(self.url_edit.toPlainText()))

    def _show_values(self, values: dict) -> None:
        self._fill_devices(values["device"])
        _select(self.precision_combo, values["precision"])
        self._describe_precision()  # selecting the combo's current item emits no change: say it anyway
        for task, spin in self.token_spins.items():
            spin.setValue(values[f"max_new_tokens/{task}"])
        self.repeat_check.setChecked(values["repeat_guard"])
        self.dpi_spin.setValue(values["pdf_dpi"])
        _select(self.theme_combo, values["theme"])
        self.autosave_spin.setValue(values["autosave_interval_s"])
        for name, check in self.run_checks.items():
            check.setChecked(values[name])
        for name, check in self.capture_checks.items():
            check.setChecked(values[name])
        self.shortcut_edit.setText(values["capture/shortcut"])
        _select(self.capture_task_combo, values["capture/default_task"])
        _select(self.backend_combo, values["backend"])
        self.url_edit.setPlainText(values["remote/urls"])
        self.model_name_edit.setText(values["remote/model_name"])
        self.concurrency_spin.setValue(values["remote/concurrency"])
        _select(self.image_format_combo, values["remote/image_format"])
        self.verify_tls_check.setChecked(values["remote/verify_tls"])
        self._show_backend()

    def _names(self) -> list[str]:
        return ["device", "precision", *(f"max_new_tokens/{t}" for t in TASK_SPECS), "repeat_guard", "pdf_dpi",
                "theme", "autosave_interval_s", *RUN_CHECKS, *CAPTURE_CHECKS, "capture/shortcut",
                "capture/default_task", "backend", "remote/urls", "remote/model_name",
                "remote/concurrency", "remote/image_format", "remote/verify_tls"]

    def load_values(self) -> None:
        self._show_values({name: self.settings.get(name) for name in self._names()})
        self.key_edit.setText(self.settings.api_key())

    def restore_defaults(self) -> None:
        """The table's defaults; the API key stays (it is a secret the user typed, not a preference)."""
        self._show_values({name: KEYS[name].default for name in self._names()})

    def save(self) -> list[str]:
        changed = []
        for name, value in self._widget_values().items():
            if value is not None and value != self.settings.get(name):
                self.settings.set(name, value)
                changed.append(name)
        key = self.key_edit.text().strip()
        if key != self.settings.api_key():
            self.settings.set_api_key(key)
            changed.append("remote/api_key")
        self.settings.sync()
        return changed

    # --- where recognition runs ------------------------------------------------------------------------------------

    @property
    def remote_chosen(self) -> bool:
        return self.backend_combo.currentData() in REMOTE_KINDS

    def _show_backend(self) -> None:
        """Only the chosen backend's options can be edited; the key warning shows where it would matter."""
        remote = self.remote_chosen
        for widget in self.remote_widgets:
            widget.setEnabled(remote)
        for widget in self.local_widgets:
            widget.setEnabled(not remote)
        kind = self.backend_combo.currentData()
        self.url_edit.setPlaceholderText(DEFAULT_URLS.get(kind, ""))
        self.keyring_label.setVisible(remote and not secret_store.keyring_available())

    def remote_settings(self) -> RemoteSettings:
        """What the fields say now (saved or not), checked: UsageError for a URL or name that cannot work."""
        return RemoteSettings(kind=self.backend_combo.currentData(), urls=server_urls(self.url_edit.toPlainText()),
                              api_key=self.key_edit.text().strip() or None,
                              model_name=self.model_name_edit.text().strip(),
                              concurrency=self.concurrency_spin.value(),
                              image_format=self.image_format_combo.currentData(),
                              verify_tls=self.verify_tls_check.isChecked(), **TEST_TIMEOUTS_S).checked()

    def test_connection(self) -> None:
        try:
            settings = self.remote_settings()
        except GlmOcrError as exc:
            self._show_connection(False, str(exc), [])
            return
        self.connection_label.setText(f"Connecting to {', '.join(settings.urls)}…")
        self.test_button.setEnabled(False)
        self.connection_test.start(settings)

    @Slot(bool, str, list)
    def _show_connection(self, ok: bool, message: str, models: list) -> None:
        self.test_button.setEnabled(self.remote_chosen)
        self.connection_label.setText(connection_text(ok, message, models))

    def accept(self) -> None:
        from app.capture.hotkeys import HotkeyError, parse_chord

        shortcut = self.shortcut_edit.text().strip()
        try:
            if shortcut:
                parse_chord(shortcut)
        except HotkeyError as exc:  # say so on its tab and keep the dialog open
            titles = [self.tabs.tabText(index) for index in range(self.tabs.count())]
            self.tabs.setCurrentIndex(titles.index(CAPTURE_TAB))
            self.shortcut_edit.setFocus()
            self.shortcut_edit.setToolTip(str(exc))
            self.shortcut_error = str(exc)
            QToolTip.showText(self.shortcut_edit.mapToGlobal(self.shortcut_edit.rect().bottomLeft()), str(exc))
            return
        self.shortcut_error = ""
        changed = self.save()
        log.info("settings changed: %s", ", ".join(changed) or "nothing")
        super().accept()
        if changed:
            self.settings_changed.emit(changed)

    # --- devices --------------------------------------------------------------------------------------------------

    def _device_choices(self, saved: str) -> list[tuple[str, str]]:
        """(value, label) pairs: auto, CPU, each detected GPU, and the saved choice even if it is gone now."""
        choices = [("auto", DEVICE_LABELS["auto"]), ("cpu", DEVICE_LABELS["cpu"])]
        for device in self.devices:
            if device.kind != "cpu":
                memory = f", {human_bytes(device.memory_bytes)}" if device.memory_bytes else ""
                choices.append((device.name, f"{device.name} — {device.description}{memory}"))
        if saved not in dict(choices):
            label = DEVICE_LABELS.get(saved, saved)
            choices.append((saved, f"{label} (not detected)" if self.devices else label))
        return choices

    def _fill_devices(self, selected: str) -> None:
        self.device_combo.clear()
        for value, label in self._device_choices(selected):
            self.device_combo.addItem(label, value)
        _select(self.device_combo, selected)

    def _on_devices(self, devices: list, error: str) -> None:
        current = self.device_combo.currentData() or self.settings.get("device")
        self.devices = devices
        self._fill_devices(current)
        self.devices_label.setText(_describe_devices(devices, error))

    def _describe_precision(self) -> None:
        precision = self.precision_combo.currentData()
        self.precision_label.setText(precision_summary(precision) if precision else "")

    def open_log_folder(self) -> bool:
        folder = log_dir()
        folder.mkdir(parents=True, exist_ok=True)
        return QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))


def connection_text(ok: bool, message: str, models: list) -> str:
    """The test's answer for people: what the server serves, or what is wrong and what to check."""
    if ok:
        served = ", ".join(sorted(set(models))) or "no list of models"
        return f"Connected: {message}. The server offers: {served}."
    return f"Not connected: {message}."


def _describe_devices(devices: list, error: str) -> str:
    if error:
        return f"Only the CPU can be used: device detection failed ({html.escape(error, quote=False)})."
    gpus = [d for d in devices if d.kind != "cpu"]
    if not gpus:
        return "No GPU found: the model runs on the CPU."
    parts = [f"{d.name}: {d.description}" + (f" ({human_bytes(d.memory_bytes)})" if d.memory_bytes else "")
             for d in gpus]
    return "Detected: " + "; ".join(parts)


def _setting_checks(texts: dict[str, str]) -> dict[str, QCheckBox]:
    """A check box per boolean setting, its help as the tooltip."""
    checks = {}
    for name, text in texts.items():
        check = QCheckBox(text)
        check.setAccessibleName(text)
        check.setToolTip(KEYS[name].help)
        checks[name] = check
    return checks


def _page(boxes) -> QWidget:
    page = QWidget()
    column = QVBoxLayout(page)
    for box in boxes:
        column.addWidget(box)
    column.addStretch(1)
    return page


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
