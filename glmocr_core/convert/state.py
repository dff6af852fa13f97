"""Resume: what a conversion has finished, kept in the output folder so that converting the same input again with
the same settings skips the pages already done.

Layout, per document: ``<out>/.glmocr-convert/<name>/state.json`` (small: the input's content hash, the settings
that change what recognition gives, and the pages done) and one ``page-NNNN.json`` per finished page (its blocks,
so the outputs can be written again without the model). Every file is written atomically (a temporary file, then
a rename), and a page counts as done only once its file is in place, so an interruption at any moment leaves either
the old state or the new one. A different input or different settings start over.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path

WORK_FOLDER = ".glmocr-convert"
STATE_FILE = "state.json"
STATE_VERSION = 1


def write_atomic(path: Path, data: str | bytes) -> None:
    """Replace ``path`` with ``data`` in one rename: readers see the old file or the new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    # open(..., "xb") rather than mkstemp: the file gets the user's usual permissions (mkstemp's are 0600)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        with open(temporary, "xb") as out:
            out.write(raw)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def settings_key(settings: dict) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode("utf-8")).hexdigest()


class ResumeState:
    """The finished pages of one document's conversion into one output folder."""

    def __init__(self, folder: Path, content_hash: str, settings: dict):
        self.folder, self.content_hash, self.settings = folder, content_hash, settings
        self.key = settings_key(settings)
        self.done: set[int] = set()

    @classmethod
    def open(cls, folder: Path, content_hash: str, settings: dict, resume: bool = True) -> "ResumeState":
        """The state left by an earlier run with the same input and settings, or a fresh one (whose leftovers are
        removed)."""
        state = cls(folder, content_hash, settings)
        earlier = _read_json(folder / STATE_FILE)
        if resume and earlier is not None and state._matches(earlier):
            state.done = {int(page) for page in earlier.get("pages_done", [])
                          if (folder / page_file_name(int(page))).is_file()}
        else:
            state._clear()
        return state

    def _matches(self, earlier: dict) -> bool:
        return (earlier.get("version") == STATE_VERSION and earlier.get("content_hash") == self.content_hash
                and earlier.get("settings_key") == self.key)

    def _clear(self) -> None:
        if self.folder.is_dir():
            for leftover in self.folder.glob("page-*.json"):
                leftover.unlink(missing_ok=True)
            (self.folder / STATE_FILE).unlink(missing_ok=True)

    def page(self, number: int) -> dict | None:
        """A finished page's record (None when the page is not done, or its file is unreadable)."""
        if number not in self.done:
            return None
        return _read_json(self.folder / page_file_name(number))

    def finish_page(self, number: int, record: dict) -> None:
        write_atomic(self.folder / page_file_name(number), json.dumps(record, ensure_ascii=False))
        self.done.add(number)
        self._save()

    def _save(self) -> None:
        record = {"version": STATE_VERSION, "content_hash": self.content_hash, "settings_key": self.key,
                  "settings": self.settings, "pages_done": sorted(self.done)}
        write_atomic(self.folder / STATE_FILE, json.dumps(record, indent=1, sort_keys=True, default=str))


def page_file_name(number: int) -> str:
    return f"page-{number:04d}.json"


def _read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
