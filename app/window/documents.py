"""Getting documents into the window, switching between the open ones, and moving through their pages.

Files (the Open dialog, recent files, the command line, macOS "Open with"), pasted and dropped pictures, and sessions
being restored all end in ``_show``: the document joins the open ones as a new tab (the others stay open, with
everything done on them) and comes on screen. ``on_current_changed`` shows whichever document is current: the page
view, the thumbnails and the tabs follow, and ``page_changed`` tells the rest of the window which page is on screen.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QObject, QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import QApplication, QFileDialog, QListWidgetItem, QMenu

from glmocr_core.errors import GlmOcrError

from app import intake
from app.document.model import DocumentSession
from app.document.workspace import OpenDocument, Workspace
from app.engine.host import EngineHost
from app.settings import Settings
from app.window.main_window import THUMB_WIDTH, MainWindow
from app.window.page_render import PageRenderer

PASTED_NAME, DROPPED_NAME, OPENED_NAME = "Pasted image", "Dropped image", "Image"
PLACEHOLDER_COLOR = "#f4f4f4"  # a page not drawn yet: the shape of the page, nearly white


def dialog_folder(settings: Settings) -> str:
    """Where a file dialog starts: the folder of the last file the user chose, else their home folder (never the
    folder the app happens to run in)."""
    last = settings.get("last_folder")
    return last if last and Path(last).is_dir() else str(Path.home())


def remember_folder(settings: Settings, path: str) -> None:
    """The folder of a file the user chose in a dialog: the next dialog starts there."""
    settings.set("last_folder", str(Path(path).resolve().parent))


def thumbnail_size(page_size: tuple[float, float]) -> QSize:
    """The size a page's thumbnail shows at: THUMB_WIDTH wide, inside the list's icon box (tall pages shrink)."""
    width, height = max(page_size[0], 1.0), max(page_size[1], 1.0)
    box_height = int(THUMB_WIDTH * 1.42)
    shown = QSize(THUMB_WIDTH, max(1, round(THUMB_WIDTH * height / width)))
    return shown if shown.height() <= box_height else QSize(max(1, round(box_height * width / height)), box_height)


class DocumentController(QObject):
    page_changed = Signal(int, int)  # page index on screen, page count
    image_opened = Signal()  # a pasted or dropped picture came in as a new document (it may be read at once)

    def __init__(self, window: MainWindow, workspace: Workspace, settings: Settings, host: EngineHost):
        super().__init__(window)
        self.window, self.workspace, self.settings, self.host = window, workspace, settings, host
        self.thumb_renderer = PageRenderer(self)
        self.thumb_renderer.rendered.connect(self._on_thumbnail_rendered)
        self._thumbnails: dict[int, dict[int, QIcon]] = {}  # id(document) -> page -> drawn thumbnail

    # --- files ------------------------------------------------------------------------------------

    def open_dialog(self) -> None:
        """Open one file or several (each becomes a document of its own)."""
        paths, _ = QFileDialog.getOpenFileNames(self.window, "Open documents", dialog_folder(self.settings),
                                                intake.OPEN_DIALOG_FILTER)
        if paths:
            self.open_incoming(intake.Incoming(paths=list(paths)), OPENED_NAME)

    def open_path(self, path: str) -> bool:
        """Open a file as a new document (or show it, when it is open already)."""
        from glmocr_core.documents.document import open_document  # pymupdf: loaded when the first file opens

        resolved = Path(path).resolve()
        already = self._open_with_path(path)
        if already is not None:
            self.switch_to(already)
            self.window.show_status(f"{already.name} is open already.")
            return True
        try:
            document = open_document(path)
        except (GlmOcrError, OSError) as exc:
            self.window.show_error("Cannot open the document", str(exc))
            return False
        remember_folder(self.settings, str(resolved))
        self.settings.add_recent_file(str(resolved))
        self._show(document, DocumentSession(path=str(resolved), name=Path(path).name))
        return True

    def _open_with_path(self, path: str) -> OpenDocument | None:
        resolved = str(Path(path).resolve())
        return next((d for d in self.workspace.documents if d.session.path == resolved), None)

    def open_image_bytes(self, data: bytes, name: str = PASTED_NAME) -> bool:
        from glmocr_core.documents.document import document_from_bytes

        try:
            document = document_from_bytes(data, name)
        except GlmOcrError as exc:
            self.window.show_error("Cannot open the image", str(exc))
            return False
        # The bytes ride along so a session save can keep a copy: the session then restores without the clipboard.
        self._show(document, DocumentSession(path=None, name=name, pasted_data=bytes(data)))
        self.image_opened.emit()
        return True

    def open_command_line(self, paths: list[str]) -> None:
        if paths:
            self.open_incoming(intake.Incoming(paths=[os.path.abspath(p) for p in paths]), OPENED_NAME)

    def open_file(self, path: str) -> None:
        """A file the operating system hands over (macOS "Open with", a Dock drop)."""
        self.open_incoming(intake.Incoming(paths=[path]), OPENED_NAME)

    def adopt(self, document, session: DocumentSession, page: int = 0) -> OpenDocument:
        """For session restore: show ``session`` (with its regions and results) on an already opened document."""
        return self._show(document, session, page)

    def fill_recent_menu(self, menu: QMenu) -> None:
        menu.clear()
        recent = self.settings.get("recent_files")
        for path in recent:
            action = menu.addAction(Path(path).name, lambda p=path: self.open_path(p))
            action.setToolTip(path)
        if not recent:
            menu.addAction("No recent documents").setEnabled(False)

    # --- clipboard and drops ----------------------------------------------------------------------

    def paste(self) -> None:
        incoming = intake.read_mime(QApplication.clipboard().mimeData())
        if not self.open_incoming(incoming, PASTED_NAME):
            self.window.show_status("The clipboard holds no image, PDF or image file to open.")

    def handle_drop(self, mime) -> bool:
        incoming = intake.read_mime(mime)
        if incoming.empty and not incoming.remote_urls:
            self.window.show_status("Nothing to open in what was dropped.")
            return False
        return self.open_incoming(incoming, DROPPED_NAME)

    def open_incoming(self, incoming: intake.Incoming, image_name: str) -> bool:
        """Every file in ``incoming`` opens as a document of its own (the first one ends on screen)."""
        if incoming.paths:
            opened = [self.open_path(path) for path in incoming.paths]
            first = self._open_with_path(incoming.paths[opened.index(True)]) if any(opened) else None
            if first is not None:
                self.switch_to(first)
            return any(opened)
        if incoming.image_bytes is not None:
            return self.open_image_bytes(incoming.image_bytes, image_name)
        if incoming.remote_urls:
            self.window.show_error("Cannot open a web address",
                                   "This app works offline and does not download pictures. Save the image to a file "
                                   "first, or drag the picture itself rather than its link.")
            return True
        return False

    # --- the open documents -----------------------------------------------------------------------

    def _show(self, document, session: DocumentSession, page: int = 0) -> OpenDocument:
        session.kind, session.page_count = document.kind, document.page_count
        session.content_hash = document.content_hash()
        self.window.results.flush_edits()  # edits typed into the document on screen belong to it
        return self.workspace.add(document, session, page)

    def switch_to(self, opened: OpenDocument) -> None:
        if opened is not self.workspace.current:
            self.window.results.flush_edits()
            self.workspace.set_current(opened)

    def on_tab_chosen(self, index: int) -> None:
        if 0 <= index < len(self.workspace.documents):
            self.switch_to(self.workspace.documents[index])

    def on_tab_moved(self, from_index: int, to_index: int) -> None:
        self.workspace.move(from_index, to_index)

    def next_document(self) -> None:
        self._step_document(1)

    def prev_document(self) -> None:
        self._step_document(-1)

    def _step_document(self, step: int) -> None:
        documents = self.workspace.documents
        if len(documents) > 1:
            self.switch_to(documents[(self.workspace.current_index + step) % len(documents)])

    def on_current_changed(self, opened: OpenDocument | None) -> None:
        """Show the document now current (or the empty state when none is open)."""
        window = self.window
        self.sync_tabs()
        window.show_document_area(opened is not None)
        window.page_view.set_document(opened.document if opened else None, opened.page if opened else 0)
        self._fill_thumbnails(opened)
        window.show_document_name(opened.name if opened else None)
        if opened is None:
            window.page_label.setText("")
            return
        window.page_view.setFocus()
        self.go_to_page(opened.page)

    def sync_tabs(self) -> None:
        """One tab per open document, in their order, the current one selected."""
        tabs = self.window.document_tabs
        blocker = tabs.blockSignals(True)
        while tabs.count() > len(self.workspace.documents):
            tabs.removeTab(tabs.count() - 1)
        while tabs.count() < len(self.workspace.documents):
            tabs.addTab("")
        for index, opened in enumerate(self.workspace.documents):
            tabs.setTabText(index, opened.name)
            tabs.setTabToolTip(index, opened.session.path or f"{opened.name} (pasted or dropped, kept with the session)")
        tabs.setCurrentIndex(self.workspace.current_index)
        tabs.blockSignals(blocker)

    def on_document_closed(self, session: DocumentSession) -> None:
        self._thumbnails = {key: icons for key, icons in self._thumbnails.items()
                            if any(id(d.document) == key for d in self.workspace.documents)}
        self.sync_tabs()

    def close(self) -> None:
        """The window is closing: release the documents' files."""
        self.workspace.close()

    # --- pages ------------------------------------------------------------------------------------

    def current_page(self) -> int:
        return self.window.page_view.page

    def go_to_page(self, page: int) -> None:
        opened = self.workspace.current
        if opened is None or not 0 <= page < opened.document.page_count:
            return
        opened.page = page
        if page != self.current_page():
            self.window.page_view.show_page(page)
        thumbs = self.window.thumbnails
        blocker = thumbs.blockSignals(True)
        thumbs.setCurrentRow(page)
        thumbs.blockSignals(blocker)
        self.page_changed.emit(page, opened.document.page_count)

    def prev_page(self) -> None:
        self.go_to_page(self.current_page() - 1)

    def next_page(self) -> None:
        self.go_to_page(self.current_page() + 1)

    def on_thumbnail_row(self, row: int) -> None:
        if row >= 0 and self.workspace.document is not None and row != self.current_page():
            self.go_to_page(row)

    # --- thumbnails -------------------------------------------------------------------------------

    def _fill_thumbnails(self, opened: OpenDocument | None) -> None:
        """Every page gets its item at once, with a blank of the thumbnail's size: the list lays the items out
        once, at their final size, so they never overlap when the pictures arrive."""
        thumbs = self.window.thumbnails
        blocker = thumbs.blockSignals(True)
        thumbs.clear()
        document = opened.document if opened else None
        drawn = self._thumbnails.setdefault(id(document), {}) if document is not None else {}
        for page in range(document.page_count if document is not None else 0):
            item = QListWidgetItem(f"{page + 1}")
            item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter)
            icon = drawn.get(page)
            item.setIcon(icon if icon is not None else self._placeholder(document.page_size(page)))
            thumbs.addItem(item)
            if icon is None:
                scale = THUMB_WIDTH * self.window.devicePixelRatioF() / max(document.page_size(page)[0], 1)
                self.thumb_renderer.request(document, page, scale, ticket=("thumb", id(document)))
        thumbs.blockSignals(blocker)

    def _placeholder(self, page_size) -> QIcon:
        ratio = self.window.devicePixelRatioF()
        size = thumbnail_size(page_size)
        pixmap = QPixmap(round(size.width() * ratio), round(size.height() * ratio))
        pixmap.setDevicePixelRatio(ratio)
        pixmap.fill(QColor(PLACEHOLDER_COLOR))
        return _unselected_icon(pixmap)

    def _on_thumbnail_rendered(self, ticket, page: int, image, scale: float) -> None:
        opened = next((d for d in self.workspace.documents if ("thumb", id(d.document)) == ticket), None)
        if opened is None:
            return  # its document was closed meanwhile
        ratio = self.window.devicePixelRatioF()
        pixmap = QPixmap.fromImage(image)
        pixmap.setDevicePixelRatio(ratio)
        size = thumbnail_size(opened.document.page_size(page))
        if pixmap.deviceIndependentSize().toSize() != size:  # exactly the blank's size: the layout stays right
            pixmap = pixmap.scaled(size * ratio, Qt.AspectRatioMode.IgnoreAspectRatio,
                                   Qt.TransformationMode.SmoothTransformation)
            pixmap.setDevicePixelRatio(ratio)
        icon = _unselected_icon(pixmap)
        self._thumbnails.setdefault(id(opened.document), {})[page] = icon
        thumbs = self.window.thumbnails
        if opened is self.workspace.current and page < thumbs.count():
            thumbs.item(page).setIcon(icon)


def _unselected_icon(pixmap: QPixmap) -> QIcon:
    icon = QIcon(pixmap)
    icon.addPixmap(pixmap, QIcon.Mode.Selected)  # no selection tint over the page picture
    return icon
