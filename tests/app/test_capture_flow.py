"""A screen capture's way into the studio (app/window/capture_flow.py): each crop is the next page of one "Captures"
document, read at once with the task picked on the frozen screen, its text streamed into the popup and copied."""

import pytest
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QApplication

from app.capture.captures import CAPTURES_NAME
from app.document.model import DONE
from app.window.capture_flow import CaptureFlow
from fake_engine import FakeFactory
from helpers import WAIT_MS, header_checkpoint


class PopupRecorder:
    """Stands in for app.capture.popup.ResultPopup: the flow's only calls into it."""

    def __init__(self):
        self.calls = []

    def show_text_delta(self, text):
        self.calls.append(("delta", text))

    def show_result(self, text, copy=False):
        self.calls.append(("result", text, copy))
        if copy:
            QApplication.clipboard().setText(text)

    def show_error(self, message):
        self.calls.append(("error", message))


@pytest.fixture
def studio(make_studio, qtbot, tmp_path):
    header_checkpoint(tmp_path / "model")
    studio = make_studio(FakeFactory(tokens=["captured ", "text"]), model_env="model")
    qtbot.waitUntil(lambda: studio.host.has_model, timeout=WAIT_MS)
    studio.popup = PopupRecorder()
    studio.flow = CaptureFlow(studio.window, studio.workspace, studio.documents, studio.regions, studio.settings,
                              studio.popup)
    host, flow = studio.host, studio.flow
    host.text_delta.connect(flow.on_text_delta)
    host.job_finished.connect(flow.on_job_finished)
    host.job_failed.connect(flow.on_job_failed)
    return studio


def crop(width, height, color="white") -> QImage:
    image = QImage(width, height, QImage.Format.Format_RGB32)
    image.fill(QColor(color))
    return image


def test_captures_are_pages_of_one_document_read_with_their_task(studio, qtbot):
    first = studio.flow.on_captured(crop(300, 80), "formula")
    second = studio.flow.on_captured(crop(120, 40, "black"), "table")
    (captures,) = [d for d in studio.workspace.documents if d.session.name == CAPTURES_NAME]
    assert captures.document.page_count == 2 and captures.session.page_count == 2
    regions = {r.id: r for r in captures.session.regions}
    assert (regions[first].page, regions[first].task, regions[first].box) == (0, "formula", (0.0, 0.0, 300.0, 80.0))
    assert (regions[second].page, regions[second].task, regions[second].box) == (1, "table", (0.0, 0.0, 120.0, 40.0))
    qtbot.waitUntil(lambda: all(r.state == DONE for r in regions.values()), timeout=WAIT_MS)
    assert captures.document.render(1).getpixel((5, 5)) == (0, 0, 0)  # the second crop, losslessly kept


def test_the_capture_streams_into_the_popup_and_lands_on_the_clipboard(studio, qtbot):
    studio.flow.on_captured(crop(200, 60), "text")
    qtbot.waitUntil(lambda: any(call[0] == "result" for call in studio.popup.calls), timeout=WAIT_MS)
    assert ("result", "captured text", True) in studio.popup.calls  # capture/copy_result is on by default
    assert "".join(call[1] for call in studio.popup.calls if call[0] == "delta") == "captured text"
    assert QApplication.clipboard().text() == "captured text"


def test_the_captures_document_is_kept_by_the_session(studio, qtbot):
    studio.flow.on_captured(crop(200, 60), "text")
    (entry,) = [e for e in studio.workspace.entries() if e.document.name == CAPTURES_NAME]
    assert entry.document.pasted_data and entry.document.regions  # the snip and its region survive a restart
