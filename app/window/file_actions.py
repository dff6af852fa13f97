"""Sessions and export from the File menu, the autosave, and the restore offer after a crash.

Safety rules: every file dialog confirms overwriting before anything is written (the writers refuse to overwrite
otherwise); a failed write shows a message and the data stays in the app; pending edits in the views are committed
before any save; a clean exit keeps the session as "last session" (File ▸ Reopen Last Session) instead of asking.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog, QMessageBox

from glmocr_core.errors import GlmOcrError

from app import intake
from app.document import export
from app.document.atomic import WriteError
from app.document.autosave import Autosaver, Damaged, Recoverable, find_recoverable
from app.document.model import CANCELLED, RUNNING, DocumentSession
from app.document.session_file import (CHANGED, OK, SESSION_FILTER, SESSION_SUFFIX, DocumentCheck, LoadedSession,
                                       SessionError, check_document, document_location, last_session_path,
                                       load_session, relink, save_session)
from app.document.workspace import Workspace
from app.results.cards import ResultsPanel
from app.settings import Settings
from app.window.documents import DocumentController
from app.window.main_window import NO_DOCUMENT_HINT, MainWindow

LOCATE, KEEP, CANCEL = "locate", "keep", "cancel"  # answers to "the session's document moved or changed"
RESTORE, DISCARD, LATER = "restore", "discard", "later"  # answers to "restore unsaved work?"
RESTORED_MESSAGE_MS = 8000

AskRelink = Callable[[DocumentCheck], str]


class FileActions(QObject):
    def __init__(self, window: MainWindow, workspace: Workspace, documents: DocumentController,
                 results: ResultsPanel, settings: Settings, autosaver: Autosaver, ask_relink: AskRelink | None = None):
        super().__init__(window)
        self.window, self.workspace, self.documents = window, workspace, documents
        self.results, self.settings, self.autosaver = results, settings, autosaver
        self.ask_relink = ask_relink or self._ask_relink
        self.session_path: str | None = None  # where Save Session writes without asking again
        self.restore_box: QMessageBox | None = None
        self._restoring: DocumentSession | None = None  # the session being adopted (not a new document)

    def on_document_opened(self, session: DocumentSession) -> None:
        if self.session_path and session is not self._restoring:
            self.session_path = None  # a different document: Save Session asks for a new file
        self.autosaver.mark_dirty()

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
        return path or None

    def _suggested(self, suffix: str) -> str:
        session = self.workspace.session
        base = Path(session.path).with_suffix("") if session and session.path else Path(
            self.settings.get("last_folder") or ".") / "untitled"
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
                self.workspace.session, path, overwrite=True, ui_state=self.documents.ui_state())):
            return False
        self.session_path = path
        self.window.show_status(f"Session saved to {path}")
        return True

    def open_session_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Open session", self._suggested(""), SESSION_FILTER)
        if path:
            self.open_session_file(path)

    def open_session_file(self, path: str) -> bool:
        try:
            loaded = load_session(path)
        except SessionError as exc:
            self.window.show_error("Cannot open the session", str(exc))
            return False
        if self.open_loaded(loaded):
            self.session_path = path
            return True
        return False

    def reopen_last_session(self) -> None:
        path = last_session_path()
        if not path.is_file():
            self.window.show_info("No last session", "There is no session from a previous run to reopen.")
            return
        self.open_session_file(str(path))
        self.session_path = None  # saving goes to a file the user picks, not the internal copy

    def open_loaded(self, loaded: LoadedSession) -> bool:
        """Show a loaded session: find its document (asking to relink if it moved or changed), then adopt it."""
        session = loaded.document
        document = self._open_document_for(session)
        if document is None:
            return False
        for region in session.regions:
            if region.state == RUNNING:  # it was interrupted; keep what had streamed in
                region.state = CANCELLED
        self._restoring = session
        try:
            self.documents.adopt(document, session)
        finally:
            self._restoring = None
        self.documents.go_to_page(int(loaded.ui_state.get("page", 0)))
        self.autosaver.mark_dirty()
        return True

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
            path, _ = QFileDialog.getOpenFileName(self.window, "Where is the document now?", "",
                                                  intake.LOCATE_DIALOG_FILTER)
            if not path:
                return False
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
        text = (f"GLM-OCR Studio did not close normally. Your work on “{latest.document_name}” was autosaved "
                f"({latest.saved_at.replace('T', ' ')}).\n\nRestore it?")
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
        if self.open_loaded(loaded):
            recoverable.discard()  # its content now lives in this run's autosave
            self.autosaver.save_now()
            self.window.show_status("Your unsaved work was restored.", RESTORED_MESSAGE_MS)

    # --- export -----------------------------------------------------------------------------------

    def export_markdown_dialog(self) -> None:
        self._export_file("Export Markdown", ".md", "Markdown (*.md);;All files (*)", export.export_markdown)

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
        """Clean exit: keep the session as the "last session", then drop the crash-recovery autosave."""
        session = self.workspace.session
        if session is not None and session.regions:
            self.results.flush_edits()
            try:
                last_session_path().parent.mkdir(parents=True, exist_ok=True)
                save_session(session, last_session_path(), overwrite=True, ui_state=self.documents.ui_state())
            except (WriteError, OSError):
                self.autosaver.save_now()
                return  # could not keep it elsewhere: leave the autosave so the next start offers it
        self.autosaver.finish()
