"""The desktop app, composed in one place: ``glmocr-studio [files...]`` or ``python -m app.main [files...]``.

``build`` makes every part of the window and ``_wire`` is the one list of connections between them; ``boot`` is
what a start does; ``connect_application`` adds the process-wide hooks of a real run (tests build many windows in one
QApplication and skip it). The engine is whatever ``EngineLoader``s ``build`` is given: the real ones,
``glmocr_core.loader.load_engine`` for this computer and ``load_remote_engine`` for a server, are named here only
(which one a load uses is the settings' choice: ``app.engine.options.engine_choice``).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Callable

from PySide6.QtCore import QEvent, QRect, QSize, QTimer
from PySide6.QtGui import QAction, QCursor
from PySide6.QtWidgets import QApplication  # importing is fine; QtWebEngine must only precede *creating* one

from glmocr_core.api import EngineLoader
from glmocr_core.loader import load_engine

from app.capture.single_instance import CAPTURE_FLAG
from app.document.autosave import Autosaver
from app.document.workspace import Workspace
from app.engine.host import EngineHost
from app.logging_setup import setup_logging
from app.qt_compat import install_refcount_guards
from app.results.cards import ResultsPanel
from app.results.web import release_web_views
from app.settings import APP_NAME, ORG_NAME, Settings
from app.window.about import apply_theme
from app.window.actions import (Parts, build_actions, check_task, install_menus, show_document_actions,
                                show_page_actions)
from app.window.documents import DocumentController
from app.window.editing import EditController
from app.window.file_actions import AskRelink, FileActions
from app.window.layout import LayoutController
from app.window.main_window import MainWindow
from app.window.model import ModelController
from app.window.regions import RegionController
from app.window.undo import UndoHistories

DESKTOP_FILE_NAME = "glmocr-studio"  # the .desktop file's stem (packaging/metadata.GUI_NAME): Wayland matches on it
AUTOSAVE_FAILED_MS = 10_000


@dataclass
class CaptureParts:
    """Screen capture, made for a real run only (tests build many windows in one process): the single-instance
    server a second launch talks to, the capture controller and popup, the tray icon and the global shortcut."""

    server: object
    controller: object
    popup: object
    flow: object
    hooks: object  # app.capture.desktop_hooks.DesktopHooks: the tray and the shortcut, following the settings


@dataclass
class Studio:
    """Every part of one window, as ``build`` made them."""

    settings: Settings
    host: EngineHost
    workspace: Workspace
    window: MainWindow
    results: ResultsPanel
    documents: DocumentController
    regions: RegionController
    model: ModelController
    file_actions: FileActions
    editing: EditController
    undo: UndoHistories
    layout: LayoutController
    actions: dict[str, QAction]


def load_remote_engine(urls: str, *, progress=None, **remote_settings):
    """The remote ``EngineLoader``: ``RemoteEngine.load``, imported on the worker thread when a server is chosen
    (httpx need not slow down every start)."""
    from glmocr_core.backends.remote import RemoteEngine

    return RemoteEngine.load(urls, progress=progress, **remote_settings)


def build(settings: Settings, engine_loader: EngineLoader, *, remote_loader: EngineLoader = load_remote_engine,
          downloader=None, list_devices=None, ask_relink: AskRelink | None = None, layout_loader=None) -> Studio:
    """The whole window: every part constructed here and every connection between parts made in ``_wire``."""
    results = ResultsPanel()
    window = MainWindow(settings, results)
    host = EngineHost(engine_loader, window, remote_loader=remote_loader, layout_loader=layout_loader)
    workspace = Workspace(window)
    documents = DocumentController(window, workspace, settings, host)
    undo = UndoHistories(window)
    regions = RegionController(window, workspace, documents, settings, host, undo)
    model = ModelController(window, settings, host, regions, downloader=downloader, list_devices=list_devices)
    autosaver = Autosaver(workspace.entries, delay_ms=lambda: settings.get("autosave_interval_s") * 1000,
                          current=lambda: workspace.current_index, parent=window)
    file_actions = FileActions(window, workspace, documents, results, settings, autosaver, ask_relink)
    editing = EditController(window, regions)
    layout = LayoutController(window, workspace, documents, settings, host, regions, undo, model.show_manager)
    actions = build_actions(Parts(window, documents, regions, model, file_actions, editing, undo.group, layout))
    install_menus(window, actions, fill_recent=documents.fill_recent_menu)
    studio = Studio(settings, host, workspace, window, results, documents, regions, model, file_actions, editing, undo,
                    layout, actions)
    _wire(studio)
    return studio


def _wire(studio: Studio) -> None:
    """The connections between parts. A widget's connections to its own children stay inside the widget."""
    _wire_engine(studio)
    _wire_page_view(studio)
    _wire_panels(studio)
    _wire_model(studio)
    _wire_documents(studio)
    _wire_layout(studio)
    _wire_window(studio)


def _wire_engine(s: Studio) -> None:
    host, model, regions = s.host, s.model, s.regions
    host.model_loading.connect(model.on_loading)
    host.model_ready.connect(model.on_ready)
    host.model_failed.connect(model.on_failed)
    for model_news in (host.model_loading, host.model_failed):  # waiting cards say what they wait for
        model_news.connect(regions.refresh_waiting_texts)
    host.job_started.connect(regions.on_job_started)
    host.text_delta.connect(regions.on_text_delta)
    host.job_finished.connect(regions.on_job_finished)
    host.job_failed.connect(regions.on_job_failed)
    host.job_cancelled.connect(regions.on_job_cancelled)
    host.progress.connect(regions.on_progress)  # live "N tokens · 3.2 s" on running cards


def _wire_page_view(s: Studio) -> None:
    view, regions = s.window.page_view, s.regions
    view.region_drawn.connect(regions.on_region_drawn)
    view.region_edited.connect(regions.on_region_edited)
    view.selection_changed.connect(regions.select_region)
    view.hint.connect(s.window.show_status)
    view.zoom_changed.connect(s.window.show_zoom)


def _wire_panels(s: Studio) -> None:
    window, regions, results = s.window, s.regions, s.results
    window.region_list.region_activated.connect(regions.select_region)
    window.thumbnails.currentRowChanged.connect(s.documents.on_thumbnail_row)
    results.card_clicked.connect(regions.select_region)
    results.rerun_requested.connect(regions.rerun_region)  # asks first when it would replace the user's edits
    results.cancel_requested.connect(regions.stop_region)  # the user's Stop, told apart from the engine's
    results.edited.connect(regions.on_result_edited)  # an undo step of its document
    results.template_chosen.connect(regions.on_template_chosen)  # an Extract card's template prompt
    results.larger_budget_requested.connect(regions.rerun_with_larger_budget)  # a result cut by the token budget
    window.first_run.get_model_requested.connect(s.model.show_manager)
    window.first_run.choose_folder_requested.connect(s.model.choose_folder)


def _wire_model(s: Studio) -> None:
    manager = s.model.manager
    manager.model_ready.connect(s.model.load_model)
    manager.model_dir_changed.connect(s.model.show_folder_state)
    manager.sample_requested.connect(s.documents.open_path)


def _wire_documents(s: Studio) -> None:
    workspace, documents, actions, tabs = s.workspace, s.documents, s.actions, s.window.document_tabs
    workspace.session_changed.connect(s.file_actions.autosaver.mark_dirty)
    workspace.document_opened.connect(s.regions.on_document_opened)
    workspace.document_opened.connect(s.file_actions.on_document_opened)
    workspace.current_changed.connect(s.undo.on_current_changed)  # Edit > Undo follows the document
    workspace.document_closing.connect(s.undo.on_document_closing)
    workspace.current_changed.connect(lambda opened: _show_document_actions(s, opened))
    workspace.current_changed.connect(documents.on_current_changed)
    workspace.current_changed.connect(s.regions.on_current_changed)
    workspace.document_closing.connect(s.regions.on_document_closing)
    workspace.document_closed.connect(documents.on_document_closed)
    workspace.document_closed.connect(s.file_actions.on_document_closed)
    workspace.documents_changed.connect(documents.sync_tabs)
    tabs.currentChanged.connect(documents.on_tab_chosen)
    tabs.tabMoved.connect(documents.on_tab_moved)
    tabs.tabCloseRequested.connect(s.file_actions.close_document_at)
    documents.image_opened.connect(s.regions.run_pasted_image)  # the snip habit (a setting)
    documents.page_changed.connect(lambda page, count: show_page_actions(actions, page, count))
    documents.page_changed.connect(s.window.show_page_number)
    documents.page_changed.connect(s.regions.show_page)
    s.regions.task_changed.connect(lambda task: check_task(actions, task))


def _wire_layout(s: Studio) -> None:
    """Detect layout, Convert document and the document view (after the regions' own engine connections, so a
    region's outcome is in the session before the conversion counts it)."""
    host, layout, workspace = s.host, s.layout, s.workspace
    host.layout_page.connect(layout.on_layout_page)
    host.layout_failed.connect(layout.on_layout_failed)
    host.layout_done.connect(layout.on_layout_done)
    for ended in (host.job_finished, host.job_failed, host.job_cancelled):
        ended.connect(layout.on_region_ended)
    workspace.session_changed.connect(layout.schedule_view)  # edits, moves, deletions, undo: the view follows
    workspace.current_changed.connect(layout.schedule_view)
    workspace.document_closing.connect(layout.on_document_closing)
    s.window.document_view.region_clicked.connect(layout.on_view_clicked)  # the region selects everywhere


def _wire_window(s: Studio) -> None:
    window = s.window
    window.empty_open_button.clicked.connect(s.actions["open"].trigger)
    window.empty_paste_button.clicked.connect(s.actions["paste"].trigger)
    window.mime_dropped.connect(s.documents.handle_drop)
    window.closing.connect(s.host.shutdown)  # direct and synchronous: the engine thread has stopped after close()
    window.closing.connect(s.documents.close)
    s.file_actions.autosaver.failed.connect(lambda message: window.show_status(message, AUTOSAVE_FAILED_MS))


def _show_document_actions(s: Studio, opened) -> None:
    show_document_actions(s.actions, opened is not None, len(s.workspace.documents))
    if opened is None:
        show_page_actions(s.actions, 0, 0)


def boot(studio: Studio, paths: list[str]) -> None:
    """What a start does: the theme, the model (or the first-run panel), the window, the command line's documents,
    and, once the event loop runs, the offer to restore work a crash left behind."""
    apply_theme(studio.settings.get("theme"))
    studio.model.load_model()
    studio.window.show()
    studio.documents.open_command_line(paths)
    QTimer.singleShot(0, studio.file_actions, studio.file_actions.offer_restore)


# --- the process ----------------------------------------------------------------------------------------------


def _import_webengine_early() -> None:
    """QtWebEngine (used by result views) must be imported before the QApplication exists."""
    try:
        import PySide6.QtWebEngineWidgets  # noqa: F401
    except ImportError:
        pass


def set_identity(application: QApplication) -> None:
    """Window icon, and the desktop file name Wayland uses to match windows to the menu entry and icon."""
    from PySide6.QtGui import QIcon

    from app import resources_setup

    application.setDesktopFileName(DESKTOP_FILE_NAME)
    icon = resources_setup.icon_path()
    if icon.is_file():
        application.setWindowIcon(QIcon(str(icon)))


def open_file_event(open_file: Callable[[str], None], event) -> bool:
    """macOS delivers "Open with" and Dock drops as QEvent.FileOpen to the application instead of arguments."""
    if event.type() != QEvent.Type.FileOpen or not event.file():
        return False
    open_file(event.file())
    return True


class StudioApplication(QApplication):
    """Only to receive FileOpen: an application-wide Python event filter would see every event of every object
    (QtWebEngine's too) and was seen to crash the interpreter."""

    def __init__(self, argv: list[str]):
        super().__init__(argv)
        self._open_file: Callable[[str], None] | None = None

    def set_file_open_handler(self, open_file: Callable[[str], None]) -> None:
        self._open_file = open_file

    def event(self, event):  # noqa: N802 (Qt name)
        if self._open_file is not None and open_file_event(self._open_file, event):
            return True
        return super().event(event)


def create_application(argv: list[str]) -> QApplication:
    """The QApplication (an existing one is reused), with WebEngine imported and the refcount guard installed
    first: both must come before any other Qt object or signal."""
    _import_webengine_early()
    install_refcount_guards()  # before any signal traffic: see app/qt_compat.py
    QApplication.setOrganizationName(ORG_NAME)  # before the first QSettings and autosave lock
    QApplication.setApplicationName(APP_NAME)
    application = QApplication.instance() or StudioApplication(argv)
    setup_logging()
    set_identity(application)
    return application


def connect_application(application: QApplication, studio: Studio) -> None:
    """Process-wide hooks, made only for a real run. Qt calls aboutToQuit's slots in this order."""
    quitting = application.aboutToQuit
    quitting.connect(studio.file_actions.finish)  # first: commits the views' edits and keeps the last session
    quitting.connect(studio.model.shutdown)  # cancels a running download
    quitting.connect(release_web_views)  # Chromium pages must die before the default profile does
    if isinstance(application, StudioApplication):
        application.set_file_open_handler(studio.documents.open_file)


def start(argv: list[str] | None = None) -> tuple[QApplication, Studio]:
    """The application and the shown window (``argv``: the arguments after the program name)."""
    application = create_application(sys.argv if argv is None else [sys.argv[0], *argv])
    studio = build(Settings(), load_engine)
    connect_application(application, studio)
    arguments = application.arguments()[1:]
    capture = install_capture(application, studio)
    boot(studio, [a for a in arguments if not a.startswith("-")])
    if CAPTURE_FLAG in arguments:  # the first launch of a shortcut: no studio was running to ask
        QTimer.singleShot(0, capture.controller.start_capture)
    return application, studio


def install_capture(application: QApplication, studio: Studio) -> CaptureParts:
    """Screen capture for this process: every part made and connected here (see ``CaptureParts``)."""
    from app.capture.controller import CaptureController
    from app.capture.desktop_hooks import DesktopHooks
    from app.capture.grabbers import Desktop
    from app.capture.hotkeys import create_hotkey
    from app.capture.popup import ResultPopup
    from app.capture.single_instance import InstanceServer
    from app.capture.tray import create_tray
    from app.window.capture_flow import CaptureFlow, raise_window

    settings, window = studio.settings, studio.window
    controller = CaptureController(task=lambda: settings.get("capture/default_task"),
                                   confirm_on_release=settings.get("capture/confirm_on_release"), parent=window)
    popup = ResultPopup()
    flow = CaptureFlow(window, studio.workspace, studio.documents, studio.regions, settings, popup, parent=window)
    server = InstanceServer(parent=window)
    server.listen()
    hooks = DesktopHooks(settings, lambda: create_tray(application.windowIcon(), parent=window),
                         lambda: create_hotkey(Desktop.current(), window), window.show_status, parent=window)
    parts = CaptureParts(server, controller, popup, flow, hooks)
    _wire_capture(studio, parts, raise_window, application)
    return parts


def _wire_capture(s: Studio, parts: CaptureParts, raise_window, application: QApplication) -> None:
    controller, popup, flow = parts.controller, parts.popup, parts.flow
    for starter in (parts.server.capture_requested, parts.hooks.capture_requested):
        starter.connect(controller.start_capture)
    parts.server.open_requested.connect(lambda paths: (s.documents.open_command_line(paths), raise_window(s.window)))
    parts.hooks.open_window_requested.connect(lambda: raise_window(s.window))
    parts.hooks.quit_requested.connect(application.quit)
    s.model.settings_applied.connect(parts.hooks.follow)
    s.model.settings_applied.connect(
        lambda keys: setattr(controller, "confirm_on_release", s.settings.get("capture/confirm_on_release")))
    controller.about_to_grab.connect(popup.hide)
    controller.captured.connect(lambda crop, task: popup.show_near(controller.last_selection, task))
    controller.captured.connect(flow.on_captured)
    controller.failed.connect(lambda message: (popup.show_near(QRect(QCursor.pos(), QSize(1, 1))),
                                               popup.show_error(message)))
    popup.open_in_studio_requested.connect(flow.open_in_studio)
    s.host.text_delta.connect(flow.on_text_delta)
    s.host.job_finished.connect(flow.on_job_finished)
    s.host.job_failed.connect(flow.on_job_failed)
    s.host.job_cancelled.connect(flow.on_job_cancelled)
    application.aboutToQuit.connect(parts.server.close)
    application.aboutToQuit.connect(parts.hooks.close)


def run(application: QApplication, studio: Studio) -> int:
    code = application.exec()
    if studio.host.is_running():  # a model load that would not stop: exit without Qt aborting on it
        os._exit(code)
    return code


def main(argv: list[str] | None = None) -> int:
    from app.capture.single_instance import forward_to_running
    from app.webengine_env import prepare_webengine

    if forward_to_running(sys.argv[1:] if argv is None else list(argv)):
        return 0  # a studio is running here: it captures or opens the files, and this launch is done
    prepare_webengine()  # before Qt starts, for `python -m app.main` too (the glmocr-studio command did it already)
    return run(*start(argv))


if __name__ == "__main__":
    sys.exit(main())
