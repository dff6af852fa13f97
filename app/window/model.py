"""The model behind the window: loading it (at start, after a download, after a folder is chosen, after the device
or precision changed), the first-run panel while there is none, the model manager and the settings dialog.

Whether a folder can be loaded is the core's answer (``glmocr_core.checkpoint``): a cheap presence check by file
names (sharded checkpoints included) before a load, the full check wherever problems are listed.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from glmocr_core.checkpoint import check
from glmocr_core.checkpoint.layout import looks_like_checkpoint

from app.dialogs.model_manager import ModelManagerDialog
from app.dialogs.settings_dialog import DeviceCatalog, SettingsDialog
from app.engine.host import EngineHost
from app.engine.options import EngineChoice, engine_choice
from app.settings import Settings
from app.window.about import apply_theme
from app.window.main_window import MainWindow
from app.window.regions import RegionController

log = logging.getLogger(__name__)
LOCAL_RELOAD_KEYS = {"device", "precision"}  # settings that only take effect in a new load of the local engine
REMOTE_RELOAD_KEYS = {"remote/urls", "remote/model_name", "remote/concurrency", "remote/image_format",
                      "remote/verify_tls", "remote/api_key"}  # the same for a remote one
RELOAD_KEYS = {"backend"} | LOCAL_RELOAD_KEYS | REMOTE_RELOAD_KEYS


class ModelController(QObject):
    settings_applied = Signal(list)  # the keys the settings dialog changed, after the model side followed them

    def __init__(self, window: MainWindow, settings: Settings, host: EngineHost, regions: RegionController, *,
                 downloader=None, list_devices=None):
        super().__init__(window)
        self.window, self.settings, self.host, self.regions = window, settings, host, regions
        self.manager = ModelManagerDialog(settings, parent=window, downloader=downloader)
        self.devices = DeviceCatalog(list_devices)  # no parent: see DeviceCatalog
        self.settings_dialog: SettingsDialog | None = None

    # --- loading ----------------------------------------------------------------------------------

    def load_model(self, model_dir: str | None = None) -> None:
        """Load the engine the settings choose; a server needs no model here, so it never shows the first-run
        panel."""
        choice = engine_choice(self.settings, model_dir)
        if choice.remote:
            self.window.first_run.hide()
            self.window.model_label.setText(f"Connecting to {where_label(choice)}…")
        elif not looks_like_checkpoint(choice.target):
            self.window.first_run.show_missing(choice.target)
            self.window.model_label.setText("No model")
            return
        else:
            self.window.first_run.show_loading("Starting…", 0.0)
            self.window.model_label.setText("Loading model…")
        self.host.load(choice)

    def on_loading(self, stage: str, fraction: float) -> None:
        self.window.first_run.show_loading(stage, fraction)
        self.window.model_label.setText(f"Loading model… {fraction * 100:.0f}%")

    def on_ready(self, info) -> None:
        choice = self.host.choice
        remote = choice is not None and choice.remote
        self.window.first_run.hide()
        self.window.model_label.setText(f"Remote: {where_label(choice)}" if remote else local_label(info))
        self.window.model_label.setToolTip(", ".join(choice.urls) if remote else info.model_dir)
        self.window.show_status("Server ready." if remote else "Model ready.")
        self.regions.run_waiting()

    def on_failed(self, message: str) -> None:
        choice = self.host.choice
        if choice is not None and choice.remote:  # a server's settings are wrong: Settings is where to fix them
            self.window.model_label.setText("Remote: not set up")
            self.window.show_status(f"The server settings cannot be used: {message}")
            return
        self.window.first_run.show_missing(self.settings.model_dir(), message)
        self.window.model_label.setText("No model")
        self.window.show_status(f"The model could not be loaded: {message}")

    # --- the model manager ------------------------------------------------------------------------

    def show_manager(self) -> None:
        manager = self.manager
        manager.refresh()
        manager.show()
        manager.raise_()
        manager.activateWindow()

    def choose_folder(self) -> None:
        """The manager, then its folder picker: a refused folder's problems and a ready model's sample stay visible."""
        self.show_manager()
        self.manager.choose_folder()

    def show_folder_state(self, folder: str) -> None:
        state, problems = check.folder_state(folder)
        if state != "ready":
            self.window.first_run.show_missing(folder, str(problems[0]) if problems else "")

    def show_about(self) -> None:
        self.window.show_about(self.host.engine_info)

    # --- settings ---------------------------------------------------------------------------------

    def open_settings(self) -> SettingsDialog:
        if self.settings_dialog is not None:
            self.settings_dialog.deleteLater()  # one at a time; the device list stays in the catalog
        dialog = SettingsDialog(self.settings, parent=self.window, devices=self.devices)
        dialog.settings_changed.connect(self.apply_settings)
        dialog.model_manager_requested.connect(self.show_manager)
        self.settings_dialog = dialog
        dialog.open()
        return dialog

    def apply_settings(self, keys: list[str]) -> None:
        """A changed theme applies at once; a changed backend, a changed server setting, or a changed device or
        precision of a ready local model reloads the engine."""
        if "theme" in keys:
            apply_theme(self.settings.get("theme"))
        if self._needs_reload(set(keys)):
            log.info("%s changed: reloading the engine", ", ".join(sorted(RELOAD_KEYS & set(keys))))
            self.load_model()
        self.settings_applied.emit(list(keys))

    def _needs_reload(self, keys: set[str]) -> bool:
        if "backend" in keys:
            return True
        if engine_choice(self.settings).remote:
            return bool(REMOTE_RELOAD_KEYS & keys)
        return bool(LOCAL_RELOAD_KEYS & keys) and check.folder_state(self.settings.model_dir())[0] == "ready"

    def shutdown(self) -> None:
        """The app quits: a running download stops (its partial file is kept for a resume)."""
        self.manager.shutdown()


def where_label(choice: EngineChoice) -> str:
    """The server and model name, as the status bar shows where recognition runs."""
    return f"{', '.join(choice.urls)} ({choice.options.get('model_name')})"


def local_label(info) -> str:
    """"Local: CPU, fast (int8) · GLM-OCR": the precision a load resolved to ("auto" included), else the dtype."""
    device = "CPU" if info.device == "cpu" else info.device
    compute = {"fast": "fast (int8)", "exact": f"exact ({info.dtype})"}.get(info.precision, info.dtype)
    return f"Local: {device}, {compute} · {Path(info.model_dir).name}"
