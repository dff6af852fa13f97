"""Every menu, toolbar and shortcut entry of the window, in one table, and the menus and toolbar built from it.

This is the only module that touches the menu bar and the toolbar, so what the File menu lists, and in which order,
is written down here and nowhere else.

Shortcuts without a modifier (the task keys 1-4, Delete, Esc, PgUp/PgDown) are typing anywhere text can be typed, so
they work only while the page view, the page or region list or the document tabs have the focus
(``MainWindow.key_widgets``): a digit typed into a table cell or a result view is a digit, never a task change.
Settings is Edit ▸ Preferences (Qt moves it to the application menu on macOS).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence, QUndoGroup
from PySide6.QtWidgets import QMenu

from glmocr_core.api import TASKS

from app.task_style import TASK_LABELS, TASK_SHORTCUTS
from app.window.documents import DocumentController
from app.window.editing import EditController
from app.window.file_actions import FileActions
from app.window.layout import LayoutController
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
    role: QAction.MenuRole = QAction.MenuRole.NoRole  # where macOS puts it (the application menu for some)


class Parts(NamedTuple):
    """What the actions call."""

    window: MainWindow
    documents: DocumentController
    regions: RegionController
    model: ModelController
    files: FileActions
    editing: EditController
    undo: QUndoGroup
    layout: LayoutController


def _keys(*shortcuts) -> list[QKeySequence]:
    """Several shortcuts for one action, each once (a StandardKey may already include the others)."""
    sequences: list[QKeySequence] = []
    for shortcut in shortcuts:
        found = QKeySequence.keyBindings(shortcut) if isinstance(shortcut, Keys) else [QKeySequence(shortcut)]
        sequences += [s for s in found if not s.isEmpty() and s not in sequences]
    return sequences


def _entries(parts: Parts) -> list[Entry]:
    window, documents, regions, model, files = parts.window, parts.documents, parts.regions, parts.model, parts.files
    view, editing, undo, layout = window.page_view, parts.editing, parts.undo, parts.layout
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
        Entry("export_text", "Export &Text…", files.export_text_dialog),
        Entry("export_json", "Export &JSON…", files.export_json_dialog),
        Entry("close_document", "&Close Document", files.close_current_document, Keys.Close,
              "Close the document on screen (asks first when its work is in no saved session)"),
        Entry("model_manager", "&Model…", model.show_manager, None, "Get the model or choose its folder"),
        Entry("quit", "&Quit", window.close, Keys.Quit, role=QAction.MenuRole.QuitRole),
        Entry("undo", "&Undo", undo.undo, Keys.Undo, "Undo the last change to the regions"),
        Entry("redo", "&Redo", undo.redo, _keys(Keys.Redo, "Ctrl+Y"), "Redo what was undone"),
        Entry("copy", "&Copy", editing.copy, Keys.Copy, "Copy the selected text, or the selected region's result"),
        Entry("select_all", "Select &All", editing.select_all, Keys.SelectAll, "Select all of the result's text"),
        Entry("settings", "Pre&ferences…", model.open_settings, _keys(Keys.Preferences, "Ctrl+,"),
              "Device, precision, token budgets, PDF resolution, theme and autosave",
              role=QAction.MenuRole.PreferencesRole),
        Entry("zoom_in", "Zoom &in", view.zoom_in, [QKeySequence(Keys.ZoomIn), QKeySequence("Ctrl+=")]),
        Entry("zoom_out", "Zoom &out", view.zoom_out, Keys.ZoomOut),
        Entry("fit_page", "Fit &page", view.fit_page, "Ctrl+0"),
        Entry("fit_width", "Fit &width", view.fit_width, "Ctrl+2"),
        Entry("actual_size", "&Actual size", view.actual_size, "Ctrl+1"),
        Entry("prev_page", "P&revious page", documents.prev_page, "PgUp"),
        Entry("next_page", "&Next page", documents.next_page, "PgDown"),
        Entry("next_document", "Next &document", documents.next_document, Keys.NextChild),
        Entry("prev_document", "Previous docu&ment", documents.prev_document, Keys.PreviousChild),
        Entry("whole_page", "&Whole page", regions.run_whole_page, "Ctrl+Return", "Recognize the whole current page"),
        Entry("rerun", "&Run again", regions.rerun_selected, "Ctrl+R", "Run the selected region again"),
        Entry("run_page", "Run all regions of this &page", regions.run_page_regions, "Ctrl+Shift+R",
              "Recognize every region of the current page together (decoded as one batch)"),
        Entry("delete", "&Delete region", regions.delete_selected, _keys(Keys.Delete, "Backspace"),
              "Delete the selected region (Undo brings it back)"),
        Entry("cancel", "&Stop", regions.cancel_current, "Esc", "Stop the region being recognized"),
        Entry("cancel_all", "Stop &all", layout.cancel_all, "Ctrl+Shift+.",
              "Stop every queued and running region, and a conversion"),
        Entry("detect_layout", "Detect &layout", layout.detect_this_page, "Ctrl+L",
              "Find this page's regions (text, titles, formulas, tables, pictures, headers) with the layout model"),
        Entry("detect_layout_all", "Detect layout on all pa&ges", layout.detect_all_pages, None,
              "Find the regions of every page that has none yet"),
        Entry("convert_document", "&Convert document", layout.convert_document, "Ctrl+Shift+L",
              "Detect the layout of pages without regions, then read every included region in reading order"),
        Entry("toggle_included", "&Include in document / leave out", regions.toggle_included, "Ctrl+Shift+I",
              "Include the selected region in the document, or leave it out (headers and footers start left out)"),
        Entry("about", "&About GLM-OCR Studio", model.show_about, role=QAction.MenuRole.AboutRole),
        *(_task_entry(task, regions) for task in TASKS),
    ]


def _task_entry(task: str, regions: RegionController) -> Entry:
    label, key = TASK_LABELS[task], TASK_SHORTCUTS[task]
    return Entry(f"task_{task}", label, lambda _=False, t=task: regions.set_task(t), key,
                 f"{label} ({key}): task for the selected region and for new regions")


FILE_MENU = ["open", "recent", "paste", SEPARATOR, "open_session", "save_session", "save_session_as", "reopen_last",
             "export", SEPARATOR, "close_document", SEPARATOR, "model_manager", "quit"]
EXPORT_MENU = ["export_markdown", "export_text", "export_csv", "export_csv_excel", "export_json"]
EDIT_MENU = ["undo", "redo", SEPARATOR, "copy", "select_all", "delete", SEPARATOR, "settings"]
VIEW_MENU = ["zoom_in", "zoom_out", "fit_page", "fit_width", "actual_size", SEPARATOR, "prev_page", "next_page",
             SEPARATOR, "next_document", "prev_document"]
REGIONS_MENU = [f"task_{t}" for t in TASKS] + [SEPARATOR, "whole_page", "rerun", "run_page", "delete", SEPARATOR,
                                                 "detect_layout", "detect_layout_all", "convert_document",
                                                 "toggle_included", SEPARATOR, "cancel", "cancel_all"]
HELP_MENU = ["about"]
TOOLBAR = ["open", "paste", SEPARATOR, "prev_page", "next_page", SEPARATOR, "zoom_out", "zoom_in", "fit_width",
           "fit_page", SEPARATOR] + [f"task_{t}" for t in TASKS] + [SEPARATOR, "whole_page", "detect_layout",
                                                                    "convert_document", "cancel", "cancel_all"]


# What needs a document on screen: disabled while none is open.
# (Previous and next page also need a page to go to: show_page_actions.)
DOCUMENT_ACTIONS = ["save_session", "save_session_as", *EXPORT_MENU, "close_document", "zoom_in", "zoom_out",
                    "fit_page", "fit_width", "actual_size", "whole_page", "rerun", "run_page", "delete",
                    "detect_layout", "detect_layout_all", "convert_document", "toggle_included"]


def build_actions(parts: Parts) -> dict[str, QAction]:
    """One QAction per entry, added to the window so its shortcut works even with the toolbar hidden (single keys:
    only to the widgets where a key is not typing). The task actions are checkable and exclusive; the one for the
    current default task starts checked. Undo and Redo follow the current document's history."""
    window = parts.window
    actions = {entry.key: _action(window, entry) for entry in _entries(parts)}
    group = QActionGroup(window)
    group.setExclusive(True)
    for task in TASKS:
        actions[f"task_{task}"].setCheckable(True)
        group.addAction(actions[f"task_{task}"])
    actions[f"task_{parts.regions.default_task()}"].setChecked(True)
    _follow_undo(actions, parts.undo)
    show_document_actions(actions, False)
    show_page_actions(actions, 0, 0)
    return actions


def _action(window: MainWindow, entry: Entry) -> QAction:
    action = QAction(entry.text, window)
    if entry.shortcut is not None:
        shortcut = entry.shortcut
        action.setShortcuts(shortcut if isinstance(shortcut, list) else [QKeySequence(shortcut)])
    action.setToolTip(entry.tip or entry.text.replace("&", "").replace("…", ""))
    action.setStatusTip(action.toolTip())
    action.setMenuRole(entry.role)
    action.triggered.connect(entry.slot)
    if is_typing_key(action):
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        for widget in window.key_widgets():
            widget.addAction(action)
    else:
        window.addAction(action)
    return action


def is_typing_key(action: QAction) -> bool:
    """Whether every shortcut of ``action`` is a key without Ctrl, Alt or Meta (what typing in a text produces)."""
    typing = Qt.KeyboardModifier.NoModifier, Qt.KeyboardModifier.ShiftModifier, Qt.KeyboardModifier.KeypadModifier
    shortcuts = action.shortcuts()
    return bool(shortcuts) and all(s.count() == 1 and s[0].keyboardModifiers() in typing for s in shortcuts)


def _follow_undo(actions: dict[str, QAction], undo: QUndoGroup) -> None:
    """Undo and Redo say what they would undo ("Undo Move Region #2") and are enabled only when they can."""
    for key, can, text, base in (("undo", undo.canUndoChanged, undo.undoTextChanged, "&Undo"),
                                 ("redo", undo.canRedoChanged, undo.redoTextChanged, "&Redo")):
        action = actions[key]
        action.setEnabled(False)
        can.connect(action.setEnabled)
        text.connect(lambda words, a=action, b=base: a.setText(f"{b} {words}" if words else b))


def install_menus(window: MainWindow, actions: dict[str, QAction], fill_recent: Callable[[QMenu], None]) -> None:
    """The menu bar (File, Edit, View, Regions, Help) and the main toolbar."""
    bar = window.menuBar()
    file_menu = bar.addMenu("&File")
    recent = QMenu("Open &Recent", file_menu)
    recent.aboutToShow.connect(lambda: fill_recent(recent))
    export = QMenu("&Export", file_menu)
    _fill(export, EXPORT_MENU, actions)
    _fill(file_menu, FILE_MENU, actions, submenus={"recent": recent, "export": export})
    _fill(bar.addMenu("&Edit"), EDIT_MENU, actions)
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


def show_document_actions(actions: dict[str, QAction], has_document: bool, document_count: int = 0) -> None:
    """What needs a document is enabled only while one is on screen; switching needs two."""
    for key in DOCUMENT_ACTIONS:
        actions[key].setEnabled(has_document)
    for key in ("next_document", "prev_document"):
        actions[key].setEnabled(document_count > 1)


def check_task(actions: dict[str, QAction], task: str) -> None:
    actions[f"task_{task}"].setChecked(True)
