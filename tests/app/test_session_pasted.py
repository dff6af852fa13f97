"""Sessions of pasted or dropped pictures: the bytes are kept in the data folder, so restore needs no relink."""

import hashlib
import io
import json

import pytest
from PIL import Image, ImageDraw
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QApplication, QFileDialog

from app.document import session_file
from app.document.atomic import WriteError
from app.document.model import DocumentSession, Region
from app.document.autosave import Autosaver
from app.document.session_file import CHANGED, NO_FILE, OK, check_document, keep_pasted_copy, load_session
from helpers import WAIT_MS, drag_on_page


def encoded(fmt: str, size=(64, 40)) -> bytes:
    image = Image.new("RGB", size, "white")
    ImageDraw.Draw(image).rectangle((5, 5, 30, 20), fill="navy")
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def pasted_doc(data: bytes) -> DocumentSession:
    doc = DocumentSession(path=None, name="Pasted image", content_hash=hashlib.sha256(data).hexdigest(),
                          pasted_data=data)
    doc.add_region(Region(page=0, box=(1, 1, 20, 20)))
    return doc


def test_the_copy_is_the_pasted_bytes_named_by_their_hash_and_written_once(data_dir, monkeypatch):
    data = encoded("JPEG")
    doc = pasted_doc(data)
    copy = keep_pasted_copy(doc)
    assert copy == data_dir / "pasted" / f"{doc.content_hash}.jpg" and copy.read_bytes() == data
    assert doc.pasted_copy == str(copy) and check_document(doc).status == OK
    monkeypatch.setattr(session_file, "atomic_write_bytes", lambda *a, **k: pytest.fail("rewrote an existing copy"))
    assert keep_pasted_copy(doc) == copy
    assert keep_pasted_copy(DocumentSession(path="/a/file.png", pasted_data=data)) is None  # files need no copy


def test_a_missing_or_damaged_copy_is_reported_for_the_relink_flow(data_dir):
    doc = pasted_doc(encoded("PNG"))
    copy = keep_pasted_copy(doc)
    copy.write_bytes(b"garbage")
    assert check_document(doc).status == CHANGED
    copy.unlink()
    gone = check_document(doc)
    assert gone.status == NO_FILE and str(copy) in gone.message
    assert check_document(DocumentSession(path=None)).status == NO_FILE


def test_saved_session_records_the_copy_and_restores_it(data_dir, tmp_path):
    doc = pasted_doc(encoded("PNG"))
    path = session_file.save_session(doc, tmp_path / "work.glmocr-session")
    saved = json.loads(path.read_text())["documents"][0]["document"]
    assert saved["pasted_copy"].endswith(".png") and "pasted_data" not in saved
    loaded = load_session(path).document
    assert loaded.pasted_copy == doc.pasted_copy and session_file.document_location(loaded) == doc.pasted_copy
    with pytest.raises(FileExistsError):
        session_file.save_session(pasted_doc(encoded("BMP")), path)
    assert not list((data_dir / "pasted").glob("*.bmp"))  # refused before anything was written


def test_autosave_keeps_the_session_when_the_copy_cannot_be_written(qtbot, data_dir, monkeypatch):
    doc = pasted_doc(encoded("PNG"))
    saver = Autosaver(lambda: doc, folder=data_dir / "autosave", delay_ms=10_000)

    def disk_full(*args, **kwargs):
        raise WriteError(args[0], OSError(28, "No space left on device"))

    monkeypatch.setattr(session_file, "atomic_write_bytes", disk_full)
    with qtbot.waitSignal(saver.failed) as failed:
        assert saver.save_now() == saver.path  # regions and results are saved all the same
    assert "pasted image" in failed.args[0] and "disk is full" in failed.args[0]
    assert len(load_session(saver.path).document.regions) == 1
    saver.finish()


# --- the whole path in the app: paste, draw, autosave, "crash", restart, restore --------------------------------

def paste_picture(studio):
    image = QImage(320, 200, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    painter.fillRect(40, 50, 120, 30, QColor("black"))
    painter.end()
    QApplication.clipboard().setImage(image)
    studio.actions["paste"].trigger()


def test_pasted_session_restores_after_a_crash_without_asking_to_relink(make_studio, qtbot, monkeypatch, data_dir):
    asked = []
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: asked.append("dialog")))
    relink = {"ask_relink": lambda check: asked.append(check.message) or "cancel"}
    first = make_studio(build_options=relink)
    paste_picture(first)
    assert first.workspace.session.path is None
    drag_on_page(first.window, (30, 40), (200, 120))
    region = first.workspace.session.regions[0]
    region.edited_text = "my words"
    content_hash, box = first.workspace.session.content_hash, region.box
    autosave = first.file_actions.autosaver.save_now()
    assert autosave
    # The app "dies": its autosave stays where a dead owner's would (no live lock next to it).
    (data_dir / "autosave" / "999-dead.json").write_bytes(autosave.read_bytes())
    first.file_actions.autosaver.finish()
    first.window.close()
    QApplication.clipboard().clear()  # the restart must not lean on the clipboard

    second = make_studio(build_options=relink)
    qtbot.waitUntil(lambda: second.file_actions.restore_box is not None, timeout=WAIT_MS)
    restore_box = second.file_actions.restore_box
    next(b for b in restore_box.buttons() if b.text() == "Restore").click()
    qtbot.waitUntil(lambda: second.workspace.session is not None, timeout=WAIT_MS)
    assert asked == []
    document, session = second.workspace.document, second.workspace.session
    assert document.page_size(0) == (320.0, 200.0) and document.content_hash() == content_hash
    assert session.path is None and session.pasted_copy
    (restored,) = session.regions
    assert (restored.id, restored.box, restored.edited_text) == (region.id, box, "my words")
    assert second.results.card(restored.id) is not None and second.window.center.currentWidget() is second.window.page_area
