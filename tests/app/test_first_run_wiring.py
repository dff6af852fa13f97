"""The model manager and the settings dialog in the composed app, driven with the fake engine (no torch)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication

from app.window.about import apply_theme
from fake_engine import FakeFactory
from helpers import WAIT_MS, header_checkpoint


class RecordingFactory(FakeFactory):
    """The fake engine factory, remembering the load options of every load."""

    def __init__(self):
        super().__init__()
        self.loads: list[tuple[str, dict]] = []

    def __call__(self, model_dir, *, progress=None, **load_options):
        self.loads.append((str(model_dir), load_options))
        return super().__call__(model_dir, progress=progress)


@pytest.fixture
def without_model(make_studio, tmp_path):
    """``start(**build_options)``: a window whose model folder (set in its settings) is still empty."""
    factory = RecordingFactory()

    def start(**build_options):
        studio = make_studio(factory, build_options=build_options, model_env=None,
                             model_dir=str(tmp_path / "models" / "GLM-OCR"))
        return studio, factory

    return start


@pytest.fixture
def system_theme_afterwards():
    yield
    apply_theme("system")
    QApplication.setPalette(QApplication.style().standardPalette())


def test_download_from_the_first_run_panel_loads_the_model(without_model, qtbot):
    def downloader(repo_id, revision, endpoint, target_dir, progress, cancel, status):
        header_checkpoint(Path(target_dir))
        progress(10, 10, 1.0, 0.0)
        return Path(target_dir)

    studio, factory = without_model(downloader=downloader)
    target = studio.settings.model_dir()
    studio.window.first_run.get_button.click()
    assert studio.model.manager.isVisible()
    studio.model.manager.download_button.click()
    qtbot.waitUntil(lambda: studio.host.has_model, timeout=WAIT_MS)
    assert factory.loads[-1][0] == target
    assert not studio.window.first_run.isVisible()


def test_exact_precision_is_asked_of_the_engine_on_every_device(without_model, qtbot):
    studio, factory = without_model()
    ready = header_checkpoint(Path(studio.settings.model_dir()))
    studio.settings.set("device", "cuda:0")
    studio.settings.set("precision", "exact")
    studio.model.load_model(str(ready))
    qtbot.waitUntil(lambda: studio.host.has_model, timeout=WAIT_MS)
    assert factory.loads[-1][1] == {"device": "cuda:0", "precision": "exact"}


def test_settings_action_applies_theme_and_reloads_on_a_device_change(without_model, qtbot, system_theme_afterwards):
    studio, factory = without_model(list_devices=lambda: [])
    ready = header_checkpoint(Path(studio.settings.model_dir()))
    assert studio.model.manager.set_folder(str(ready))
    qtbot.waitUntil(lambda: studio.host.has_model, timeout=WAIT_MS)
    loads_before = len(factory.loads)

    edit_menu = next(a.menu() for a in studio.window.menuBar().actions() if a.text() == "&Edit")
    settings_entry = next(a for a in edit_menu.actions() if a.text() == "Pre&ferences…")
    settings_entry.trigger()
    dialog = studio.model.settings_dialog
    assert dialog.isVisible()
    dialog.theme_combo.setCurrentIndex(dialog.theme_combo.findData("dark"))
    dialog.device_combo.setCurrentIndex(dialog.device_combo.findData("cpu"))
    dialog.accept()
    assert QApplication.palette().color(QPalette.ColorRole.Window).name() == "#2b2b2b"  # Fusion's dark palette
    qtbot.waitUntil(lambda: len(factory.loads) > loads_before and studio.host.has_model, timeout=WAIT_MS)
    assert factory.loads[-1][1] == {"device": "cpu"}
