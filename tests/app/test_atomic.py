import errno
import os
import stat

import pytest

from app.document import atomic
from app.document.atomic import WriteError, atomic_write_bytes, atomic_write_text


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_writes_new_file_with_bom_option(tmp_path):
    target = tmp_path / "table.csv"
    atomic_write_text(target, "a,é\n", bom=True)
    assert target.read_bytes() == b"\xef\xbb\xbfa,\xc3\xa9\n"
    assert _leftovers(tmp_path) == []


def test_existing_file_is_not_overwritten_without_asking(tmp_path):
    target = tmp_path / "doc.md"
    target.write_text("old")
    with pytest.raises(FileExistsError):
        atomic_write_text(target, "new")
    assert target.read_text() == "old"
    atomic_write_text(target, "new", overwrite=True)
    assert target.read_text() == "new"


def test_overwrite_keeps_the_old_file_mode(tmp_path):
    target = tmp_path / "doc.md"
    target.write_text("old")
    target.chmod(0o640)
    atomic_write_text(target, "new", overwrite=True)
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


@pytest.mark.parametrize("failing", ["write", "fsync", "replace"])
def test_disk_full_keeps_original_and_leaves_no_temp_file(tmp_path, monkeypatch, failing):
    target = tmp_path / "session.json"
    target.write_text("precious")

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(atomic.os, failing, disk_full)
    with pytest.raises(WriteError) as caught:
        atomic_write_text(target, "x" * 10_000, overwrite=True)
    monkeypatch.undo()
    assert "disk is full" in str(caught.value) and str(target) in str(caught.value)
    assert caught.value.errno == errno.ENOSPC
    assert target.read_text() == "precious"
    assert _leftovers(tmp_path) == []


def test_permission_error_is_readable(tmp_path, monkeypatch):
    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(atomic.tempfile, "mkstemp", denied)
    with pytest.raises(WriteError, match="permission denied"):
        atomic_write_bytes(tmp_path / "out.json", b"{}")
    assert list(tmp_path.iterdir()) == []


def test_short_writes_are_completed(tmp_path, monkeypatch):
    real_write = os.write
    monkeypatch.setattr(atomic.os, "write", lambda fd, data: real_write(fd, bytes(data[:3])))
    atomic_write_bytes(tmp_path / "out.bin", b"0123456789")
    assert (tmp_path / "out.bin").read_bytes() == b"0123456789"
