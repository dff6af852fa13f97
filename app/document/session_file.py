"""Session files: the open documents' regions, results and edits on disk, and checks that each document is still
there.

A session file is JSON: format + version, which document was on screen, and for every open document its path and
content hash, every region with its result and the user's edits (``DocumentSession.to_dict``) and what the window
showed of it (the page). Version 1 files held one document; they load as a session of that one. Autosave and crash
recovery (``app.document.autosave``) write the same format.

A pasted or dropped picture has no file of its own, so saving such a session (by hand or by autosave) first keeps a
copy of its bytes in the data folder, ``pasted/<content hash>.<format>``, and records that path; restoring opens the
copy. The copy is the original bytes, not a re-encoding: its SHA-256 is the document's content hash (so it can be
checked like any file), and a JPEG, multi-page TIFF or PDF stays exactly what was pasted.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence, Union

from PIL import Image, UnidentifiedImageError

from glmocr_core.documents.formats import file_content_hash, looks_like_pdf

from app.document.atomic import WriteError, atomic_write_bytes, atomic_write_text
from app.document.model import DocumentSession
from app.paths import pasted_dir, user_data_dir

SESSION_FORMAT = "glmocr-studio-session"
SESSION_VERSION = 2  # 2: several documents; 1: one (still read)
SESSION_SUFFIX = ".glmocr-session"
SESSION_FILTER = f"GLM-OCR sessions (*{SESSION_SUFFIX});;JSON (*.json);;All files (*)"
LAST_SESSION_NAME = "last-session" + SESSION_SUFFIX


class SessionError(ValueError):
    """A session file that cannot be opened, with the path and a readable reason."""

    def __init__(self, path, reason: str):
        super().__init__(f"Cannot open session {path}: {reason}")
        self.path, self.reason = str(path), reason


def last_session_path() -> Path:
    """Where a clean exit keeps the open session (File > Reopen Last Session)."""
    return user_data_dir() / LAST_SESSION_NAME


# --- pasted pictures ----------------------------------------------------------------------------------------------

_SUFFIXES = {"JPEG": "jpg", "TIFF": "tif", "MPO": "jpg"}  # file name suffix per Pillow format where it differs


def _suffix_for(data: bytes) -> str:
    """A file name suffix that says what the bytes are (only for people looking into the folder)."""
    if looks_like_pdf(data):
        return "pdf"
    try:
        with Image.open(io.BytesIO(data)) as image:  # reads the header only
            fmt = image.format or ""
    except (UnidentifiedImageError, OSError, ValueError):
        return "bin"
    return _SUFFIXES.get(fmt, fmt.lower() or "bin")


def keep_pasted_copy(doc: DocumentSession, folder: Path | None = None) -> Path | None:
    """Write the bytes of a pasted/dropped document into the data folder (once per content; atomically) and
    record the copy in ``doc.pasted_copy``. Nothing to do for file documents. Raises WriteError."""
    if doc.path or not doc.pasted_data:
        return None
    data = doc.pasted_data
    digest = hashlib.sha256(data).hexdigest()
    target = (folder or pasted_dir()) / f"{digest}.{_suffix_for(data)}"
    if not (target.is_file() and target.stat().st_size == len(data)):  # content-addressed: same name, same bytes
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WriteError(target, exc) from exc
        atomic_write_bytes(target, data, overwrite=True)
    doc.pasted_copy = str(target)
    return target


def document_location(doc: DocumentSession) -> str | None:
    """The file to open for a session's document: its own file, or the kept copy of pasted data."""
    return doc.path or doc.pasted_copy


# --- session files ----------------------------------------------------------------------------------------------

@dataclass
class SessionEntry:
    """One open document of a session, and what the window showed of it (e.g. the page)."""

    document: DocumentSession
    ui_state: dict = field(default_factory=dict)


Documents = Union[DocumentSession, Sequence[SessionEntry]]  # one document is a session of one


def as_entries(documents: Documents | None, ui_state: dict | None = None) -> list[SessionEntry]:
    if documents is None:
        return []
    if isinstance(documents, DocumentSession):
        return [SessionEntry(documents, ui_state or {})]
    return list(documents)


def session_dict(documents: Documents, ui_state: dict | None = None, current: int = 0) -> dict:
    entries = as_entries(documents, ui_state)
    return {
        "format": SESSION_FORMAT,
        "version": SESSION_VERSION,
        "saved_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "current": current if 0 <= current < len(entries) else 0,
        "documents": [{"document": e.document.to_dict(), "ui": e.ui_state} for e in entries],
    }


def session_text(documents: Documents, ui_state: dict | None = None, current: int = 0) -> str:
    return json.dumps(session_dict(documents, ui_state, current), ensure_ascii=False, indent=1) + "\n"


def keep_pasted_copies(entries: list[SessionEntry]) -> None:
    for entry in entries:
        keep_pasted_copy(entry.document)


def save_session(documents: Documents, path, *, overwrite: bool = False, ui_state: dict | None = None,
                 current: int = 0) -> Path:
    """Write atomically (with the copies of pasted pictures first); FileExistsError when ``path`` exists and
    ``overwrite`` is False, WriteError on failure."""
    if Path(path).exists() and not overwrite:  # refuse before writing anything, the copies included
        raise FileExistsError(errno.EEXIST, f"{path} already exists", str(path))
    entries = as_entries(documents, ui_state)
    keep_pasted_copies(entries)
    return atomic_write_text(path, session_text(entries, current=current), overwrite=overwrite)


@dataclass
class LoadedSession:
    entries: list[SessionEntry]
    current: int
    saved_at: str
    path: str

    @property
    def document(self) -> DocumentSession:
        """The document that was on screen."""
        return self.entries[self.current].document

    @property
    def ui_state(self) -> dict:
        return self.entries[self.current].ui_state


def load_session(path) -> LoadedSession:
    """Read a session file (version 1 or 2); raises SessionError saying what is wrong with it."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise SessionError(path, exc.strerror or str(exc)) from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SessionError(path, f"the file is not valid JSON ({exc})") from exc
    if not isinstance(data, dict) or data.get("format") != SESSION_FORMAT:
        raise SessionError(path, "this is not a GLM-OCR Studio session file")
    version = data.get("version", 0)
    if not isinstance(version, int) or isinstance(version, bool):
        raise SessionError(path, f"the session data is damaged (its version is {version!r}, not a number)")
    if version > SESSION_VERSION:
        raise SessionError(path, f"it was saved by a newer version (format {version}); please update the app")
    try:
        entries = _entries_v1(data) if version < 2 else _entries_v2(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:  # missing keys, wrong types (a list, a string)
        raise SessionError(path, f"the session data is damaged ({exc.__class__.__name__}: {exc})") from exc
    if not entries:
        raise SessionError(path, "the session holds no document")
    current, saved_at = data.get("current", 0), data.get("saved_at", "")
    current = current if isinstance(current, int) and 0 <= current < len(entries) else 0
    return LoadedSession(entries, current, saved_at if isinstance(saved_at, str) else "", str(path))


def _entry(document_data, ui) -> SessionEntry:
    return SessionEntry(DocumentSession.from_dict(document_data), ui if isinstance(ui, dict) else {})


def _entries_v1(data: dict) -> list[SessionEntry]:
    """The one-document format: ``document`` and ``ui`` at the top."""
    return [_entry(data["document"], data.get("ui"))]


def _entries_v2(data: dict) -> list[SessionEntry]:
    documents = data["documents"]
    if not isinstance(documents, list):
        raise TypeError(f"documents is a {type(documents).__name__}, not a list")
    return [_entry(item["document"], item.get("ui")) for item in documents]


# --- is the document still there and the same? --------------------------------------------------------------------

OK, MISSING, CHANGED, NO_FILE = "ok", "missing", "changed", "no_file"


@dataclass
class DocumentCheck:
    status: str  # OK | MISSING | CHANGED | NO_FILE (pasted image data: nothing to check)
    message: str


def check_document(doc: DocumentSession, hash_file: Callable[[str], str] = file_content_hash) -> DocumentCheck:
    """Whether the session's document is where it was and unchanged, in words the restore dialog can show."""
    if not doc.path:
        return _check_pasted_copy(doc, hash_file)
    if not Path(doc.path).is_file():
        return DocumentCheck(MISSING, f"The document {doc.path} was moved or deleted. Choose where it is now.")
    if doc.content_hash and hash_file(doc.path) != doc.content_hash:
        return DocumentCheck(CHANGED, f"The document {doc.path} has changed since the session was saved; "
                                      "regions may no longer match the page. Choose another file or keep this one.")
    return DocumentCheck(OK, "")


def _check_pasted_copy(doc: DocumentSession, hash_file: Callable[[str], str]) -> DocumentCheck:
    copy = doc.pasted_copy
    if not copy or not Path(copy).is_file():
        where = f" (its saved copy {copy} is gone)" if copy else ""
        return DocumentCheck(NO_FILE, f"The session's image was pasted or dropped{where}. If you have the picture "
                                      "as a file, choose it to see the page again.")
    if doc.content_hash and hash_file(copy) != doc.content_hash:
        return DocumentCheck(CHANGED, f"The saved copy of the pasted image, {copy}, is damaged; regions may no "
                                      "longer match it. Choose the picture as a file, or use the copy anyway.")
    return DocumentCheck(OK, "")


def relink(doc: DocumentSession, new_path, hash_file: Callable[[str], str] = file_content_hash) -> DocumentCheck:
    """Point the session at ``new_path`` (the user found the moved file) and check it again."""
    doc.path = str(new_path)
    if not doc.name:
        doc.name = Path(new_path).name
    return check_document(doc, hash_file)
