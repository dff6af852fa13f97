"""Atomic file writes: the target is either the old file or the complete new one, never half of either.

The data goes to a temporary file in the target's folder (same file system, so ``os.replace`` is a rename), is
fsynced, and then replaces the target. An existing file is only replaced with ``overwrite=True``: the UI asks first.
Any OS error becomes a ``WriteError`` with a readable message; the temporary file is removed and the old file stays.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

_REASONS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "the file system is read-only",
    errno.ENOENT: "the folder does not exist",
    errno.ENAMETOOLONG: "the file name is too long",
}


def _read_umask() -> int:
    # Reading the umask means setting it; do it once at import, before any worker threads exist.
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


class WriteError(OSError):
    """A write failed; ``str()`` says where and why, in words a user understands."""

    def __init__(self, path: str | os.PathLike, cause: OSError):
        reason = _REASONS.get(cause.errno, cause.strerror or str(cause))
        super().__init__(cause.errno, f"Could not save {os.fspath(path)}: {reason}.")
        self.path = os.fspath(path)
        self.cause = cause

    def __str__(self) -> str:
        return self.strerror


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable; not every platform can open a folder, which is fine."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, overwrite: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically; raises FileExistsError (no overwrite) or WriteError."""
    return atomic_write_all([(Path(path), data)], overwrite=overwrite)[0]


def atomic_write_all(files: list[tuple[Path, bytes]], *, overwrite: bool = False) -> list[Path]:
    """Write several files all or nothing: every one goes to a temporary file first, and only when all of them are
    complete are they renamed into place. A failure before that leaves every target as it was."""
    for target, _ in files:
        if target.exists() and not overwrite:
            raise FileExistsError(errno.EEXIST, f"{target} already exists", str(target))
    temps: list[str] = []
    try:
        for target, data in files:
            temps.append(_complete_temp(target, data))
    except WriteError:
        for name in temps:
            _remove_quietly(name)
        raise
    for (target, _), temp_name in zip(files, temps):
        _move_into_place(temp_name, target)
    for folder in {target.parent for target, _ in files}:
        _fsync_folder(folder)
    return [target for target, _ in files]


def _complete_temp(target: Path, data: bytes) -> str:
    """A fsynced temporary file beside ``target`` holding ``data``, with the mode ``target`` should have."""
    try:
        fd, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise WriteError(target, exc) from exc
    try:
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        _keep_mode(target, temp_name)
    except OSError as exc:
        _remove_quietly(temp_name)
        raise WriteError(target, exc) from exc
    return temp_name


def _move_into_place(temp_name: str, target: Path) -> None:
    try:
        os.replace(temp_name, target)
    except OSError as exc:
        _remove_quietly(temp_name)
        raise WriteError(target, exc) from exc


def atomic_write_text(path: str | os.PathLike, text: str, *, overwrite: bool = False, encoding: str = "utf-8",
                      bom: bool = False) -> Path:
    """Text version; ``bom=True`` prefixes a UTF-8 byte order mark (what Excel needs to read CSV as UTF-8)."""
    data = text.encode(encoding)
    if bom:
        data = b"\xef\xbb\xbf" + data
    return atomic_write_bytes(path, data, overwrite=overwrite)


def _keep_mode(target: Path, temp_name: str) -> None:
    """mkstemp makes 0600 files; give the new file the old one's mode, or the usual default for a new one."""
    try:
        mode = target.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o666 & ~_UMASK
    os.chmod(temp_name, mode)


def _remove_quietly(name: str) -> None:
    try:
        os.unlink(name)
    except OSError:
        pass
