"""The main window's layout: the open documents as tabs over the page in the middle, pages and regions on the left,
results on the right, and the status bar. It shows what the controllers tell it and reports the user's drops and the closing as signals; it knows
no controller, no engine and no session (``app.main`` connects them)."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (QDockWidget, QLabel, QListWidget, QMainWindow, QMessageBox, QProgressBar, QPushButton,
                               QStackedWidget, QTabBar, QVBoxLayout, QWidget)

from app import intake
from app.results.cards import ResultsPanel
from app.results.document_view import DocumentView
from app.settings import APP_NAME, Settings
from app.window.about import about_text
from app.window.first_run import FirstRunPanel
from app.window.page_view import PageView
from app.window.region_list import RegionList

THUMB_WIDTH = 120
STATUS_HINT_MS = 6000
NO_DOCUMENT_HINT = "Open a document first."
DEFAULT_SIZE = (1280, 820)


class MainWindow(QMainWindow):
    mime_dropped = Signal(object)  # QMimeData the user dropped on the window (something worth opening)
    closing = Signal()  # emitted inside closeEvent: receivers stop the engine and release the document first

    def __init__(self, settings: Settings, results: ResultsPanel):
        super().__init__()
        self.settings = settings
        self.results = results
        self.last_error = ""  # last message shown in an error box (tests and logs read it)
        self.message_box: QMessageBox | None = None
        self.docks: dict[str, QDockWidget] = {}
        self.setWindowTitle(APP_NAME)
        self.setAcceptDrops(True)
        self._build_widgets()
        self._restore_geometry()

    # --- layout -----------------------------------------------------------------------------------

    def _build_widgets(self) -> None:
        self.page_view = PageView()
        self.page_view.setAcceptDrops(False)  # drops go to the window, whatever is under the cursor
        self.page_view.viewport().setAcceptDrops(False)
        self.document_tabs = _document_tabs()
        self.page_area = QWidget()  # the tabs and the page of the one on screen
        self.page_area.setAccessibleName("Open documents")
        column = QVBoxLayout(self.page_area)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.document_tabs)
        column.addWidget(self.page_view, 1)
        self.empty_state = self._make_empty_state()
        self.center = QStackedWidget()
        self.center.addWidget(self.empty_state)
        self.center.addWidget(self.page_area)
        self.setCentralWidget(self.center)
        self.thumbnails = _thumbnail_list()
        self.region_list = RegionList()
        self.first_run = FirstRunPanel()
        self.results.top_area.addWidget(self.first_run)
        self._add_dock("pages", "Pages", self.thumbnails, Qt.DockWidgetArea.LeftDockWidgetArea)
        self._add_dock("regions", "Regions", self.region_list, Qt.DockWidgetArea.LeftDockWidgetArea)
        self._add_dock("results", "Results", self.results, Qt.DockWidgetArea.RightDockWidgetArea)
        self.document_view = DocumentView()  # the whole document as Markdown, a tab beside the results
        self._add_dock("document", "Document", self.document_view, Qt.DockWidgetArea.RightDockWidgetArea)
        self.tabifyDockWidget(self.docks["results"], self.docks["document"])
        self.docks["results"].raise_()
        self.resizeDocks([self.docks["pages"], self.docks["results"]], [230, 440], Qt.Orientation.Horizontal)
        self._build_status_bar()

    def _make_empty_state(self) -> QWidget:
        widget = QWidget()
        widget.setAccessibleName("No document open")
        paste = QKeySequence(QKeySequence.StandardKey.Paste).toString(QKeySequence.SequenceFormat.NativeText)
        title = QLabel("<h2>Open a document to start</h2>"
                       "<p>Images (PNG, JPEG, TIFF, WebP, BMP, GIF) and PDFs.<br>"
                       f"Drop a file or a picture here, or paste one with {paste}.</p>")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_open_button = QPushButton("Open…")
        self.empty_open_button.setAccessibleName("Open a document")
        self.empty_paste_button = QPushButton("Paste from clipboard")
        self.empty_paste_button.setAccessibleName("Paste an image from the clipboard")
        column = QVBoxLayout(widget)
        column.addStretch(1)
        column.addWidget(title)
        for button in (self.empty_open_button, self.empty_paste_button):
            button.setMinimumWidth(220)
            column.addWidget(button, 0, Qt.AlignmentFlag.AlignHCenter)
        column.addStretch(2)
        return widget

    def _add_dock(self, key: str, title: str, widget: QWidget, area) -> None:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{key}")  # saveState needs stable names
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        self.docks[key] = dock

    def _build_status_bar(self) -> None:
        self.model_label = QLabel("No model")
        self.model_label.setAccessibleName("Model and device")
        self.speed_label = QLabel("")
        self.speed_label.setAccessibleName("Speed of the last job")
        self.page_label = QLabel("")
        self.zoom_label = QLabel("")
        self.convert_label = QLabel("")  # "Converting page 3 of 12 …" while a conversion runs
        self.convert_label.setAccessibleName("Conversion progress")
        self.convert_bar = QProgressBar()
        self.convert_bar.setAccessibleName("Conversion progress bar")
        self.convert_bar.setMaximumWidth(160)
        for label in (self.convert_label, self.convert_bar, self.page_label, self.zoom_label, self.speed_label,
                      self.model_label):
            self.statusBar().addPermanentWidget(label)
        self.show_conversion(None)

    # --- what the controllers show ----------------------------------------------------------------

    def show_status(self, text: str, ms: int = STATUS_HINT_MS) -> None:
        self.statusBar().showMessage(text, ms)

    def show_zoom(self, zoom: float) -> None:
        self.zoom_label.setText(f"{zoom * 100:.0f}%")

    def show_conversion(self, text: str | None, done: int = 0, total: int = 0) -> None:
        """A conversion's progress in the status bar (None: none runs)."""
        self.convert_label.setVisible(text is not None)
        self.convert_bar.setVisible(text is not None)
        self.convert_label.setText(text or "")
        self.convert_bar.setRange(0, max(total, 1))
        self.convert_bar.setValue(done)

    def show_page_number(self, page: int, page_count: int) -> None:
        self.page_label.setText(f"Page {page + 1} of {page_count}")

    def show_document_name(self, name: str | None) -> None:
        self.setWindowTitle(f"{name} — {APP_NAME}" if name else APP_NAME)

    def show_document_area(self, has_document: bool) -> None:
        self.center.setCurrentWidget(self.page_area if has_document else self.empty_state)

    def key_widgets(self) -> list[QWidget]:
        """Where single-key shortcuts (task keys, Delete, Esc, PgUp/PgDown) work: the page and the lists of pages
        and regions, never a text field, a table cell or a result view, where a key is typing."""
        return [self.page_view, self.region_list, self.thumbnails, self.document_tabs]

    def show_error(self, title: str, text: str) -> None:
        self.last_error = text
        self._message_box(QMessageBox.Icon.Warning, title, text)

    def show_info(self, title: str, text: str) -> None:
        self._message_box(QMessageBox.Icon.Information, title, text)

    def show_about(self, engine_info=None) -> None:
        self._message_box(QMessageBox.Icon.NoIcon, f"About {APP_NAME}", about_text(engine_info))

    def _message_box(self, icon, title: str, text: str) -> None:
        """Window-modal and non-blocking: the worker keeps streaming and tests never hang on it."""
        box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.message_box = box
        box.open()

    # --- window events ----------------------------------------------------------------------------

    def dragEnterEvent(self, event) -> None:  # noqa: N802 (Qt name)
        if intake.can_accept(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:  # noqa: N802 (Qt name)
        self.dragEnterEvent(event)

    def dropEvent(self, event) -> None:  # noqa: N802 (Qt name)
        if not intake.can_accept(event.mimeData()):
            event.ignore()
            return
        event.acceptProposedAction()
        self.mime_dropped.emit(event.mimeData())

    def _restore_geometry(self) -> None:
        geometry, state = self.settings.get("window/geometry"), self.settings.get("window/state")
        if not (geometry and self.restoreGeometry(geometry)):
            self.resize(*DEFAULT_SIZE)
        if state:
            self.restoreState(state)

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        self.settings.set("window/geometry", bytes(self.saveGeometry().data()))
        self.settings.set("window/state", bytes(self.saveState().data()))
        self.settings.sync()
        self.closing.emit()
        super().closeEvent(event)


def _document_tabs() -> QTabBar:
    tabs = QTabBar()
    tabs.setAccessibleName("Documents")
    tabs.setDocumentMode(True)
    tabs.setTabsClosable(True)
    tabs.setMovable(True)
    tabs.setExpanding(False)
    tabs.setElideMode(Qt.TextElideMode.ElideMiddle)
    tabs.setUsesScrollButtons(True)
    return tabs


def _thumbnail_list() -> QListWidget:
    thumbs = QListWidget()
    thumbs.setAccessibleName("Pages")
    thumbs.setViewMode(QListWidget.ViewMode.IconMode)
    thumbs.setFlow(QListWidget.Flow.TopToBottom)
    thumbs.setWrapping(False)
    thumbs.setMovement(QListWidget.Movement.Static)
    thumbs.setIconSize(QSize(THUMB_WIDTH, int(THUMB_WIDTH * 1.42)))
    thumbs.setSpacing(4)
    return thumbs
