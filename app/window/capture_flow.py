"""A screen capture's way into the studio: the crop becomes the next page of the "Captures" document, a region over
that whole page runs with the task picked on the frozen screen, and its text streams into the popup beside the
selection (and onto the clipboard when the setting says so). Nothing snipped is lost: the Captures document is a
document like any other, kept by the session and the autosave.

The capture parts (``app.capture``) know nothing of documents or the engine; this controller is the one place that
joins them to the window's controllers.
"""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtGui import QImage

from glmocr_core.documents.document import document_from_bytes
from glmocr_core.errors import GlmOcrError

from app import intake
from app.capture.captures import CAPTURES_NAME, append_capture
from app.document.model import DocumentSession


class CaptureFlow(QObject):
    def __init__(self, window, workspace, documents, regions, settings, popup, parent=None):
        super().__init__(parent)
        self.window, self.workspace, self.documents, self.regions = window, workspace, documents, regions
        self.settings, self.popup = settings, popup
        self.region_id: str | None = None  # the latest capture's region: its text goes to the popup

    # --- a capture arrives ------------------------------------------------------------------------------------

    def on_captured(self, crop: QImage, task: str) -> str | None:
        """Add ``crop`` as a page of the Captures document and read it with ``task``; the region's id, or None."""
        opened = self._captures_document()
        previous = opened.session.pasted_data if opened is not None else None
        try:
            data, page = append_capture(previous, intake.qimage_to_png(crop))
            document = document_from_bytes(data, CAPTURES_NAME)
        except (GlmOcrError, OSError, ValueError) as exc:
            self.popup.show_error(f"The capture could not be kept: {exc}")
            return None
        opened = self._show_captures(opened, document, data)
        width, height = document.page_size(page)
        self.documents.go_to_page(page)
        region = self.regions.add_region(page, (0, 0, width, height), task=task, run=True)
        self.region_id = region.id if region is not None else None
        return self.region_id

    def _captures_document(self):
        for opened in self.workspace.documents:
            if opened.session.path is None and opened.session.name == CAPTURES_NAME:
                return opened
        return None

    def _show_captures(self, opened, document, data: bytes):
        """The Captures document with its new page, on screen. Its regions stay; pages only ever grow at the end,
        so every region keeps its page. The old document object is left to the jobs that may still read it."""
        if opened is None:
            return self.documents.adopt(document, DocumentSession(path=None, name=CAPTURES_NAME, pasted_data=data))
        session = opened.session
        opened.document = document
        session.pasted_data, session.page_count = data, document.page_count
        session.content_hash = document.content_hash()
        self.workspace.mark_changed(opened)
        if self.workspace.current is opened:
            self.documents.on_current_changed(opened)  # thumbnails and page view of the grown document
        else:
            self.documents.switch_to(opened)
        return opened

    # --- the capture's region, as the engine answers ----------------------------------------------------------

    def on_text_delta(self, region_id: str, text: str) -> None:
        if region_id == self.region_id:
            self.popup.show_text_delta(text)

    def on_job_finished(self, region_id: str, result) -> None:
        if region_id == self.region_id:
            self.popup.show_result(result.text, copy=self.settings.get("capture/copy_result"))

    def on_job_failed(self, region_id: str, message: str) -> None:
        if region_id == self.region_id:
            self.popup.show_error(message)

    def on_job_cancelled(self, region_id: str, partial: str) -> None:
        if region_id == self.region_id:
            self.popup.show_error("Stopped." if not partial else f"Stopped. Read so far: {partial}")

    def open_in_studio(self) -> None:
        opened = self._captures_document()
        if opened is not None:
            self.documents.switch_to(opened)
        raise_window(self.window)


def raise_window(window) -> None:
    window.showNormal() if window.isMinimized() else window.show()
    window.raise_()
    window.activateWindow()
