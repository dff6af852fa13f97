"""Every menu, toolbar and shortcut entry of the window, in one table, and the menus and toolbar built from it.

This is the only module that touches the menu bar and the toolbar, so what the File menu lists, and in which order,
is written down here and nowhere else.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMenu

from glmocr_core.api import TASKS

from app.task_style import TASK_LABELS, TASK_SHORTCUTS
from app.window.documents import DocumentController
from app.window.file_actions import FileActions
from app.window.main_window import MainWindow
from app.window.model import ModelController
from app.window.regions import RegionController

Keys = QKeySequence.StandardKey
SEPARATOR = None


class Entry(NamedTuple):
    key: str
    text: str
    slot: Callable
    shortcut: object = None  # a key string, a StandardKey, or a list of QKeySequence
    tip: str = ""


def _entries(window: MainWindow, documents: DocumentController, regions: RegionController, model: ModelController,
             files: FileActions) -> list[Entry]:
    view = window.page_view
    return [
        Entry("open", "&Open…", documents.open_dialog, Keys.Open, "Open an image or PDF"),
        Entry("paste", "&Paste image", documents.paste, Keys.Paste, "Open the image or file on the clipboard"),
        Entry("open_session", "Open &Session…", files.open_session_dialog, "Ctrl+Shift+O"),
        Entry("save_session", "&Save Session", files.save_session, Keys.Save),
        Entry("save_session_as", "Save Session &As…", files.save_session_as, Keys.SaveAs),
        Entry("reopen_last", "Reopen &Last Session", files.reopen_last_session),
        Entry("export_markdown", "Export &Markdown…", files.export_markdown_dialog, "Ctrl+E"),
        Entry("export_csv", "Export Tables as &CSV…", files.export_csv_dialog),
        Entry("export_csv_excel", "Export Tables as CSV for &Excel…", files.export_csv_excel_dialog),
        Entry("export_json", "Export &JSON…", files.export_json_dialog),
        Entry("settings", "&Settings…", model.open_settings, QKeySequence.keyBindings(Keys.Preferences),
              "Device, precision, token budgets, PDF resolution, theme and autosave"),
        Entry("model_manager", "&Model…", model.show_manager, None, "Get the model or choose its folder"),
        Entry("quit", "&Quit", window.close, Keys.Quit),
        Entry("zoom_in", "Zoom &in", view.zoom_in, [QKeySequence(Keys.ZoomIn), QKeySequence("Ctrl+=")]),
        Entry("zoom_out", "Zoom &out", view.zoom_out, Keys.ZoomOut),
        Entry("fit_page", "Fit &page", view.fit_page, "Ctrl+0"),
        Entry("fit_width", "Fit &width", view.fit_width, "Ctrl+2"),
        Entry("actual_size", "&Actual size", view.actual_size, "Ctrl+1"),
        Entry("prev_page", "P&revious page", documents.prev_page, "PgUp"),
        Entry("next_page", "&Next page", documents.next_page, "PgDown"),
        Entry("whole_page", "&Whole page", regions.run_whole_page, "Ctrl+Return", "Recognize the whole current page"),
        Entry("rerun", "&Run again", regions.rerun_selected, "Ctrl+R", "Run the selected region again"),
        Entry("run_page", "Run all regions of this &page", regions.run_page_regions, "Ctrl+Shift+R",
              "Recognize every region of the current page together (decoded as one batch)"),
        Entry("delete", "&Delete region", regions.delete_selected, Keys.Delete, "Delete the selected region"),
        Entry("cancel", "&Stop", regions.cancel_current, "Esc", "Stop the region being recognized"),
        Entry("cancel_all", "Stop &all", regions.cancel_all, "Ctrl+Shift+.", "Stop every queued and running region"),
        Entry("about", "&About GLM-OCR Studio", model.show_about),
        *(_task_entry(task, regions) for task in TASKS),
    ]


def _task_entry(task: str, regions: RegionController) -> Entry:
    label, key = TASK_LABELS[task], TASK_SHORTCUTS[task]
    return Entry(f"task_{task}", label, lambda _=False, t=task: regions.set_task(t), key,
                 f"{label} ({key}): task for the selected region and for new regions")


FILE_MENU = ["open", "recent", "paste", SEPARATOR, "open_session", "save_session", "save_session_as", "reopen_last",
             "export", SEPARATOR, "settings", "model_manager", "quit"]
EXPORT_MENU = ["export_markdown", "export_csv", "export_csv_excel", "export_json"]
VIEW_MENU = ["zoom_in", "zoom_out", "fit_page", "fit_width", "actual_size", SEPARATOR, "prev_page", "next_page"]
REGIONS_MENU = [f"task_{t}" for t in TASKS] + [SEPARATOR, "whole_page", "rerun", "run_page", "delete", SEPARATOR,
                                                 "cancel", "cancel_all"]
HELP_MENU = ["about"]
TOOLBAR = ["open", "paste", SEPARATOR, "prev_page", "next_page", SEPARATOR, "zoom_out", "zoom_in", "fit_width",
           "fit_page", SEPARATOR] + [f"task_{t}" for t in TASKS] + [SEPARATOR, "whole_page", "cancel", "cancel_all"]


def build_actions(window: MainWindow, documents: DocumentController, regions: RegionController,
                  model: ModelController, files: FileActions) -> dict[str, QAction]:
    """One QAction per entry, added to the window so its shortcut works even with the toolbar hidden. The task
    actions are checkable and exclusive; the one for the current default task starts checked."""
    actions = {entry.key: _action(window, entry) for entry in _entries(window, documents, regions, model, files)}
    group = QActionGroup(window)
    group.setExclusive(True)
    for task in TASKS:
        actions[f"task_{task}"].setCheckable(True)
        group.addAction(actions[f"task_{task}"])
    actions[f"task_{regions.default_task()}"].setChecked(True)
    return actions


def _action(window: MainWindow, entry: Entry) -> QAction:
    action = QAction(entry.text, window)
    if entry.shortcut is not None:
        shortcut = entry.shortcut
        action.setShortcuts(shortcut if isinstance(shortcut, list) else [QKeySequence(shortcut)])
    action.setToolTip(entry.tip or entry.text.replace("&", "").replace("…", ""))
    action.setStatusTip(action.toolTip())
    action.triggered.connect(entry.slot)
    window.addAction(action)
    return action


def install_menus(window: MainWindow, actions: dict[str, QAction], fill_recent: Callable[[QMenu], None]) -> None:
    """The menu bar (File, View, Regions, Help) and the main toolbar."""
    bar = window.menuBar()
    file_menu = bar.addMenu("&File")
    recent = QMenu("Open &Recent", file_menu)
    recent.aboutToShow.connect(lambda: fill_recent(recent))
    export = QMenu("&Export", file_menu)
    _fill(export, EXPORT_MENU, actions)
    _fill(file_menu, FILE_MENU, actions, submenus={"recent": recent, "export": export})
    view_menu = bar.addMenu("&View")
    _fill(view_menu, VIEW_MENU, actions)
    for dock in window.docks.values():
        view_menu.addAction(dock.toggleViewAction())
    _fill(bar.addMenu("&Regions"), REGIONS_MENU, actions)
    _fill(bar.addMenu("&Help"), HELP_MENU, actions)
    _build_toolbar(window, actions)


def _fill(menu: QMenu, keys: list, actions: dict[str, QAction], submenus: dict[str, QMenu] | None = None) -> None:
    for key in keys:
        if key is SEPARATOR:
            menu.addSeparator()
        elif submenus and key in submenus:
            menu.addMenu(submenus[key])
        else:
            menu.addAction(actions[key])


def _build_toolbar(window: MainWindow, actions: dict[str, QAction]) -> None:
    toolbar = window.addToolBar("Main")
    toolbar.setObjectName("toolbar_main")  # saveState needs stable names
    toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    for key in TOOLBAR:
        toolbar.addSeparator() if key is SEPARATOR else toolbar.addAction(actions[key])


def show_page_actions(actions: dict[str, QAction], page: int, page_count: int) -> None:
    """Previous and next page only where there is one."""
    actions["prev_page"].setEnabled(page > 0)
    actions["next_page"].setEnabled(page < page_count - 1)


def check_task(actions: dict[str, QAction], task: str) -> None:
    actions[f"task_{task}"].setChecked(True)
