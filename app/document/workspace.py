"""The open documents, owned in one place so every part of the window reads the same ones.

Several documents are open at once; one of them is on screen (``current``). Each keeps its own regions, results and
edits (its session) and the page it was left on, so switching between them never loses anything (each one's undo
history is the window's: ``app.window.undo.UndoHistories``). The session files and the autosave hold them all (``entries``).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from app.document.model import DocumentSession, Region
from app.document.session_file import SessionEntry


class OpenDocument:
    """One open document: ``document`` is the ``glmocr_core`` document (pages to render and recognize),
    ``session`` its regions, results and edits."""

    def __init__(self, document, session: DocumentSession):
        self.document, self.session = document, session
        self.page = 0  # the page on screen, or the one to come back to
        self.unsaved = False  # changed since it was last written to (or read from) a session file

    @property
    def name(self) -> str:
        return self.session.name or "Untitled"

    def entry(self) -> SessionEntry:
        return SessionEntry(self.session, {"page": self.page})


class Workspace(QObject):
    """``document_opened(session)`` fires when a document joins (it is then also the current one),
    ``current_changed(open_document or None)`` when another one comes on screen, ``document_closing(open_document)``
    and ``document_closed(session)`` around one leaving, ``documents_changed()`` when names or unsaved marks changed, and ``session_changed()`` after every
    change worth saving."""

    document_opened = Signal(object)  # DocumentSession
    current_changed = Signal(object)  # OpenDocument | None
    document_closing = Signal(object)  # OpenDocument, before its file is released (its runs stop now)
    document_closed = Signal(object)  # DocumentSession
    documents_changed = Signal()
    session_changed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.documents: list[OpenDocument] = []
        self.current: OpenDocument | None = None

    # --- the one on screen --------------------------------------------------------------------------

    @property
    def document(self):
        return self.current.document if self.current else None

    @property
    def session(self) -> DocumentSession | None:
        return self.current.session if self.current else None

    @property
    def current_index(self) -> int:
        return self.documents.index(self.current) if self.current in self.documents else -1

    # --- opening, switching, closing ----------------------------------------------------------------

    def add(self, document, session: DocumentSession, page: int = 0) -> OpenDocument:
        """``document`` joins the open ones, after the others, and comes on screen (at ``page``)."""
        opened = OpenDocument(document, session)
        opened.page = page if 0 <= page < document.page_count else 0
        self.documents.append(opened)
        self.document_opened.emit(session)
        self.set_current(opened)
        return opened

    def set_current(self, opened: OpenDocument | None) -> None:
        if opened is self.current:
            return
        self.current = opened
        self.current_changed.emit(opened)

    def close_document(self, opened: OpenDocument) -> None:
        """Release the document's file and forget it; its neighbour (the next tab, else the previous) comes on
        screen."""
        self.document_closing.emit(opened)
        index = self.documents.index(opened)
        self.documents.remove(opened)
        if self.current is opened:
            self.set_current(self.documents[min(index, len(self.documents) - 1)] if self.documents else None)
        opened.document.close()
        self.document_closed.emit(opened.session)
        self.session_changed.emit()

    def move(self, from_index: int, to_index: int) -> None:
        """The user dragged a tab: the order of the documents (and of the session file) follows."""
        self.documents.insert(to_index, self.documents.pop(from_index))
        self.session_changed.emit()

    def find(self, session: DocumentSession) -> OpenDocument | None:
        return next((d for d in self.documents if d.session is session), None)

    def find_region(self, region_id: str) -> tuple[OpenDocument, Region] | None:
        """The region with this id and its document, wherever it is open (engine answers name regions only)."""
        for opened in self.documents:
            region = opened.session.region(region_id)
            if region is not None:
                return opened, region
        return None

    # --- changes ------------------------------------------------------------------------------------

    def mark_changed(self, opened: OpenDocument | None = None) -> None:
        """Something worth saving changed in ``opened`` (default: the current document)."""
        opened = opened or self.current
        if opened is not None and not opened.unsaved:
            opened.unsaved = True
            self.documents_changed.emit()
        self.session_changed.emit()

    def mark_saved(self) -> None:
        """Every open document is in a session file now."""
        for opened in self.documents:
            opened.unsaved = False
        self.documents_changed.emit()

    def has_unsaved_work(self, opened: OpenDocument) -> bool:
        """Closing it would lose regions or results that no session file holds."""
        return opened.unsaved and bool(opened.session.regions)

    def entries(self) -> list[SessionEntry]:
        """The open documents as a session file holds them, in tab order."""
        return [opened.entry() for opened in self.documents]

    def close(self) -> None:
        """Release every document's file (the window is closing)."""
        for opened in self.documents:
            opened.document.close()
