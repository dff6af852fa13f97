"""File menu actions for sessions and export, autosave, and the restore offer after a crash.

``install_file_actions(window)`` attaches everything to the workspace's ``MainWindow`` through its public hooks
(``file_menu`` / ``file_menu_end``, ``session_changed``, ``document_opened``, ``adopt_session``, ``show_error``),
so the main window itself needs no session or export code.

Safety rules: every file dialog confirms overwriting before anything is written (the writers refuse to overwrite
otherwise); a failed write shows a message and the data stays in the app; pending edits in the views are committed
before any save; a clean exit keeps the session as "last session" (File ▸ Reopen Last Session) instead of asking.
"""

from __future__ import annotations

import os
import runpy
from pathlib import Path

from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from app.document import export
from app.document.atomic import WriteError
from app.document.model import CANCELLED, RUNNING, DocumentSession
from app.document.autosave import Autosaver, find_recoverable
from app.document.session_file import (CHANGED, OK, SESSION_FILTER, SESSION_SUFFIX, LoadedSession, SessionError,
                                       check_document, document_location, last_session_path, load_session, relink,
                                       save_session)

TEST_DRIVER_ENV = "GLMOCR_TEST_DRIVER"  # a Python file run with ``window`` in scope once the window is up (tests)


class FileActions(QObject):
    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.session_path: str | None = None  # where Save Session writes without asking again
        self.restore_box: QMessageBox | None = None
        self._restoring: DocumentSession | None = None  # the session being adopted (not a new document)
        self.autosaver = Autosaver(lambda: window.session, delay_ms=self.autosave_delay_ms, ui_state=self.ui_state,
                                   parent=self)
        self.autosaver.failed.connect(lambda message: window.statusBar().showMessage(message, 10_000))
        window.session_changed.connect(self.autosaver.mark_dirty)
        window.document_opened.connect(self._on_document_opened)
        QApplication.instance().aboutToQuit.connect(self.finish)
        self._build_actions()

    # --- menu -------------------------------------------------------------------------------

    def _build_actions(self) -> None:
        window, keys = self.window, QKeySequence.StandardKey
        self.actions: dict[str, QAction] = {}
        entries = [
            ("open_session", "Open &Session…", self.open_session_dialog, "Ctrl+Shift+O"),
            ("save_session", "&Save Session", self.save_session, keys.Save),
            ("save_session_as", "Save Session &As…", self.save_session_as, keys.SaveAs),
            ("reopen_last", "Reopen &Last Session", self.reopen_last_session, None),
            ("export_markdown", "Export &Markdown…", self.export_markdown_dialog, "Ctrl+E"),
            ("export_csv", "Export Tables as &CSV…", lambda: self.export_csv_dialog(excel=False), None),
            ("export_csv_excel", "Export Tables as CSV for &Excel…", lambda: self.export_csv_dialog(excel=True),
             None),
            ("export_json", "Export &JSON…", self.export_json_dialog, None),
        ]
        for key, text, slot, shortcut in entries:
            action = QAction(text, window)
            if shortcut is not None:
                action.setShortcut(QKeySequence(shortcut))
            action.triggered.connect(slot)
            window.addAction(action)
            self.actions[key] = action
        menu, before = window.file_menu, window.file_menu_end
        menu.insertSeparator(before)
        for key in ("open_session", "save_session", "save_session_as", "reopen_last"):
            menu.insertAction(before, self.actions[key])
        export_menu = menu.addMenu("&Export")
        menu.insertMenu(before, export_menu)
        for key in ("export_markdown", "export_csv", "export_csv_excel", "export_json"):
            export_menu.addAction(self.actions[key])

    def autosave_delay_ms(self) -> int:
        """The user's autosave interval (settings dialog); the built-in few seconds when the app has no such key."""
        return int(self.window.settings.get("autosave_interval_s")) * 1000

    def ui_state(self) -> dict:
        return {"page": self.window.page_view.page} if self.window.session is not None else {}

    def _on_document_opened(self, session: DocumentSession) -> None:
        if self.session_path and session is not self._restoring:
            self.session_path = None  # a different document: Save Session asks for a new file
        self.autosaver.mark_dirty()

    # --- helpers ----------------------------------------------------------------------------

    def flush_views(self) -> None:
        self.window.results.flush_edits()

    def _need_session(self) -> DocumentSession | None:
        if self.window.session is None:
            self.window.statusBar().showMessage("Open a document first.", 6000)
        return self.window.session

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
        session = self.window.session
        base = Path(session.path).with_suffix("") if session and session.path else Path(
            self.window.settings.get("last_folder") or ".") / "untitled"
        return str(base) + suffix

    # --- sessions ---------------------------------------------------------------------------

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
        self.flush_views()
        if not self._write("Saving the session", lambda: save_session(
                self.window.session, path, overwrite=True, ui_state=self.ui_state())):
            return False
        self.session_path = path
        self.window.statusBar().showMessage(f"Session saved to {path}", 6000)
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
            self.window.adopt_session(document, session)
        finally:
            self._restoring = None
        self.window.go_to_page(int(loaded.ui_state.get("page", 0)))
        self.autosaver.mark_dirty()
        return True

    def _open_document_for(self, session: DocumentSession):
        from glmocr_core.documents.document import open_document
        from glmocr_core.errors import GlmOcrError

        check = check_document(session)
        while check.status != OK:
            choice = self._ask_relink(check)
            if choice == "keep" and check.status == CHANGED:
                break
            if choice != "locate":
                return None
            path, _ = QFileDialog.getOpenFileName(self.window, "Where is the document now?", "",
                                                  "Images and PDFs (*.png *.jpg *.jpeg *.tif *.tiff *.webp *.bmp "
                                                  "*.gif *.pdf);;All files (*)")
            if not path:
                return None
            check = relink(session, path)
        try:
            return open_document(document_location(session))  # a pasted picture opens from its kept copy
        except (GlmOcrError, OSError) as exc:
            self.window.show_error("Cannot open the document", str(exc))
            return None

    def _ask_relink(self, check) -> str:
        """'locate', 'keep' (only for a changed file) or 'cancel'."""
        box = QMessageBox(QMessageBox.Icon.Warning, "Document not found" if check.status != CHANGED else
                          "Document changed", check.message, QMessageBox.StandardButton.NoButton, self.window)
        locate = box.addButton("Locate…", QMessageBox.ButtonRole.AcceptRole)
        keep = box.addButton("Use it anyway", QMessageBox.ButtonRole.YesRole) if check.status == CHANGED else None
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        clicked = box.clickedButton()
        return "locate" if clicked is locate else "keep" if keep is not None and clicked is keep else "cancel"

    # --- crash recovery ---------------------------------------------------------------------

    def offer_restore(self) -> None:
        """If an earlier run died with unsaved work, ask (without blocking) whether to restore it."""
        found = find_recoverable(self.autosaver.folder)
        if not found:
            return
        latest = found[0]
        text = (f"GLM-OCR Studio did not close normally. Your work on “{latest.document_name}” was autosaved "
                f"({latest.saved_at.replace('T', ' ')}).\n\nRestore it?")
        box = QMessageBox(QMessageBox.Icon.Question, "Restore unsaved work?", text,
                          QMessageBox.StandardButton.NoButton, self.window)
        box.restore_button = box.addButton("Restore", QMessageBox.ButtonRole.AcceptRole)
        box.discard_button = box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
        box.later_button = box.addButton("Not now", QMessageBox.ButtonRole.RejectRole)
        box.finished.connect(lambda _result: self._on_restore_answer(box, found))
        self.restore_box = box
        box.open()

    def _on_restore_answer(self, box: QMessageBox, found) -> None:
        clicked = box.clickedButton()
        self.restore_box = None
        if clicked is box.restore_button:
            self._restore(found[0])
        elif clicked is box.discard_button:
            for item in found:
                item.discard()

    def _restore(self, recoverable) -> None:
        try:
            loaded = recoverable.load()
        except SessionError as exc:
            self.window.show_error("Cannot restore", str(exc))
            return
        if self.open_loaded(loaded):
            recoverable.discard()  # its content now lives in this run's autosave
            self.autosaver.save_now()
            self.window.statusBar().showMessage("Your unsaved work was restored.", 8000)

    # --- export -----------------------------------------------------------------------------

    def export_markdown_dialog(self) -> None:
        if self._need_session() is None:
            return
        path = self._ask_path("Export Markdown", self._suggested(".md"), "Markdown (*.md);;All files (*)")
        if path:
            self.flush_views()
            if self._write("Export", lambda: export.export_markdown(self.window.session, path, overwrite=True)):
                self.window.statusBar().showMessage(f"Exported to {path}", 6000)

    def export_json_dialog(self) -> None:
        if self._need_session() is None:
            return
        path = self._ask_path("Export JSON", self._suggested(".json"), "JSON (*.json);;All files (*)")
        if path:
            self.flush_views()
            if self._write("Export", lambda: export.export_json(self.window.session, path, overwrite=True)):
                self.window.statusBar().showMessage(f"Exported to {path}", 6000)

    def export_csv_dialog(self, excel: bool) -> None:
        session = self._need_session()
        if session is None:
            return
        self.flush_views()
        if not export.table_regions(session):
            self.window.show_info("No tables", "This document has no table results to export.")
            return
        folder = QFileDialog.getExistingDirectory(self.window, "Export tables into folder",
                                                  str(Path(self._suggested("")).parent))
        if folder:
            self.export_csv_to(folder, excel)

    def export_csv_to(self, folder: str, excel: bool) -> bool:
        stem = Path(self._suggested("")).name or "tables"
        session = self.window.session
        existing = [p.name for p in export.planned_csv_paths(session, folder, stem) if p.exists()]
        if existing and QMessageBox.question(
                self.window, "Replace files?", "These files exist already:\n" + "\n".join(existing)
                + "\n\nReplace them?") != QMessageBox.StandardButton.Yes:
            return False
        written: list = []
        ok = self._write("Export", lambda: written.extend(
            export.export_tables_csv(session, folder, stem, excel=excel, overwrite=bool(existing))))
        if ok:
            self.window.statusBar().showMessage(f"Exported {len(written)} table(s) to {folder}", 6000)
        return ok

    # --- exit -------------------------------------------------------------------------------

    def finish(self) -> None:
        """Clean exit: keep the session as the "last session", then drop the crash-recovery autosave."""
        session = self.window.session
        if session is not None and session.regions:
            self.flush_views()
            try:
                last_session_path().parent.mkdir(parents=True, exist_ok=True)
                save_session(session, last_session_path(), overwrite=True, ui_state=self.ui_state())
            except (WriteError, OSError):
                self.autosaver.save_now()
                return  # could not keep it elsewhere: leave the autosave so the next start offers it
        self.autosaver.finish()


def install_file_actions(window) -> FileActions:
    """Attach sessions, export and autosave to ``window``; offers a restore once the event loop runs."""
    actions = FileActions(window)
    window.file_actions = actions
    QTimer.singleShot(0, actions.offer_restore)
    driver = os.environ.get(TEST_DRIVER_ENV)
    if driver:
        QTimer.singleShot(0, lambda: runpy.run_path(driver, init_globals={"window": window, "actions": actions}))
    return actions
