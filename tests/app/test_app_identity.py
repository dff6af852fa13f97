"""Desktop identity: icon, desktop file name, and macOS file-open events reaching the window."""

from PySide6.QtCore import QEvent, QUrl
from PySide6.QtGui import QFileOpenEvent, QGuiApplication
from PIL import Image

from app.main import _set_identity, open_file_event


def test_identity_sets_desktop_file_name_and_icon(qapp, tmp_path, monkeypatch):
    icon = tmp_path / "icon.png"
    Image.new("RGBA", (32, 32), (10, 120, 200, 255)).save(icon)
    monkeypatch.setattr("app.resources_setup.icon_path", lambda: icon)
    _set_identity(qapp)
    assert QGuiApplication.desktopFileName() == "glmocr-studio"
    assert not qapp.windowIcon().isNull()


def test_file_open_event_opens_the_file(qapp, tmp_path):
    opened = []

    class Window:
        def open_incoming(self, incoming, kind):
            opened.append(list(incoming.paths))

    image = tmp_path / "page.png"
    Image.new("RGB", (40, 30), "white").save(image)
    assert open_file_event(Window(), QFileOpenEvent(QUrl.fromLocalFile(str(image))))
    assert opened == [[str(image)]]
    assert not open_file_event(Window(), QEvent(QEvent.Type.User))
