"""Session files, document checks, autosave and crash recovery (in process; the kill -9 proof is separate)."""

import json
import os
import subprocess
import sys

import pytest

from app.document import autosave
from app.document.atomic import WriteError
from app.document.model import DONE, DocumentSession, Region
from app.document.autosave import Autosaver, find_recoverable
from glmocr_core.documents.formats import file_content_hash

from app.document.session_file import (CHANGED, MISSING, NO_FILE, OK, SessionError, check_document,
                                       load_session, relink, save_session)


def make_doc(path=None, content_hash="") -> DocumentSession:
    doc = DocumentSession(path=str(path) if path else None, content_hash=content_hash, name="scan.png")
    doc.add_region(Region(page=0, box=(1, 2, 30, 40), task="formula", state=DONE, text="$$x$$",
                          result={"task": "formula", "text": "$$x$$", "parsed": "x"}, edited_text="x+1"))
    doc.add_region(Region(page=0, box=(1, 50, 30, 90), task="extract", schema='{"a": ""}'))
    return doc


def test_save_and_open_round_trip_keeps_edits(tmp_path):
    doc = make_doc("/somewhere/scan.png", "abc")
    path = save_session(doc, tmp_path / "work.glmocr-session", ui_state={"page": 0})
    loaded = load_session(path)
    assert loaded.document.to_dict() == doc.to_dict()
    assert loaded.ui_state == {"page": 0} and loaded.saved_at
    with pytest.raises(FileExistsError):
        save_session(doc, path)


@pytest.mark.parametrize("content,reason", [
    ("not json", "not valid JSON"),
    ('{"format": "other"}', "not a GLM-OCR Studio session"),
    ('{"format": "glmocr-studio-session", "version": 99, "document": {}}', "newer version"),
    ('{"format": "glmocr-studio-session", "version": 1, "document": {"regions": [{"page": 0}]}}', "damaged"),
])
def test_bad_session_files_give_readable_errors(tmp_path, content, reason):
    path = tmp_path / "bad.glmocr-session"
    path.write_text(content)
    with pytest.raises(SessionError, match=reason) as caught:
        load_session(path)
    assert str(path) in str(caught.value)


def test_document_checks_moved_changed_and_relinked(tmp_path):
    original = tmp_path / "scan.png"
    original.write_bytes(b"pixels")
    doc = make_doc(original, file_content_hash(original))
    assert check_document(doc).status == OK
    original.write_bytes(b"other pixels")
    assert check_document(doc).status == CHANGED
    moved = tmp_path / "moved.png"
    moved.write_bytes(b"pixels")
    original.unlink()
    missing = check_document(doc)
    assert missing.status == MISSING and str(original) in missing.message
    assert relink(doc, moved).status == OK and doc.path == str(moved)
    assert check_document(make_doc(None)).status == NO_FILE


def test_autosave_after_change_and_clean_finish_leaves_nothing(qtbot, tmp_path):
    doc = make_doc()
    saver = Autosaver(lambda: doc, folder=tmp_path, delay_ms=50)
    saver.mark_dirty()
    with qtbot.waitSignal(saver.saved, timeout=5_000) as saved:
        pass
    assert json.loads(open(saved.args[0]).read())["documents"][0]["document"]["regions"][0]["edited_text"] == "x+1"
    assert find_recoverable(tmp_path) == []  # our own live autosave is not "lost work"
    saver.finish()
    assert list(tmp_path.iterdir()) == []


def test_autosave_failure_is_reported_and_retried(qtbot, tmp_path, monkeypatch):
    doc = make_doc()
    saver = Autosaver(lambda: doc, folder=tmp_path, delay_ms=10_000)

    def disk_full(*args, **kwargs):
        raise WriteError(args[0], OSError(28, "No space left on device"))

    monkeypatch.setattr(autosave, "atomic_write_text", disk_full)
    with qtbot.waitSignal(saver.failed) as failed:
        saver.save_now()
    assert "disk is full" in failed.args[0] and saver.dirty
    monkeypatch.undo()
    assert saver.save_now() == saver.path and not saver.dirty
    saver.finish()


_CRASHING_CHILD = """
import os, sys
from PySide6.QtCore import QCoreApplication
from app.document.autosave import Autosaver
from app.document.model import DocumentSession
from app.qt_compat import install_refcount_guards
install_refcount_guards()
app = QCoreApplication([])
doc = DocumentSession(path=None, name="lost.png")
saver = Autosaver(lambda: doc, folder=sys.argv[1], delay_ms=0)
saver.save_now()
os._exit(9)  # die without finish(): the lock stays on disk with a dead owner
"""


def test_autosave_of_a_dead_process_is_offered_once_restored_or_discarded(tmp_path):
    subprocess.run([sys.executable, "-c", _CRASHING_CHILD, str(tmp_path)], check=False, timeout=60,
                   cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    found = find_recoverable(tmp_path)
    assert [r.document_name for r in found] == ["lost.png"]
    assert found[0].load().document.name == "lost.png"
    found[0].discard()
    assert find_recoverable(tmp_path) == [] and list(tmp_path.iterdir()) == []


DAMAGED_AUTOSAVES = {
    "truncated": "{ truncated",
    "garbled": "\x00\x01 not json at all",
    "version-not-a-number": '{"format": "glmocr-studio-session", "version": "abc", "document": {}}',
    "document-is-a-list": '{"format": "glmocr-studio-session", "version": 1, "document": []}',
    "regions-are-strings": '{"format": "glmocr-studio-session", "version": 1, "document": {"regions": ["x"]}}',
}


@pytest.mark.parametrize("case", sorted(DAMAGED_AUTOSAVES))
def test_a_damaged_autosave_is_kept_aside_and_named_never_deleted(tmp_path, case):
    from app.document.autosave import DAMAGED_FOLDER

    content = DAMAGED_AUTOSAVES[case]
    (tmp_path / "123-abc.json").write_text(content)
    damaged = []
    assert find_recoverable(tmp_path, damaged) == []  # not offered as restorable work
    kept = tmp_path / DAMAGED_FOLDER / "123-abc.json"
    assert [d.kept_at for d in damaged] == [kept] and kept.read_text() == content and damaged[0].reason
    assert find_recoverable(tmp_path, damaged := []) == [] and damaged == []  # told once, kept for good


def test_the_document_check_hashes_a_file_as_the_core_does(tmp_path):
    from PIL import Image

    from glmocr_core.documents.document import open_document

    path = tmp_path / "page.png"
    Image.new("RGB", (20, 10), "white").save(path)
    with open_document(path) as document:
        assert file_content_hash(path) == document.content_hash()
