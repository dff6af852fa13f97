"""Autosave and crash recovery: nothing a user did is lost.

The autosaver writes the open documents (one session, ``app.document.session_file`` format) to the user data folder
a few seconds after a change. Each running app holds a lock file (``QLockFile``, which notices when its owner died) next to its
autosave; on the next start an autosave whose owner is gone (a crash, ``kill -9``) is offered for restore. A clean exit
deletes both, so only lost work is ever offered.
"""

from __future__ import annotations

import logging
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QLockFile, QObject, QTimer, Signal

from app.document.atomic import WriteError, atomic_write_text
from app.document.session_file import (Documents, LoadedSession, SessionError, as_entries, keep_pasted_copy,
                                       load_session, session_text)
from app.paths import autosave_dir


log = logging.getLogger(__name__)


@dataclass
class Recoverable:
    """An autosave left behind by an app that did not exit cleanly."""

    autosave_path: Path
    lock_path: Path
    saved_at: str
    document_names: list[str]  # every document of the session, in tab order
    document_name: str  # the one that was on screen

    def load(self) -> LoadedSession:
        return load_session(self.autosave_path)

    def discard(self) -> None:
        for path in (self.autosave_path, self.lock_path):
            path.unlink(missing_ok=True)


def _owner_is_gone(lock_path: Path) -> bool:
    """True when no live process holds this lock (QLockFile detects a dead owner by its pid and app name)."""
    if not lock_path.exists():
        return True
    lock = QLockFile(str(lock_path))
    lock.setStaleLockTime(0)  # only a dead owner makes it stale, never its age: a live app may run for days
    if lock.tryLock(0):
        lock.unlock()  # we only looked; unlock removes the (stale) lock file
        return True
    return False


DAMAGED_FOLDER = "damaged"  # inside the autosave folder: autosaves that could not be read, kept for the user


@dataclass
class Damaged:
    """An autosave of a dead app that could not be read: moved aside (never deleted) and named to the user."""

    kept_at: Path
    reason: str


def find_recoverable(folder: Path | None = None, damaged: list[Damaged] | None = None) -> list[Recoverable]:
    """Autosaves whose app died, newest first. Call at start, before this app's own Autosaver starts. Unreadable
    ones are moved into the DAMAGED_FOLDER and added to ``damaged``, so they are neither offered forever nor lost."""
    folder = folder or autosave_dir()
    found = []
    for autosave in folder.glob("*.json") if folder.is_dir() else []:
        lock_path = autosave.with_suffix(".lock")
        if not _owner_is_gone(lock_path):
            continue  # another running window's live autosave
        try:
            loaded = load_session(autosave)
        except SessionError as exc:
            kept = _set_aside(autosave, lock_path, exc.reason)
            if damaged is not None and kept is not None:
                damaged.append(kept)
            continue
        names = [_display_name(entry.document) for entry in loaded.entries]
        found.append(Recoverable(autosave, lock_path, loaded.saved_at, names, names[loaded.current]))
    return sorted(found, key=lambda r: r.saved_at, reverse=True)


def _display_name(document) -> str:
    return document.name or Path(document.path or "pasted image").name


def _set_aside(autosave: Path, lock_path: Path, reason: str) -> Damaged | None:
    target = autosave.parent / DAMAGED_FOLDER / autosave.name
    try:
        target.parent.mkdir(exist_ok=True)
        os.replace(autosave, target)
    except OSError as exc:  # cannot move it: leave it where it is, and say so once in the log
        log.warning("could not set the unreadable autosave %s aside: %s", autosave, exc)
        return None
    lock_path.unlink(missing_ok=True)
    log.warning("autosave %s could not be read (%s); kept at %s", autosave.name, reason, target)
    return Damaged(target, reason)


class Autosaver(QObject):
    """Saves ``get_documents()`` (the open documents, or one) to this instance's autosave file ``delay_ms`` after the
    first unsaved change; ``current()`` says which one is on screen.

    The app owns one: call ``mark_dirty()`` after every change, ``save_now()`` before risky steps, and ``finish()`` on
    a clean exit. ``delay_ms`` is a number or a function read at each change (the user's setting). A failed write emits ``failed(message)``; the data stays in memory and the next
    change tries again.
    """

    saved = Signal(str)  # autosave path
    failed = Signal(str)  # readable message

    def __init__(self, get_documents: Callable[[], Documents | None], *, delay_ms: int | Callable[[], int],
                 folder: Path | None = None, ui_state: Callable[[], dict] | None = None,
                 current: Callable[[], int] | None = None, parent=None):
        super().__init__(parent)
        self.delay_ms = delay_ms if callable(delay_ms) else (lambda: delay_ms)
        self.get_documents = get_documents
        self.ui_state = ui_state or dict  # for a single document; entries carry their own
        self.current = current or (lambda: 0)
        self.folder = Path(folder) if folder else autosave_dir()
        instance = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.path = self.folder / f"{instance}.json"
        self._lock = QLockFile(str(self.folder / f"{instance}.lock"))
        self._timer = QTimer(self, singleShot=True)
        self._timer.timeout.connect(self.save_now)
        self.dirty = False

    def _ensure_lock(self) -> None:
        if not self._lock.isLocked():
            self.folder.mkdir(parents=True, exist_ok=True)
            self._lock.tryLock(0)

    def mark_dirty(self) -> None:
        """Schedule a save; further changes before it fires ride along instead of postponing it."""
        self.dirty = True
        delay = int(self.delay_ms())
        if delay > 0 and not self._timer.isActive():  # 0 = autosave turned off by the user
            self._timer.start(delay)

    def save_now(self) -> Path | None:
        self._timer.stop()
        entries = as_entries(self.get_documents(), self.ui_state())
        if not entries:
            self.discard()
            return None
        for entry in entries:
            self._keep_pasted_copy(entry.document)
        try:
            self._ensure_lock()
            atomic_write_text(self.path, session_text(entries, current=self.current()), overwrite=True)
        except (WriteError, OSError) as exc:
            self.dirty = True  # still unsaved: the next change (or save_now) tries again
            self.failed.emit(f"Autosave failed: {exc}")
            return None
        self.dirty = False
        self.saved.emit(str(self.path))
        return self.path

    def _keep_pasted_copy(self, doc) -> None:
        """A failed copy must not cost the regions and results: say so, and save the session anyway."""
        try:
            keep_pasted_copy(doc)
        except (WriteError, OSError) as exc:
            self.failed.emit(f"Autosave could not keep a copy of the pasted image: {exc}")

    def discard(self) -> None:
        """Forget this instance's autosave (every document was closed on purpose)."""
        self._timer.stop()
        self.dirty = False
        self.path.unlink(missing_ok=True)

    def finish(self) -> None:
        """Clean exit: nothing to recover next time."""
        self.discard()
        if self._lock.isLocked():
            self._lock.unlock()
