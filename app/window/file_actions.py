"""Sessions and export from the File menu, closing documents, the autosave, and the restore offer after a crash.

A session is every open document: Save Session writes them all into one file, opening a session (or the last one, or
a crash's autosave) opens its documents next to those already open.

Safety rules: every file dialog confirms overwriting before anything is written (the writers refuse to overwrite
otherwise); a failed write shows a message and the data stays in the app; pending edits in the views are committed
before any save; closing a document whose regions no session file holds asks first; a clean exit keeps the open
documents as "last session" (File ▸ Reopen Last Session) instead of asking. File dialogs start in the last folder the
user chose, or their home folder.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QDate, QLocale, QObject, QTime
from PySide6.QtWidgets import QFileDialog, QMessageBox

from glmocr_core.errors import GlmOcrError

from app import intake
from app.document import converted, export
from app.document.atomic import WriteError
from app.document.autosave import Autosaver, Damaged, Recoverable, find_recoverable
from app.document.model import CANCELLED, RUNNING, STOPPED_BY_ENGINE, DocumentSession
from app.document.session_file import (CHANGED, OK, SESSION_FILTER, SESSION_SUFFIX, DocumentCheck, LoadedSession,
                                       SessionEntry, SessionError, check_document, document_location,
                                       last_session_path, load_session, relink, save_session)
from app.document.workspace import OpenDocument, Workspace
from app.engine.options import ocr_dpi
from app.results.cards import ResultsPanel
from app.settings import Settings
from app.window.documents import DocumentController, dialog_folder, remember_folder
from app.window.main_window import NO_DOCUMENT_HINT, MainWindow

LOCATE, KEEP, CANCEL = "locate", "keep", "cancel"  # answers to "the session's document moved or changed"
RESTORE, DISCARD, LATER = "restore", "discard", "later"  # answers to "restore unsaved work?"
SAVE = "save"  # with DISCARD and CANCEL: answers to "close a document with unsaved work?"
RESTORED_MESSAGE_MS = 8000

AskRelink = Callable[[DocumentCheck], str]
AskClose = Callable[[OpenDocument], str]


def saved_when(saved_at: str, now: datetime | None = None) -> str:
    """A session's UTC ``saved_at`` as a person says it, in local time: "today at 14:32", "yesterday at 09:05", or
    the date in the locale's short format."""
    try:
        saved = datetime.fromisoformat(saved_at).astimezone()
    except (ValueError, TypeError):
        return "at an unknown time"
    today = (now or datetime.now().astimezone()).date()
    locale = QLocale()
    clock = locale.toString(QTime(saved.hour, saved.minute), QLocale.FormatType.ShortFormat)
    if saved.date() == today:
        return f"today at {clock}"
    if saved.date() == today - timedelta(days=1):
        return f"yesterday at {clock}"
    day = locale.toString(QDate(saved.year, saved.month, saved.day), QLocale.FormatType.ShortFormat)
    return f"on {day} at {clock}"


def names_phrase(names: list[str]) -> str:
    """“a.png”, or “a.png” and 2 other documents."""
    first = f"“{names[0]}”" if names else "a document"
    others = len(names) - 1
    return first if others < 1 else f"{first} and {others} other document{'s' if others > 1 else ''}"


class FileActions(QObject):
    def __init__(self, window: MainWindow, workspace: Workspace, documents: DocumentController,
                 results: ResultsPanel, settings: Settings, autosaver: Autosaver, ask_relink: AskRelink | None = None):
        super().__init__(window)
        self.window, self.workspace, self.documents = window, workspace, documents
        self.results, self.settings, self.autosaver = results, settings, autosaver
        self.ask_relink = ask_relink or self._ask_relink
        self.ask_close: AskClose = self._ask_close
        self.session_path: str | None = None  # where Save Session writes without asking again
        self.restore_box: QMessageBox | None = None

    def on_document_opened(self, _session: DocumentSession) -> None:
        self.autosaver.mark_dirty()

    def on_document_closed(self, _session: DocumentSession) -> None:
        if not self.workspace.documents:
            self.session_path = None  # nothing open: the next Save Session is a new session

    # --- helpers ----------------------------------------------------------------------------------

    def _need_session(self) -> DocumentSession | None:
        if self.workspace.session is None:
            self.window.show_status(NO_DOCUMENT_HINT)
        return self.workspace.session

    def _write(self, what: str, write) -> bool:
        """Run a write; on failure say why and keep everything in the app."""
        try:
            write()
        except (WriteError, OSError) as exc:
            self.window.show_error(f"{what} failed", f"{exc}\n\nNothing was lost: your work is still open here.")
            return False
        return True

    def _ask_path(self, title: str, suggested: str, file_filter: str) -> str | None:
        # The dialog itself asks before replacing an existing file; only then do we allow overwrite.
        path, _ = QFileDialog.getSaveFileName(self.window, title, suggested, file_filter)
        if path:
            remember_folder(self.settings, path)
        return path or None

    def _suggested(self, suffix: str) -> str:
        """A file name next to the document on screen, else ``untitled`` in the folder dialogs start in."""
        session = self.workspace.session
        base = Path(session.path).with_suffix("") if session and session.path else Path(
            dialog_folder(self.settings)) / "untitled"
        return str(base) + suffix

    # --- sessions ---------------------------------------------------------------------------------

    def save_session(self) -> bool:
        if self.session_path is None:
            return self.save_session_as()
        return self._save_session_to(self.session_path)

    def save_session_as(self) -> bool:
        if self._need_session() is None:
            return False
        path = self._ask_path("Save session", self._suggested(SESSION_SUFFIX), SESSION_FILTER)
        return bool(path) and self._save_session_to(path)

    def _save_session_to(self, path: str) -> bool:
        self.results.flush_edits()
        if not self._write("Saving the session", lambda: save_session(
                self.workspace.entries(), path, overwrite=True, current=self.workspace.current_index)):
            return False
        self.session_path = path
        self.workspace.mark_saved()
        count = len(self.workspace.documents)
        self.window.show_status(f"Session saved to {path}" + (f" ({count} documents)" if count > 1 else ""))
        return True

    def open_session_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Open session", dialog_folder(self.settings),
                                              SESSION_FILTER)
        if path:
            remember_folder(self.settings, path)
            self.open_session_file(path)

    def open_session_file(self, path: str, *, unsaved: bool = False) -> bool:
        """Open the session's documents next to the open ones; Save Session then writes to ``path`` if nothing else
        was open (otherwise it asks, so the file does not silently gain other documents)."""
        try:
            loaded = load_session(path)
        except SessionError as exc:
            self.window.show_error("Cannot open the session", str(exc))
            return False
        others_open = bool(self.workspace.documents)
        if not self.open_loaded(loaded, unsaved=unsaved):
            return False
        if not others_open and not unsaved:
            self.session_path = path
        return True

    def reopen_last_session(self) -> None:
        path = last_session_path()
        if not path.is_file():
            self.window.show_info("No last session", "There is no session from a previous run to reopen.")
            return
        # The internal copy is no file of the user's: saving asks where, and closing asks first.
        self.open_session_file(str(path), unsaved=True)

    def open_loaded(self, loaded: LoadedSession, *, unsaved: bool = False) -> bool:
        """Open every document of a loaded session (asking to relink those that moved or changed) next to the open
        ones; the one that was on screen comes on screen. False when none could be opened."""
        shown = None
        for index, entry in enumerate(loaded.entries):
            opened = self._open_entry(entry, unsaved)
            if opened is not None and (shown is None or index == loaded.current):
                shown = opened
        if shown is None:
            return False
        self.documents.switch_to(shown)
        self.autosaver.mark_dirty()
        return True

    def _open_entry(self, entry: SessionEntry, unsaved: bool) -> OpenDocument | None:
        session = entry.document
        same = self._already_open(session)
        if same is not None:
            return same
        document = self._open_document_for(session)
        if document is None:
            return None
        for region in session.regions:
            if region.state == RUNNING:  # the app stopped under it; keep what had streamed in
                region.state, region.stop_cause = CANCELLED, STOPPED_BY_ENGINE
        opened = self.documents.adopt(document, session, _page(entry.ui_state))
        opened.unsaved = unsaved
        return opened

    def _already_open(self, session: DocumentSession) -> OpenDocument | None:
        """The same document with the same regions is open already (the session was reopened twice)."""
        ids = [r.id for r in session.regions]
        return next((d for d in self.workspace.documents if document_location(d.session) == document_location(session)
                     and document_location(session) and [r.id for r in d.session.regions] == ids), None)

    def _open_document_for(self, session: DocumentSession):
        from glmocr_core.documents.document import open_document

        if not self._located(session):
            return None
        try:
            return open_document(document_location(session))  # a pasted picture opens from its kept copy
        except (GlmOcrError, OSError) as exc:
            self.window.show_error("Cannot open the document", str(exc))
            return None

    def _located(self, session: DocumentSession) -> bool:
        """Whether the session's document is usable, asking the user to find it while it is not."""
        check = check_document(session)
        while check.status != OK:
            choice = self.ask_relink(check)
            if choice == KEEP and check.status == CHANGED:
                return True
            if choice != LOCATE:
                return False
            path, _ = QFileDialog.getOpenFileName(self.window, "Where is the document now?",
                                                  dialog_folder(self.settings), intake.LOCATE_DIALOG_FILTER)
            if not path:
                return False
            remember_folder(self.settings, path)
            check = relink(session, path)
        return True

    def _ask_relink(self, check: DocumentCheck) -> str:
        """LOCATE, KEEP (only for a changed file) or CANCEL."""
        box = QMessageBox(QMessageBox.Icon.Warning, "Document not found" if check.status != CHANGED else
                          "Document changed", check.message, QMessageBox.StandardButton.NoButton, self.window)
        locate = box.addButton("Locate…", QMessageBox.ButtonRole.AcceptRole)
        keep = box.addButton("Use it anyway", QMessageBox.ButtonRole.YesRole) if check.status == CHANGED else None
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        clicked = box.clickedButton()
        return LOCATE if clicked is locate else KEEP if keep is not None and clicked is keep else CANCEL

    # --- closing a document -----------------------------------------------------------------------

    def close_current_document(self) -> bool:
        if self.workspace.current is None:
            self.window.show_status(NO_DOCUMENT_HINT)
            return False
        return self.close_document(self.workspace.current)

    def close_document_at(self, index: int) -> bool:
        documents = self.workspace.documents
        return 0 <= index < len(documents) and self.close_document(documents[index])

    def close_document(self, opened: OpenDocument) -> bool:
        """Close one document; when no session file holds its regions, ask first (save them, lose them, or keep
        the document open)."""
        self.results.flush_edits()
        if self.workspace.has_unsaved_work(opened):
            answer = self.ask_close(opened)
            if answer == CANCEL or (answer == SAVE and not self.save_session()):
                return False
        self.workspace.close_document(opened)
        self.window.show_status(f"Closed {opened.name}.")
        return True

    def _ask_close(self, opened: OpenDocument) -> str:
        """SAVE, DISCARD or CANCEL."""
        count = len(opened.session.regions)
        box = QMessageBox(QMessageBox.Icon.Warning, "Close the document?",
                          f"“{opened.name}” has {count} region{'s' if count != 1 else ''} with results and edits that "
                          "no saved session holds. Closing it loses them.", QMessageBox.StandardButton.NoButton,
                          self.window)
        save = box.addButton("Save Session…", QMessageBox.ButtonRole.AcceptRole)
        discard = box.addButton("Close Without Saving", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        clicked = box.clickedButton()
        return SAVE if clicked is save else DISCARD if clicked is discard else CANCEL

    # --- crash recovery ---------------------------------------------------------------------------

    def _tell_damaged(self, damaged: list[Damaged]) -> None:
        kept = "\n".join(f"• {item.kept_at} ({item.reason})" for item in damaged)
        self.window.show_error("An autosave could not be read",
                               "GLM-OCR Studio did not close normally, and the work it autosaved could not be read "
                               f"back. Nothing was deleted: the file is kept here for you or for a bug report:\n\n{kept}")

    def offer_restore(self) -> None:
        """If an earlier run died with unsaved work, ask (without blocking) whether to restore it."""
        damaged: list[Damaged] = []
        found = find_recoverable(self.autosaver.folder, damaged)
        if damaged:
            self._tell_damaged(damaged)
        if not found:
            return
        latest = found[0]
        names = [latest.document_name] + [n for n in latest.document_names if n != latest.document_name]
        text = (f"GLM-OCR Studio did not close normally. Your work on {names_phrase(names)} was autosaved "
                f"{saved_when(latest.saved_at)}.\n\nRestore it?")
        box = QMessageBox(QMessageBox.Icon.Question, "Restore unsaved work?", text,
                          QMessageBox.StandardButton.NoButton, self.window)
        restore = box.addButton("Restore", QMessageBox.ButtonRole.AcceptRole)
        discard = box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton("Not now", QMessageBox.ButtonRole.RejectRole)

        def answered(_result) -> None:
            clicked = box.clickedButton()
            self._on_restore_answer(RESTORE if clicked is restore else DISCARD if clicked is discard else LATER, found)

        box.finished.connect(answered)
        self.restore_box = box
        box.open()

    def _on_restore_answer(self, answer: str, found: list[Recoverable]) -> None:
        self.restore_box = None
        if answer == RESTORE:
            self._restore(found[0])
        elif answer == DISCARD:
            for item in found:
                item.discard()

    def _restore(self, recoverable: Recoverable) -> None:
        try:
            loaded = recoverable.load()
        except SessionError as exc:
            self.window.show_error("Cannot restore", str(exc))
            return
        if self.open_loaded(loaded, unsaved=True):
            recoverable.discard()  # its content now lives in this run's autosave
            self.autosaver.save_now()
            self.window.show_status("Your unsaved work was restored.", RESTORED_MESSAGE_MS)

    # --- export -----------------------------------------------------------------------------------

    def export_markdown_dialog(self) -> None:
        self._export_file("Export Markdown", ".md", "Markdown (*.md);;All files (*)", self.export_markdown_to)

    def export_markdown_to(self, session, path, *, overwrite: bool = False):
        """A document with layout regions: the converted document as the core's formatter writes it, with its
        pictures' crops in ``<name>_pictures/`` beside it; any other: the regions' results one after another."""
        opened = self.workspace.find(session)
        if opened is None or not converted.has_layout(session):
            return export.export_markdown(session, path, overwrite=overwrite)
        document = opened.document
        crop = converted.render_crop(document, ocr_dpi(self.settings))
        return converted.export_converted_markdown(session, path, crop, document.page_size, overwrite=overwrite)

    def export_text_dialog(self) -> None:
        self._export_file("Export text", ".txt", "Text (*.txt);;All files (*)", export.export_text)

    def export_json_dialog(self) -> None:
        self._export_file("Export JSON", ".json", "JSON (*.json);;All files (*)", export.export_json)

    def _export_file(self, title: str, suffix: str, file_filter: str, write) -> None:
        if self._need_session() is None:
            return
        path = self._ask_path(title, self._suggested(suffix), file_filter)
        if path:
            self.results.flush_edits()
            if self._write("Export", lambda: write(self.workspace.session, path, overwrite=True)):
                self.window.show_status(f"Exported to {path}")

    def export_csv_dialog(self) -> None:
        self._export_csv(excel=False)

    def export_csv_excel_dialog(self) -> None:
        self._export_csv(excel=True)

    def _export_csv(self, excel: bool) -> None:
        session = self._need_session()
        if session is None:
            return
        self.results.flush_edits()
        if not export.table_regions(session):
            self.window.show_info("No tables", "This document has no table results to export.")
            return
        folder = QFileDialog.getExistingDirectory(self.window, "Export tables into folder",
                                                  str(Path(self._suggested("")).parent))
        if folder:
            self.settings.set("last_folder", folder)
            self.export_csv_to(folder, excel)

    def export_csv_to(self, folder: str, excel: bool) -> bool:
        stem = Path(self._suggested("")).name or "tables"
        session = self.workspace.session
        existing = [p.name for p in export.planned_csv_paths(session, folder, stem) if p.exists()]
        if existing and QMessageBox.question(
                self.window, "Replace files?", "These files exist already:\n" + "\n".join(existing)
                + "\n\nReplace them?") != QMessageBox.StandardButton.Yes:
            return False
        written: list = []
        ok = self._write("Export", lambda: written.extend(
            export.export_tables_csv(session, folder, stem, excel=excel, overwrite=bool(existing))))
        if ok:
            self.window.show_status(f"Exported {len(written)} table(s) to {folder}")
        return ok

    # --- exit -------------------------------------------------------------------------------------

    def finish(self) -> None:
        """Clean exit: keep the open documents as the "last session", then drop the crash-recovery autosave."""
        entries = self.workspace.entries()
        if entries:
            self.results.flush_edits()
            try:
                last_session_path().parent.mkdir(parents=True, exist_ok=True)
                save_session(entries, last_session_path(), overwrite=True, current=self.workspace.current_index)
            except (WriteError, OSError):
                self.autosaver.save_now()
                return  # could not keep it elsewhere: leave the autosave so the next start offers it
        self.autosaver.finish()


def _page(ui_state: dict) -> int:
    page = ui_state.get("page", 0)
    return page if isinstance(page, int) and not isinstance(page, bool) else 0
