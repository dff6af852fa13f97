"""Getting documents into the window and moving through their pages.

Files (the Open dialog, recent files, the command line, macOS "Open with"), pasted and dropped pictures, and sessions
being restored all end in ``_show``: the workspace takes the document, the page view and the thumbnails show it, and
``page_changed`` tells the rest of the window which page is on screen.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QApplication, QFileDialog, QListWidgetItem, QMenu

from glmocr_core.errors import GlmOcrError

from app import intake
from app.document.model import DocumentSession
from app.document.workspace import Workspace
from app.engine.host import EngineHost
from app.settings import Settings
from app.window.main_window import THUMB_WIDTH, MainWindow
from app.window.page_render import PageRenderer

PASTED_NAME, DROPPED_NAME, OPENED_NAME = "Pasted image", "Dropped image", "Image"


class DocumentController(QObject):
    page_changed = Signal(int, int)  # page index on screen, page count

    def __init__(self, window: MainWindow, workspace: Workspace, settings: Settings, host: EngineHost):
        super().__init__(window)
        self.window, self.workspace, self.settings, self.host = window, workspace, settings, host
        self.thumb_renderer = PageRenderer(self)
        self.thumb_renderer.rendered.connect(self._on_thumbnail_rendered)

    # --- files ------------------------------------------------------------------------------------

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Open a document", self.settings.get("last_folder"),
                                              intake.OPEN_DIALOG_FILTER)
        if path:
            self.open_path(path)

    def open_path(self, path: str) -> bool:
        from glmocr_core.documents.document import open_document  # pymupdf: loaded when the first file opens

        try:
            document = open_document(path)
        except (GlmOcrError, OSError) as exc:
            self.window.show_error("Cannot open the document", str(exc))
            return False
        resolved = Path(path).resolve()
        self.settings.set("last_folder", str(resolved.parent))
        self.settings.add_recent_file(str(resolved))
        self._show(document, DocumentSession(path=str(resolved), name=Path(path).name))
        return True

    def open_image_bytes(self, data: bytes, name: str = PASTED_NAME) -> bool:
        from glmocr_core.documents.document import document_from_bytes

        try:
            document = document_from_bytes(data, name)
        except GlmOcrError as exc:
            self.window.show_error("Cannot open the image", str(exc))
            return False
        # The bytes ride along so a session save can keep a copy: the session then restores without the clipboard.
        self._show(document, DocumentSession(path=None, name=name, pasted_data=bytes(data)))
        return True

    def open_command_line(self, paths: list[str]) -> None:
        if paths:
            self.open_incoming(intake.Incoming(paths=[os.path.abspath(p) for p in paths]), OPENED_NAME)

    def open_file(self, path: str) -> None:
        """A file the operating system hands over (macOS "Open with", a Dock drop)."""
        self.open_incoming(intake.Incoming(paths=[path]), OPENED_NAME)

    def adopt(self, document, session: DocumentSession) -> None:
        """For session restore: show ``session`` (with its regions and results) on an already opened document."""
        self._show(document, session)

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
        if incoming.paths:
            self._remember_extra_paths(incoming.paths[1:])
            return self.open_path(incoming.paths[0])
        if incoming.image_bytes is not None:
            return self.open_image_bytes(incoming.image_bytes, image_name)
        if incoming.remote_urls:
            self.window.show_error("Cannot open a web address",
                                   "This app works offline and does not download pictures. Save the image to a file "
                                   "first, or drag the picture itself rather than its link.")
            return True
        return False

    def _remember_extra_paths(self, extra: list[str]) -> None:
        if not extra:
            return
        for path in reversed(extra):
            self.settings.add_recent_file(path)
        self.window.show_status("One document at a time: the others are in File ▸ Open Recent.")

    # --- showing a document -----------------------------------------------------------------------

    def _show(self, document, session: DocumentSession) -> None:
        self.host.cancel_all()  # the old document's regions: their results would have nowhere to go
        session.kind, session.page_count = document.kind, document.page_count
        session.content_hash = document.content_hash()
        self.workspace.open(document, session)
        window = self.window
        window.center.setCurrentWidget(window.page_view)
        window.page_view.set_document(document, 0)
        self._fill_thumbnails()
        window.show_document_name(session.name)
        window.page_view.setFocus()
        self.go_to_page(0)

    def close(self) -> None:
        """The window is closing: release the document's file."""
        self.workspace.close()

    # --- pages ------------------------------------------------------------------------------------

    def current_page(self) -> int:
        return self.window.page_view.page

    def go_to_page(self, page: int) -> None:
        document = self.workspace.document
        if document is None or not 0 <= page < document.page_count:
            return
        if page != self.current_page():
            self.window.page_view.show_page(page)
        thumbs = self.window.thumbnails
        thumbs.blockSignals(True)
        thumbs.setCurrentRow(page)
        thumbs.blockSignals(False)
        self.page_changed.emit(page, document.page_count)

    def prev_page(self) -> None:
        self.go_to_page(self.current_page() - 1)

    def next_page(self) -> None:
        self.go_to_page(self.current_page() + 1)

    def on_thumbnail_row(self, row: int) -> None:
        if row >= 0 and self.workspace.document is not None and row != self.current_page():
            self.go_to_page(row)

    def ui_state(self) -> dict:
        """What a session file remembers of the window: the page on screen."""
        return {"page": self.current_page()} if self.workspace.session is not None else {}

    # --- thumbnails -------------------------------------------------------------------------------

    def _thumbnail_ticket(self):
        return ("thumb", id(self.workspace.document))

    def _fill_thumbnails(self) -> None:
        document, thumbs = self.workspace.document, self.window.thumbnails
        thumbs.blockSignals(True)
        thumbs.clear()
        for page in range(document.page_count):
            item = QListWidgetItem(f"{page + 1}")
            item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter)
            thumbs.addItem(item)
            scale = THUMB_WIDTH * self.window.devicePixelRatioF() / max(document.page_size(page)[0], 1)
            self.thumb_renderer.request(document, page, scale, ticket=self._thumbnail_ticket())
        thumbs.blockSignals(False)

    def _on_thumbnail_rendered(self, ticket, page: int, image, scale: float) -> None:
        thumbs = self.window.thumbnails
        if ticket != self._thumbnail_ticket() or page >= thumbs.count():
            return
        pixmap = QPixmap.fromImage(image)
        pixmap.setDevicePixelRatio(self.window.devicePixelRatioF())
        icon = QIcon(pixmap)
        icon.addPixmap(pixmap, QIcon.Mode.Selected)  # no selection tint over the page picture
        thumbs.item(page).setIcon(icon)
