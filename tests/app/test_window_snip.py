"""The two habits of snip tools: a pasted or dropped screenshot is read at once, as Text, whole ("run pasted images",
on by default), and "copy the result when done" (off by default) puts a finished result on the clipboard with a
word in the status bar."""

import pytest
from PySide6.QtCore import QMimeData, QUrl
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QApplication

from app.document.model import DONE
from fake_engine import FakeFactory
from helpers import WAIT_MS, header_checkpoint, make_png, send_drop


@pytest.fixture
def make(make_studio, qtbot, tmp_path):
    def make_(**settings_values):
        header_checkpoint(tmp_path / "model")
        factory = FakeFactory(tokens=["snipped ", "words"])
        studio = make_studio(factory, model_env="model", default_task="table", **settings_values)
        studio.factory = factory
        qtbot.waitUntil(lambda: studio.host.has_model, timeout=WAIT_MS)
        return studio

    return make_


def screenshot(width=320, height=120) -> QImage:
    image = QImage(width, height, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    return image


def test_a_pasted_screenshot_is_read_at_once_as_text_on_the_whole_image(make, qtbot):
    studio = make()
    QApplication.clipboard().setImage(screenshot())
    studio.actions["paste"].trigger()
    (region,) = studio.workspace.session.regions
    assert region.task == "text" and region.box == (0.0, 0.0, 320.0, 120.0)  # Text, whatever the default task
    qtbot.waitUntil(lambda: region.state == DONE, timeout=WAIT_MS)
    assert region.text == "snipped words" and studio.factory.engine.calls[0][2] is None  # the whole image


def test_a_dropped_picture_is_read_at_once_too(make, qtbot):
    studio = make()
    mime = QMimeData()
    mime.setImageData(screenshot(200, 90))
    assert send_drop(studio.window, mime)
    (region,) = studio.workspace.session.regions
    qtbot.waitUntil(lambda: region.state == DONE, timeout=WAIT_MS)


def test_with_the_setting_off_a_paste_only_opens(make):
    studio = make(run_pasted_images=False)
    QApplication.clipboard().setImage(screenshot())
    studio.actions["paste"].trigger()
    assert studio.workspace.session.regions == [] and studio.factory.engine.calls == []


def test_a_pasted_file_is_a_document_not_a_screenshot(make, tmp_path):
    studio = make()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(make_png(tmp_path / "scan.png")))])
    QApplication.clipboard().setMimeData(mime)
    studio.actions["paste"].trigger()
    assert studio.workspace.session.name == "scan.png" and studio.workspace.session.regions == []


def test_copy_the_result_when_done(make, qtbot):
    studio = make(copy_result_when_done=True)
    QApplication.clipboard().setImage(screenshot())
    studio.actions["paste"].trigger()
    (region,) = studio.workspace.session.regions
    qtbot.waitUntil(lambda: QApplication.clipboard().text() == "snipped words", timeout=WAIT_MS)
    assert region.state == DONE and "copied to the clipboard" in studio.window.statusBar().currentMessage()


def test_without_the_setting_the_clipboard_is_left_alone(make, qtbot):
    studio = make()
    QApplication.clipboard().setImage(screenshot())
    studio.actions["paste"].trigger()
    (region,) = studio.workspace.session.regions
    QApplication.clipboard().setText("the user's own")
    qtbot.waitUntil(lambda: region.state == DONE, timeout=WAIT_MS)
    assert QApplication.clipboard().text() == "the user's own"
