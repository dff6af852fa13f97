"""Sessions of pasted or dropped pictures: the bytes are kept in the data folder, so restore needs no relink."""

import hashlib
import io
import json

import pytest
from PIL import Image, ImageDraw
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QFileDialog

from app.document import session_file
from app.document.atomic import WriteError
from app.document.model import DocumentSession, Region
from app.main_window import MainWindow
from app.results.session_actions import FileActions, install_file_actions
from app.document.autosave import Autosaver
from app.document.session_file import CHANGED, NO_FILE, OK, check_document, keep_pasted_copy, load_session
from app.paths import MODEL_DIR_ENV
from app.settings import Settings

WAIT_MS = 10000


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


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("GLMOCR_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


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
    saved = json.loads(path.read_text())["document"]
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

@pytest.fixture
def make_window(qtbot, tmp_path, monkeypatch, data_dir):
    monkeypatch.setenv(MODEL_DIR_ENV, str(tmp_path / "no-model"))
    made = []

    def make():
        window = MainWindow(Settings(tmp_path / "settings.ini"), autoload_model=False)
        qtbot.addWidget(window)
        actions = install_file_actions(window)
        QApplication.instance().aboutToQuit.disconnect(actions.finish)
        window.show()
        qtbot.waitExposed(window)
        made.append(actions)
        return window

    yield make
    for actions in made:
        actions.autosaver.finish()


def paste_picture(window):
    image = QImage(320, 200, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    painter.fillRect(40, 50, 120, 30, QColor("black"))
    painter.end()
    QApplication.clipboard().setImage(image)
    window.actions_by_key["paste"].trigger()


def drag_on_page(window, start, end):
    viewport = window.page_view.viewport()
    a, b = (window.page_view.mapFromScene(QPointF(*p)) for p in (start, end))
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, a)
    QTest.mouseMove(viewport, (a + b) / 2)
    QTest.mouseMove(viewport, b)
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, b)


def test_pasted_session_restores_after_a_crash_without_asking_to_relink(make_window, qtbot, monkeypatch):
    asked = []
    monkeypatch.setattr(FileActions, "_ask_relink", lambda self, check: asked.append(check.message) or "cancel")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: asked.append("dialog")))
    first = make_window()
    paste_picture(first)
    assert first.session.path is None
    drag_on_page(first, (30, 40), (200, 120))
    region = first.session.regions[0]
    region.edited_text = "my words"
    content_hash, box = first.session.content_hash, region.box
    assert first.file_actions.autosaver.save_now()
    first.file_actions.autosaver._lock.unlock()  # the app "dies": its autosave stays, its lock owner is gone
    first.close()
    QApplication.clipboard().clear()  # the restart must not lean on the clipboard

    second = make_window()
    qtbot.waitUntil(lambda: second.file_actions.restore_box is not None, timeout=WAIT_MS)
    second.file_actions.restore_box.restore_button.click()
    qtbot.waitUntil(lambda: second.session is not None, timeout=WAIT_MS)
    assert asked == []
    assert second.document.page_size(0) == (320.0, 200.0) and second.document.content_hash() == content_hash
    assert second.session.path is None and second.session.pasted_copy
    (restored,) = second.session.regions
    assert (restored.id, restored.box, restored.edited_text) == (region.id, box, "my words")
    assert second.results.card(restored.id) is not None and second.center.currentWidget() is second.page_view
