"""The About box: versions a bug report needs (torch's without importing it), the bundled parts' licences with what
the AGPL means for passing the app on, and links that open in the browser."""

import sys
from importlib import metadata

import PySide6
from PySide6.QtCore import qVersion
from PySide6.QtWidgets import QLabel

from app.window import about
from app.window.about import LICENCES, MODEL_URL, about_text, package_version, project_links


def test_versions_of_the_app_torch_qt_pyside_and_python():
    text = about_text()
    for name, version in (("GLM-OCR Studio", "0.1.0"), ("PyTorch", metadata.version("torch")), ("Qt", qVersion()),
                          ("PySide6", PySide6.__version__), ("Python", sys.version.split()[0])):
        assert f"<b>{name}</b></td><td>{version}" in text


def test_torch_is_not_imported_to_say_its_version():
    assert package_version("torch") == metadata.version("torch")
    assert package_version("no-such-distribution") == "not installed"


def test_every_bundled_part_with_its_licence_and_what_the_agpl_means():
    text = about_text()
    wanted = {"GLM-OCR model weights": "MIT", "KaTeX": "MIT", "Qt": "LGPL-3.0", "PySide6": "LGPL-3.0",
              "PyTorch": "BSD-3-Clause", "PyMuPDF": "AGPL-3.0"}
    assert {part.split(" (")[0]: licence for part, licence, _ in LICENCES} == wanted
    for part, licence, url in LICENCES:
        assert f"<b>{part}</b></td><td><a href='{url}'>{licence}</a>" in text
    assert "passes the app on" in text and "source code" in text and "AGPL-3.0" in text


def test_links_to_the_model_page_and_the_projects_own(monkeypatch):
    assert f"<a href='{MODEL_URL}'>GLM-OCR model</a>" in about_text()
    monkeypatch.setattr(about, "project_links", lambda: [("Homepage", "https://example.org/studio")])
    assert "<a href='https://example.org/studio'>Homepage</a>" in about_text()


def test_project_links_come_from_the_package_metadata(monkeypatch):
    class Meta:
        @staticmethod
        def get_all(key):
            return ["Homepage, https://example.org/studio", "Broken entry", "Mail, mailto:x@example.org"]

    monkeypatch.setattr(about.metadata, "metadata", lambda name: Meta())
    assert project_links() == [("Homepage", "https://example.org/studio")]


def test_the_about_box_of_the_window_shows_it_with_clickable_links(make_studio):
    studio = make_studio()
    studio.actions["about"].trigger()
    box = studio.window.message_box
    assert "PyTorch" in box.text() and "AGPL-3.0" in box.text() and MODEL_URL in box.text()
    label = next(label for label in box.findChildren(QLabel) if "PyTorch" in label.text())
    assert label.openExternalLinks()
    box.close()
