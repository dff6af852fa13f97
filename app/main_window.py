"""The main window: document, page view, regions, results, and the engine worker behind them.

Plug-in points for other parts of the app:
- ``document_opened(DocumentSession)`` and ``session_changed()`` signals (export, sessions, autosave).
- ``show_model_manager()`` and the ``model_manager_requested`` signal (the model manager's download dialog).
- ``app.cards`` for result views and card buttons.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMetaMethod, QSize, Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QIcon, QKeySequence, QPixmap
from PySide6.QtWidgets import (QApplication, QDockWidget, QFileDialog, QLabel, QListWidget, QListWidgetItem,
                               QMainWindow, QMessageBox, QPushButton, QStackedWidget, QVBoxLayout, QWidget)

from glmocr_core.api import TASKS
from glmocr_core.errors import GlmOcrError

from app import intake
from app.about import about_text, apply_theme
from app.results.cards import ResultsPanel
from app.document.model import CANCELLED, DONE, FAILED, QUEUED, RUNNING, DocumentSession, Region, result_to_dict
from app.engine.host import EngineHost
from app.engine.options import load_options, ocr_dpi, recognize_options
from app.engine.worker import OcrJob
from app.first_run import FirstRunPanel
from app.page_render import PageRenderer
from app.page_view import PageView
from app.region_list import RegionList
from app.settings import APP_NAME, Settings
from glmocr_core.checkpoint.layout import looks_like_checkpoint
from app.task_style import TASK_LABELS, TASK_SHORTCUTS

THUMB_WIDTH = 120
DEFAULT_DPI = 200
STATUS_HINT_MS = 6000


class MainWindow(QMainWindow):
    document_opened = Signal(object)  # DocumentSession
    session_changed = Signal()  # regions added, removed, moved, re-tasked, results or edits changed
    model_manager_requested = Signal()

    def __init__(self, settings: Settings | None = None, engine_factory=None, autoload_model: bool = True):
        super().__init__()
        self.settings = settings or Settings()
        from glmocr_core.api import load_engine

        self.host = EngineHost(engine_factory or load_engine, self)
        self.document = None  # glmocr_core.documents.Document
        self.session: DocumentSession | None = None
        self.last_error = ""  # last message shown in an error box (tests and logs read it)
        self._selecting = False
        self.setWindowTitle(APP_NAME)
        self.setAcceptDrops(True)
        self._build_widgets()
        self._build_actions()
        self._build_menus_and_toolbar()
        self._connect_engine()
        self._restore_window()
        self._set_default_task(self.settings.get("default_task"))
        if autoload_model:
            self.load_model()
        else:
            self.first_run.show_missing(self.settings.model_dir())

    # ====================================================================================
    # construction
    # ====================================================================================

    def _build_widgets(self) -> None:
        self.page_view = PageView()
        self.page_view.setAcceptDrops(False)  # drops go to the window, whatever is under the cursor
        self.page_view.viewport().setAcceptDrops(False)
        self.empty_state = self._make_empty_state()
        self.center = QStackedWidget()
        self.center.addWidget(self.empty_state)
        self.center.addWidget(self.page_view)
        self.setCentralWidget(self.center)
        self.thumbnails = self._make_thumbnail_list()
        self.region_list = RegionList()
        self.results = ResultsPanel()
        self.first_run = FirstRunPanel()
        self.results.top_area.addWidget(self.first_run)
        self.thumb_renderer = PageRenderer(self)
        self.thumb_renderer.rendered.connect(self._on_thumbnail_rendered)
        self._add_dock("pages", "Pages", self.thumbnails, Qt.DockWidgetArea.LeftDockWidgetArea)
        self._add_dock("regions", "Regions", self.region_list, Qt.DockWidgetArea.LeftDockWidgetArea)
        self._add_dock("results", "Results", self.results, Qt.DockWidgetArea.RightDockWidgetArea)
        self.resizeDocks([self.docks["pages"], self.docks["results"]], [230, 440], Qt.Orientation.Horizontal)
        self._build_status_bar()
        self._connect_widgets()

    def _make_empty_state(self) -> QWidget:
        widget = QWidget()
        widget.setAccessibleName("No document open")
        title = QLabel("<h2>Open a document to start</h2>"
                       "<p>Images (PNG, JPEG, TIFF, WebP, BMP, GIF) and PDFs.<br>"
                       "Drop a file or a picture here, or paste one with "
                       f"{QKeySequence(QKeySequence.StandardKey.Paste).toString(QKeySequence.SequenceFormat.NativeText)}.</p>")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_open_button = QPushButton("Open…")
        self.empty_open_button.setAccessibleName("Open a document")
        self.empty_open_button.clicked.connect(self.open_dialog)
        self.empty_paste_button = QPushButton("Paste from clipboard")
        self.empty_paste_button.setAccessibleName("Paste an image from the clipboard")
        self.empty_paste_button.clicked.connect(self.paste)
        column = QVBoxLayout(widget)
        column.addStretch(1)
        column.addWidget(title)
        for button in (self.empty_open_button, self.empty_paste_button):
            button.setMinimumWidth(220)
            column.addWidget(button, 0, Qt.AlignmentFlag.AlignHCenter)
        column.addStretch(2)
        return widget

    def _make_thumbnail_list(self) -> QListWidget:
        thumbs = QListWidget()
        thumbs.setAccessibleName("Pages")
        thumbs.setViewMode(QListWidget.ViewMode.IconMode)
        thumbs.setFlow(QListWidget.Flow.TopToBottom)
        thumbs.setWrapping(False)
        thumbs.setMovement(QListWidget.Movement.Static)
        thumbs.setIconSize(QSize(THUMB_WIDTH, int(THUMB_WIDTH * 1.42)))
        thumbs.setSpacing(4)
        thumbs.currentRowChanged.connect(self._on_thumbnail_row)
        return thumbs

    def _add_dock(self, key: str, title: str, widget: QWidget, area) -> None:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{key}")  # saveState needs stable names
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        self.docks = getattr(self, "docks", {})
        self.docks[key] = dock

    def _build_status_bar(self) -> None:
        self.model_label = QLabel("No model")
        self.model_label.setAccessibleName("Model and device")
        self.speed_label = QLabel("")
        self.speed_label.setAccessibleName("Speed of the last job")
        self.page_label = QLabel("")
        self.zoom_label = QLabel("")
        for label in (self.page_label, self.zoom_label, self.speed_label, self.model_label):
            self.statusBar().addPermanentWidget(label)

    def _connect_widgets(self) -> None:
        view = self.page_view
        view.region_drawn.connect(self._on_region_drawn)
        view.region_edited.connect(self._on_region_edited)
        view.selection_changed.connect(self.select_region)
        view.hint.connect(lambda text: self.statusBar().showMessage(text, STATUS_HINT_MS))
        view.zoom_changed.connect(lambda zoom: self.zoom_label.setText(f"{zoom * 100:.0f}%"))
        self.region_list.region_activated.connect(self.select_region)
        self.results.card_clicked.connect(self.select_region)
        self.results.rerun_requested.connect(self.run_region)
        self.results.cancel_requested.connect(self.host.cancel)
        self.results.edited.connect(lambda region_id, text: self.session_changed.emit())
        self.first_run.get_model_requested.connect(self.show_model_manager)
        self.first_run.choose_folder_requested.connect(self.choose_model_folder)

    def _action(self, key: str, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcuts(shortcut if isinstance(shortcut, list) else [QKeySequence(shortcut)])
        action.setToolTip(tip or text.replace("&", "").replace("…", ""))
        action.setStatusTip(action.toolTip())
        action.triggered.connect(slot)
        self.addAction(action)  # shortcuts work even when the toolbar is hidden
        self.actions_by_key[key] = action
        return action

    def _build_actions(self) -> None:
        self.actions_by_key: dict[str, QAction] = {}
        keys = QKeySequence.StandardKey
        a = self._action
        a("open", "&Open…", self.open_dialog, keys.Open, "Open an image or PDF")
        a("paste", "&Paste image", self.paste, keys.Paste, "Open the image or file on the clipboard")
        a("quit", "&Quit", self.close, keys.Quit)
        a("zoom_in", "Zoom &in", lambda: self.page_view.zoom_by(1.25), [QKeySequence(keys.ZoomIn),
                                                                           QKeySequence("Ctrl+=")])
        a("zoom_out", "Zoom &out", lambda: self.page_view.zoom_by(0.8), keys.ZoomOut)
        a("fit_page", "Fit &page", self.page_view.fit_page, "Ctrl+0")
        a("fit_width", "Fit &width", self.page_view.fit_width, "Ctrl+2")
        a("actual_size", "&Actual size", self.page_view.actual_size, "Ctrl+1")
        a("prev_page", "P&revious page", lambda: self.go_to_page(self.page_view.page - 1), "PgUp")
        a("next_page", "&Next page", lambda: self.go_to_page(self.page_view.page + 1), "PgDown")
        a("whole_page", "&Whole page", self.run_whole_page, "Ctrl+Return", "Recognize the whole current page")
        a("rerun", "&Run again", self.rerun_selected, "Ctrl+R", "Run the selected region again")
        a("run_page", "Run all regions of this &page", self.run_page_regions, "Ctrl+Shift+R",
          "Recognize every region of the current page together (decoded as one batch)")
        a("delete", "&Delete region", self.delete_selected, keys.Delete, "Delete the selected region")
        a("cancel", "&Stop", self.cancel_current, "Esc", "Stop the region being recognized")
        a("cancel_all", "Stop &all", self.cancel_all, "Ctrl+Shift+.", "Stop every queued and running region")
        a("model_manager", "&Model…", self.show_model_manager, None, "Get the model or choose its folder")
        a("about", "&About GLM-OCR Studio", self.show_about)
        self._build_task_actions()

    def _build_task_actions(self) -> None:
        self.task_group = QActionGroup(self)
        self.task_group.setExclusive(True)
        for task in TASKS:
            action = self._action(f"task_{task}", TASK_LABELS[task], lambda _=False, t=task: self.set_task(t),
                                  TASK_SHORTCUTS[task], f"{TASK_LABELS[task]} ({TASK_SHORTCUTS[task]}): task for "
                                  "the selected region and for new regions")
            action.setCheckable(True)
            self.task_group.addAction(action)

    def _build_menus_and_toolbar(self) -> None:
        act = self.actions_by_key
        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        file_menu.addAction(act["open"])
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu.addAction(act["paste"])
        self.file_menu = file_menu
        self.file_menu_end = file_menu.addSeparator()  # export and sessions insert their actions before this
        file_menu.addAction(act["model_manager"])
        file_menu.addAction(act["quit"])
        self._add_menu("&View", ["zoom_in", "zoom_out", "fit_page", "fit_width", "actual_size", None,
                                 "prev_page", "next_page"])
        self.view_menu = menu.actions()[-1].menu()
        for dock in self.docks.values():
            self.view_menu.addAction(dock.toggleViewAction())
        self._add_menu("&Regions", [f"task_{t}" for t in TASKS] + [None, "whole_page", "rerun", "run_page", "delete",
                                                                    None, "cancel", "cancel_all"])
        self._add_menu("&Help", ["about"])
        self._build_toolbar()

    def _add_menu(self, title: str, keys: list) -> None:
        menu = self.menuBar().addMenu(title)
        for key in keys:
            menu.addSeparator() if key is None else menu.addAction(self.actions_by_key[key])

    def _build_toolbar(self) -> None:
        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("toolbar_main")
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        layout = ["open", "paste", None, "prev_page", "next_page", None, "zoom_out", "zoom_in", "fit_width",
                  "fit_page", None] + [f"task_{t}" for t in TASKS] + [None, "whole_page", "cancel", "cancel_all"]
        for key in layout:
            toolbar.addSeparator() if key is None else toolbar.addAction(self.actions_by_key[key])
        self.toolbar = toolbar

    def _connect_engine(self) -> None:
        host = self.host
        host.model_loading.connect(self._on_model_loading)
        host.model_ready.connect(self._on_model_ready)
        host.model_failed.connect(self._on_model_failed)
        host.job_started.connect(self._on_job_started)
        host.text_delta.connect(self._on_text_delta)
        host.job_finished.connect(self._on_job_finished)
        host.job_failed.connect(self._on_job_failed)
        host.job_cancelled.connect(self._on_job_cancelled)

    # ====================================================================================
    # getting documents in
    # ====================================================================================

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a document", self.settings.get("last_folder"),
                                              intake.OPEN_DIALOG_FILTER)
        if path:
            self.open_path(path)

    def open_path(self, path: str) -> bool:
        from glmocr_core.documents.document import open_document

        try:
            document = open_document(path)
        except (GlmOcrError, OSError) as exc:
            self.show_error("Cannot open the document", str(exc))
            return False
        self.settings.set("last_folder", str(Path(path).resolve().parent))
        self.settings.add_recent_file(str(Path(path).resolve()))
        self._set_document(document, DocumentSession(path=str(Path(path).resolve()), name=Path(path).name))
        return True

    def open_image_bytes(self, data: bytes, name: str = "Pasted image") -> bool:
        from glmocr_core.documents.document import document_from_bytes

        try:
            document = document_from_bytes(data, name)
        except GlmOcrError as exc:
            self.show_error("Cannot open the image", str(exc))
            return False
        # The bytes ride along so a session save can keep a copy: the session then restores without the clipboard.
        self._set_document(document, DocumentSession(path=None, name=name, pasted_data=bytes(data)))
        return True

    def _set_document(self, document, session: DocumentSession) -> None:
        self.host.cancel_all()
        if self.document is not None:
            self.document.close()
        self.document = document
        session.kind, session.page_count = document.kind, document.page_count
        session.content_hash = document.content_hash()
        session.default_task = self.default_task()
        self.session = session
        self.center.setCurrentWidget(self.page_view)
        self.page_view.set_document(document, 0)
        self._fill_thumbnails()
        self._sync_region_views()
        self.go_to_page(0)
        self.setWindowTitle(f"{session.name} — {APP_NAME}")
        self.page_view.setFocus()
        self.document_opened.emit(session)

    def adopt_session(self, document, session: DocumentSession) -> None:
        """For session restore: show ``session`` (with its regions and results) on an already opened document."""
        self._set_document(document, session)

    def paste(self) -> None:
        incoming = intake.read_mime(QApplication.clipboard().mimeData())
        if not self.open_incoming(incoming, "Pasted image"):
            self.statusBar().showMessage("The clipboard holds no image, PDF or image file to open.", STATUS_HINT_MS)

    def open_incoming(self, incoming: intake.Incoming, image_name: str) -> bool:
        if incoming.paths:
            if len(incoming.paths) > 1:
                for extra in reversed(incoming.paths[1:]):
                    self.settings.add_recent_file(extra)
                self.statusBar().showMessage("One document at a time: the others are in File ▸ Open Recent.",
                                             STATUS_HINT_MS)
            return self.open_path(incoming.paths[0])
        if incoming.image_bytes is not None:
            return self.open_image_bytes(incoming.image_bytes, image_name)
        if incoming.remote_urls:
            self.show_error("Cannot open a web address",
                            "This app works offline and does not download pictures. Save the image to a file "
                            "first, or drag the picture itself rather than its link.")
            return True
        return False

    def dragEnterEvent(self, event) -> None:
        if intake.can_accept(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        self.dragEnterEvent(event)

    def dropEvent(self, event) -> None:
        if self.handle_drop(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def handle_drop(self, mime) -> bool:
        incoming = intake.read_mime(mime)
        if incoming.empty and not incoming.remote_urls:
            self.statusBar().showMessage("Nothing to open in what was dropped.", STATUS_HINT_MS)
            return False
        return self.open_incoming(incoming, "Dropped image")

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self.settings.get("recent_files")
        for path in recent:
            action = self.recent_menu.addAction(Path(path).name, lambda p=path: self.open_path(p))
            action.setToolTip(path)
        if not recent:
            self.recent_menu.addAction("No recent documents").setEnabled(False)

    # ====================================================================================
    # pages and thumbnails
    # ====================================================================================

    def _fill_thumbnails(self) -> None:
        self.thumbnails.blockSignals(True)
        self.thumbnails.clear()
        for page in range(self.document.page_count):
            item = QListWidgetItem(f"{page + 1}")
            item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter)
            self.thumbnails.addItem(item)
            width = self.document.page_size(page)[0]
            scale = THUMB_WIDTH * self.devicePixelRatioF() / max(width, 1)
            self.thumb_renderer.request(self.document, page, scale, ticket=("thumb", id(self.document)))
        self.thumbnails.blockSignals(False)

    def _on_thumbnail_rendered(self, ticket, page: int, image, scale: float) -> None:
        if ticket != ("thumb", id(self.document)) or page >= self.thumbnails.count():
            return
        pixmap = QPixmap.fromImage(image)
        pixmap.setDevicePixelRatio(self.devicePixelRatioF())
        icon = QIcon(pixmap)
        icon.addPixmap(pixmap, QIcon.Mode.Selected)  # no selection tint over the page picture
        self.thumbnails.item(page).setIcon(icon)

    def _on_thumbnail_row(self, row: int) -> None:
        if row >= 0 and self.document is not None and row != self.page_view.page:
            self.go_to_page(row)

    def go_to_page(self, page: int) -> None:
        if self.document is None or not 0 <= page < self.document.page_count:
            return
        if page != self.page_view.page:
            self.page_view.show_page(page)
        self.page_view.set_regions(self.session.regions_on_page(page), self._region_labels())
        self.thumbnails.blockSignals(True)
        self.thumbnails.setCurrentRow(page)
        self.thumbnails.blockSignals(False)
        self.page_label.setText(f"Page {page + 1} of {self.document.page_count}")
        self.actions_by_key["prev_page"].setEnabled(page > 0)
        self.actions_by_key["next_page"].setEnabled(page < self.document.page_count - 1)

    # ====================================================================================
    # regions
    # ====================================================================================

    def default_task(self) -> str:
        checked = self.task_group.checkedAction()
        return next((t for t in TASKS if self.actions_by_key[f"task_{t}"] is checked), "text")

    def _set_default_task(self, task: str) -> None:
        task = task if task in TASKS else "text"
        self.actions_by_key[f"task_{task}"].setChecked(True)
        self.settings.set("default_task", task)
        if self.session is not None:
            self.session.default_task = task

    def set_task(self, task: str) -> None:
        """Keys 1-4: the task for new regions, and for the selected region (which then runs again)."""
        self._set_default_task(task)
        region = self.selected_region()
        if region is not None and region.task != task:
            region.task = task
            self._region_changed(region, rerun=True)

    def selected_region(self) -> Region | None:
        if self.session is None:
            return None
        return self.session.region(self.page_view.selected_region_id() or self.results.selected_id)

    def add_region(self, page: int, box, task: str | None = None, run: bool | None = None) -> Region | None:
        if self.session is None:
            return None
        region = self.session.add_region(Region(page=page, box=box, task=task or self.default_task()))
        self._sync_region_views()
        self.select_region(region.id)
        self.session_changed.emit()
        if self.settings.get("auto_run") if run is None else run:
            self.run_region(region.id)
        return region

    def _on_region_drawn(self, page: int, box) -> None:
        self.add_region(page, box)

    def _on_region_edited(self, region_id: str, box) -> None:
        region = self.session.region(region_id) if self.session else None
        if region is not None:
            region.box = tuple(box)
            self._region_changed(region, rerun=self.settings.get("auto_run"))

    def _region_changed(self, region: Region, rerun: bool) -> None:
        if rerun:
            self.run_region(region.id)
        else:
            self._sync_region_views()
        self.session_changed.emit()

    def delete_selected(self) -> None:
        region = self.selected_region()
        if region is None:
            self.statusBar().showMessage("Select a region to delete.", STATUS_HINT_MS)
            return
        self.host.cancel(region.id, notify=False)
        self.session.remove_region(region.id)
        self.page_view.remove_region(region.id)
        self._sync_region_views()
        self.session_changed.emit()

    def run_whole_page(self) -> None:
        if self.document is None:
            self.statusBar().showMessage("Open a document first.", STATUS_HINT_MS)
            return
        width, height = self.document.page_size(self.page_view.page)
        self.add_region(self.page_view.page, (0, 0, width, height), run=True)

    def rerun_selected(self) -> None:
        region = self.selected_region()
        if region is not None:
            self.run_region(region.id)

    def run_region(self, region_id: str) -> None:
        self.run_regions([region_id])

    def run_regions(self, region_ids: list[str]) -> None:
        """Queue regions in one go, so the worker can decode those of one page (and task) as a batch."""
        regions = [r for r in (self.session.region(i) for i in region_ids) if r is not None] if self.session else []
        if not regions:
            return
        for region in regions:
            region.reset_for_run()
        if self.host.has_model or self.host.loading:
            self.host.submit_many([self._job_for(region) for region in regions])
        else:
            self.statusBar().showMessage("No model is loaded: the region will run once the model is ready.",
                                         STATUS_HINT_MS)
        self._sync_region_views()
        for region in regions:
            self._show_waiting_text(region)

    def run_page_regions(self) -> None:
        """Every region of the current page, again; asks first when that would replace the user's edits."""
        regions = self.session.regions_on_page(self.page_view.page) if self.session else []
        if not regions:
            self.statusBar().showMessage("This page has no regions to run. Draw some first.", STATUS_HINT_MS)
            return
        edited = sum(r.edited_text is not None for r in regions)
        if edited and QMessageBox.question(
                self, "Run all regions again?", f"{edited} region(s) on this page have your edits. Running them "
                "again replaces the edits with new results.") != QMessageBox.StandardButton.Yes:
            return
        on_page = {r.id for r in regions}
        self.run_regions([r.id for r in self.session.reading_order() if r.id in on_page])
        self.session_changed.emit()

    def _show_waiting_text(self, region: Region) -> None:
        card = self.results.card(region.id)
        if card is not None and not self.host.has_model:
            card.set_waiting_text("No model is loaded yet. This region runs when the model is ready." if not
                                  self.host.loading else "Waiting for the model to load…")

    def _job_for(self, region: Region) -> OcrJob:
        whole_page = tuple(region.box) == (0.0, 0.0, *self.document.page_size(region.page))
        return OcrJob(region_id=region.id, document=self.document, page=region.page,
                      box=None if whole_page else tuple(region.box), task=region.task,
                      options=recognize_options(self.settings, region.task, region.schema), dpi=ocr_dpi(self.settings))

    def cancel_current(self) -> None:
        region = self.selected_region()
        if region is not None and region.state in (QUEUED, RUNNING) and self.host.is_pending(region.id):
            self.host.cancel(region.id)
        else:
            self.host.cancel_current()

    def cancel_all(self) -> None:
        self.host.cancel_all()

    # ====================================================================================
    # selection (page view, region list and cards move together)
    # ====================================================================================

    def select_region(self, region_id: str) -> None:
        if self._selecting or self.session is None:
            return
        self._selecting = True
        try:
            region = self.session.region(region_id)
            if region is not None and region.page != self.page_view.page:
                self.go_to_page(region.page)
            self.page_view.select_region(region_id)
            self.region_list.select(region_id)
            self.results.select(region_id)
            if region is not None:
                self.actions_by_key[f"task_{region.task}"].setChecked(True)
        finally:
            self._selecting = False

    def _region_labels(self) -> dict[str, str]:
        return {r.id: f"#{n}" for n, r in enumerate(self.session.reading_order(), start=1)} if self.session else {}

    def _sync_region_views(self) -> None:
        ordered = self.session.reading_order() if self.session else []
        labels = self._region_labels()
        for region in ordered:
            if region.page == self.page_view.page:
                self.page_view.upsert_region(region, labels[region.id])
        self.region_list.sync(ordered)
        self.results.sync(ordered)
        self.results.select(self.page_view.selected_region_id() or self.results.selected_id)

    def _refresh_region(self, region: Region) -> None:
        """A state change of one region: cheaper than a full sync, same result."""
        self._sync_region_views()

    # ====================================================================================
    # engine events
    # ====================================================================================

    def load_model(self, model_dir: str | None = None) -> None:
        model_dir = model_dir or self.settings.model_dir()
        if not looks_like_checkpoint(model_dir):
            self.first_run.show_missing(model_dir)
            self.model_label.setText("No model")
            return
        self.first_run.show_loading("Starting…", 0.0)
        self.model_label.setText("Loading model…")
        self.host.load_model(model_dir, **self._load_options())

    def _load_options(self) -> dict:
        return load_options(self.settings)

    def choose_model_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose the GLM-OCR model folder", self.settings.model_dir())
        if folder:
            self.settings.set("model_dir", folder)
            if not looks_like_checkpoint(folder):
                self.first_run.show_missing(folder, "This folder has no config.json and model.safetensors.")
                return
            self.load_model(folder)

    def show_model_manager(self) -> None:
        """Replaced by the model manager; until then, say where the model goes."""
        self.model_manager_requested.emit()
        if not self.isSignalConnected(QMetaMethod.fromSignal(self.model_manager_requested)):
            self.show_info("Get the model",
                           "Download the GLM-OCR model (about 2.2 GB) from https://huggingface.co/zai-org/GLM-OCR "
                           f"and put its files in:\n\n{self.settings.model_dir()}\n\nThen restart the app, or use "
                           "“Choose folder…” to point at a folder that already has them.")

    def _on_model_loading(self, stage: str, fraction: float) -> None:
        self.first_run.show_loading(stage, fraction)
        self.model_label.setText(f"Loading model… {fraction * 100:.0f}%")

    def _on_model_ready(self, info) -> None:
        self.first_run.hide()
        self.model_label.setText(f"{Path(info.model_dir).name} · {info.device} · {info.dtype}")
        self.model_label.setToolTip(info.model_dir)
        self.statusBar().showMessage("Model ready.", STATUS_HINT_MS)
        waiting = [r for r in self.session.reading_order() if r.state == QUEUED and not self.host.is_pending(r.id)] \
            if self.session else []
        self.host.submit_many([self._job_for(region) for region in waiting])  # together: they may share a batch

    def _on_model_failed(self, message: str) -> None:
        self.first_run.show_missing(self.settings.model_dir(), message)
        self.model_label.setText("No model")
        self.statusBar().showMessage(f"The model could not be loaded: {message}", STATUS_HINT_MS)

    def _region_for_event(self, region_id: str) -> Region | None:
        return self.session.region(region_id) if self.session else None

    def _on_job_started(self, region_id: str) -> None:
        region = self._region_for_event(region_id)
        if region is not None:
            region.state, region.text = RUNNING, ""
            self._refresh_region(region)

    def _on_text_delta(self, region_id: str, text: str) -> None:
        region = self._region_for_event(region_id)
        card = self.results.card(region_id)
        if region is not None:
            region.text += text
            if card is not None:
                card.append_text(text)

    def _on_job_finished(self, region_id: str, result) -> None:
        region = self._region_for_event(region_id)
        if region is None:
            return
        region.state, region.text, region.result = DONE, result.text, result_to_dict(result)
        speed = result.timings.tokens_per_s
        self.speed_label.setText(f"{speed:.1f} tok/s ({len(result.token_ids)} tokens)")
        self._refresh_region(region)
        self.session_changed.emit()

    def _on_job_failed(self, region_id: str, message: str) -> None:
        region = self._region_for_event(region_id)
        if region is None:
            return
        region.state, region.error = FAILED, message
        self.statusBar().showMessage(f"Region failed: {message}", STATUS_HINT_MS)
        self._refresh_region(region)
        self.session_changed.emit()

    def _on_job_cancelled(self, region_id: str, partial: str) -> None:
        region = self._region_for_event(region_id)
        if region is None:
            return
        region.state, region.text = CANCELLED, partial or region.text
        self._refresh_region(region)
        self.session_changed.emit()

    # ====================================================================================
    # messages, about, window state
    # ====================================================================================

    def show_error(self, title: str, text: str) -> None:
        self.last_error = text
        self._message_box(QMessageBox.Icon.Warning, title, text)

    def show_info(self, title: str, text: str) -> None:
        self._message_box(QMessageBox.Icon.Information, title, text)

    def _message_box(self, icon, title: str, text: str) -> None:
        """Window-modal and non-blocking: the worker keeps streaming and tests never hang on it."""
        box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.message_box = box
        box.open()

    def show_about(self) -> None:
        box = QMessageBox(QMessageBox.Icon.NoIcon, f"About {APP_NAME}", about_text(self.host.engine_info),
                          QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.message_box = box
        box.open()

    def _restore_window(self) -> None:
        geometry, state = self.settings.get("window/geometry"), self.settings.get("window/state")
        if not (geometry and self.restoreGeometry(geometry)):
            self.resize(1280, 820)
        if state:
            self.restoreState(state)
        apply_theme(self.settings.get("theme"))

    def closeEvent(self, event) -> None:
        self.settings.set("window/geometry", bytes(self.saveGeometry().data()))
        self.settings.set("window/state", bytes(self.saveState().data()))
        self.settings.sync()
        self.host.shutdown()
        if self.document is not None:
            self.document.close()
        super().closeEvent(event)
