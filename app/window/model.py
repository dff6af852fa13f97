"""The model behind the window: loading it (at start, after a download, after a folder is chosen, after the device
or precision changed), the first-run panel while there is none, the model manager and the settings dialog.

Whether a folder can be loaded is the core's answer (``glmocr_core.checkpoint``): a cheap presence check by file
names (sharded checkpoints included) before a load, the full check wherever problems are listed.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject

from glmocr_core.checkpoint import check
from glmocr_core.checkpoint.layout import looks_like_checkpoint

from app.dialogs.model_manager import ModelManagerDialog
from app.dialogs.settings_dialog import DeviceCatalog, SettingsDialog
from app.engine.host import EngineHost
from app.engine.options import load_options
from app.settings import Settings
from app.window.about import apply_theme
from app.window.main_window import MainWindow
from app.window.regions import RegionController

log = logging.getLogger(__name__)
RELOAD_KEYS = {"device", "precision"}  # settings that only take effect in a new load


class ModelController(QObject):
    def __init__(self, window: MainWindow, settings: Settings, host: EngineHost, regions: RegionController, *,
                 downloader=None, list_devices=None):
        super().__init__(window)
        self.window, self.settings, self.host, self.regions = window, settings, host, regions
        self.manager = ModelManagerDialog(settings, parent=window, downloader=downloader)
        self.devices = DeviceCatalog(list_devices, self)
        self.settings_dialog: SettingsDialog | None = None

    # --- loading ----------------------------------------------------------------------------------

    def load_model(self, model_dir: str | None = None) -> None:
        model_dir = model_dir or self.settings.model_dir()
        if not looks_like_checkpoint(model_dir):
            self.window.first_run.show_missing(model_dir)
            self.window.model_label.setText("No model")
            return
        self.window.first_run.show_loading("Starting…", 0.0)
        self.window.model_label.setText("Loading model…")
        self.host.load_model(model_dir, **load_options(self.settings))

    def on_loading(self, stage: str, fraction: float) -> None:
        self.window.first_run.show_loading(stage, fraction)
        self.window.model_label.setText(f"Loading model… {fraction * 100:.0f}%")

    def on_ready(self, info) -> None:
        self.window.first_run.hide()
        self.window.model_label.setText(f"{Path(info.model_dir).name} · {info.device} · {info.dtype}")
        self.window.model_label.setToolTip(info.model_dir)
        self.window.show_status("Model ready.")
        self.regions.run_waiting()

    def on_failed(self, message: str) -> None:
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
        """A changed theme applies at once; a changed device or precision reloads a ready model."""
        if "theme" in keys:
            apply_theme(self.settings.get("theme"))
        if RELOAD_KEYS & set(keys) and check.folder_state(self.settings.model_dir())[0] == "ready":
            log.info("device or precision changed: reloading the model")
            self.load_model()

    def shutdown(self) -> None:
        """The app quits: a running download stops (its partial file is kept for a resume)."""
        self.manager.shutdown()
