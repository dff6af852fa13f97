"""Desktop identity: icon, desktop file name, and macOS file-open events reaching the window."""

from PySide6.QtCore import QEvent, QUrl
from PySide6.QtGui import QFileOpenEvent, QGuiApplication
from PIL import Image

from app.main import open_file_event, set_identity


def test_identity_sets_desktop_file_name_and_icon(qapp, tmp_path, monkeypatch):
    icon = tmp_path / "icon.png"
    Image.new("RGBA", (32, 32), (10, 120, 200, 255)).save(icon)
    monkeypatch.setattr("app.resources_setup.icon_path", lambda: icon)
    set_identity(qapp)
    assert QGuiApplication.desktopFileName() == "glmocr-studio"
    assert not qapp.windowIcon().isNull()


def test_file_open_event_opens_the_file(qapp, tmp_path):
    opened = []
    image = tmp_path / "page.png"
    Image.new("RGB", (40, 30), "white").save(image)
    assert open_file_event(opened.append, QFileOpenEvent(QUrl.fromLocalFile(str(image))))
    assert opened == [str(image)]
    assert not open_file_event(opened.append, QEvent(QEvent.Type.User))


def test_a_file_the_system_hands_over_opens_in_the_window(make_studio, tmp_path):
    studio = make_studio()
    image = tmp_path / "page.png"
    Image.new("RGB", (40, 30), "white").save(image)
    studio.documents.open_file(str(image))
    assert studio.workspace.session.path == str(image)
