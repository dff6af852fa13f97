"""Plugs the model manager and the settings dialog into the main window (one call from the app's entry point).

What it connects:
- the window's ``model_manager_requested`` (first-run "Get the model…", File > Model…) opens the manager;
- the first-run panel's "Choose folder…" validates the folder with the header check (instead of a file sniff);
- a ready model (downloaded or chosen) is loaded; the sample page opens in the window;
- File > Settings… opens the settings dialog; a changed theme applies at once, a changed device or precision
  reloads the model, with the load options of ``engine_load_options`` ("exact" = fp32 on every device);
- quitting cancels a running download (its partial file is kept for a resume).
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QCoreApplication
from PySide6.QtGui import QAction, QKeySequence

from app.dialogs.model_manager import ModelManagerDialog
from app.engine.options import load_options
from app.dialogs.settings_dialog import SettingsDialog
from glmocr_core.checkpoint import check

log = logging.getLogger(__name__)
RELOAD_KEYS = {"device", "precision"}


def install_model_manager(window, downloader=None) -> ModelManagerDialog:
    dialog = ModelManagerDialog(window.settings, parent=window, downloader=downloader)
    window.model_manager = dialog
    window.model_manager_requested.connect(lambda: show_dialog(dialog))
    _replace_choose_folder(window, dialog)
    dialog.model_ready.connect(window.load_model)
    dialog.model_dir_changed.connect(lambda folder: _show_folder_state(window, folder))
    dialog.sample_requested.connect(window.open_path)
    _add_settings_action(window, dialog)
    # The window's own mapping passes "exact" through, which keeps bf16 on a GPU; the setting promises fp32.
    window._load_options = lambda: load_options(window.settings)
    QCoreApplication.instance().aboutToQuit.connect(dialog.shutdown)
    return dialog


def _replace_choose_folder(window, dialog: ModelManagerDialog) -> None:
    """The panel's "Choose folder…" goes through the manager's header check instead of the window's file sniff."""
    try:
        window.first_run.choose_folder_requested.disconnect(window.choose_model_folder)
    except (RuntimeError, TypeError):  # the window wired it differently: keep both rather than fail to start
        log.warning("could not detach the window's own Choose folder handler")
    window.first_run.choose_folder_requested.connect(lambda: _choose_folder(dialog))


def show_dialog(dialog) -> None:
    dialog.refresh()
    dialog.show()
    dialog.raise_()
    dialog.activateWindow()


def _choose_folder(dialog: ModelManagerDialog) -> None:
    """Show the manager, then the picker: a refused folder's problems and a ready model's sample stay visible."""
    show_dialog(dialog)
    dialog.choose_folder()


def _show_folder_state(window, folder: str) -> None:
    state, problems = check.folder_state(folder)
    if state != "ready":
        window.first_run.show_missing(folder, str(problems[0]) if problems else "")


def _add_settings_action(window, manager: ModelManagerDialog) -> QAction:
    action = QAction("&Settings…", window)
    action.setShortcuts(QKeySequence.keyBindings(QKeySequence.StandardKey.Preferences))
    action.setToolTip("Device, precision, token budgets, PDF resolution, theme and autosave")
    action.setStatusTip(action.toolTip())
    action.triggered.connect(lambda: open_settings(window, manager))
    window.addAction(action)
    window.actions_by_key["settings"] = action
    before = window.actions_by_key.get("model_manager")
    if before is not None:
        window.file_menu.insertAction(before, action)
    else:
        window.file_menu.addAction(action)
    return action


def open_settings(window, manager: ModelManagerDialog, list_devices=None) -> SettingsDialog:
    dialog = SettingsDialog(window.settings, parent=window, list_devices=list_devices)
    window.settings_dialog = dialog
    dialog.settings_changed.connect(lambda keys: _apply_settings(window, keys))
    dialog.model_manager_requested.connect(lambda: show_dialog(manager))
    dialog.open()
    return dialog


def _apply_settings(window, keys: list[str]) -> None:
    from app.about import apply_theme

    if "theme" in keys:
        apply_theme(window.settings.get("theme"))
    if RELOAD_KEYS & set(keys) and check.folder_state(window.settings.model_dir())[0] == "ready":
        log.info("device or precision changed: reloading the model")
        window.load_model()
