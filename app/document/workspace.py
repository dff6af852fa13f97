"""The open document and its session, owned in one place so every part of the window reads the same ones."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from app.document.model import DocumentSession


class Workspace(QObject):
    """``document`` is the open ``glmocr_core`` document (pages to render and recognize), ``session`` its regions,
    results and edits. ``document_opened(session)`` fires when another document (or a restored session) takes their
    place; ``session_changed()`` after every change worth saving."""

    document_opened = Signal(object)  # DocumentSession
    session_changed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.document = None
        self.session: DocumentSession | None = None

    def open(self, document, session: DocumentSession) -> None:
        """``document`` and ``session`` replace the open ones; the previous document's file is released."""
        previous, self.document, self.session = self.document, document, session
        if previous is not None and previous is not document:
            previous.close()
        self.document_opened.emit(session)

    def mark_changed(self) -> None:
        self.session_changed.emit()

    def close(self) -> None:
        """Release the open document's file (the window is closing)."""
        if self.document is not None:
            self.document.close()
