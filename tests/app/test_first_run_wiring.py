"""The model manager and settings dialog plugged into the main window, driven with the fake engine (no torch)."""

from __future__ import annotations

from pathlib import Path

import pytest

import app.about
from app.main_window import MainWindow
from app.model_manager import install_model_manager
from app.paths import MODEL_DIR_ENV
from app.settings import Settings
from app.model_manager.install import open_settings
from fake_engine import FakeFactory
from test_model_manager import header_checkpoint

WAIT_MS = 10_000


class RecordingFactory(FakeFactory):
    """The fake engine factory, remembering the load options of every load."""

    def __init__(self):
        super().__init__()
        self.loads: list[tuple[str, dict]] = []

    def __call__(self, model_dir, *, progress=None, **load_options):
        self.loads.append((str(model_dir), load_options))
        return super().__call__(model_dir, progress=progress)


@pytest.fixture
def window_without_model(qtbot, tmp_path, monkeypatch):
    monkeypatch.delenv(MODEL_DIR_ENV, raising=False)
    settings = Settings(tmp_path / "settings.ini")
    settings.set("model_dir", str(tmp_path / "models" / "GLM-OCR"))
    factory = RecordingFactory()
    window = MainWindow(settings, engine_factory=factory)
    qtbot.addWidget(window)
    window.show()
    yield window, factory
    window.close()
    assert window.host.thread.wait(WAIT_MS)


def test_download_from_the_first_run_panel_loads_the_model(window_without_model, qtbot):
    window, factory = window_without_model
    target = window.settings.model_dir()

    def downloader(repo_id, revision, endpoint, target_dir, progress, cancel, status):
        header_checkpoint(Path(target_dir))
        progress(10, 10, 1.0, 0.0)
        return Path(target_dir)

    manager = install_model_manager(window, downloader=downloader)
    window.first_run.get_button.click()
    assert manager.isVisible()
    manager.download_button.click()
    qtbot.waitUntil(lambda: window.host.has_model, timeout=WAIT_MS)
    assert factory.loads[-1][0] == target
    assert not window.first_run.isVisible()


def test_exact_precision_loads_in_fp32_on_every_device(window_without_model):
    window, _ = window_without_model
    install_model_manager(window)
    window.settings.set("device", "cuda:0")
    window.settings.set("precision", "exact")
    assert window._load_options() == {"device": "cuda:0", "precision": "exact"}


def test_settings_action_applies_theme_and_reloads_on_a_device_change(window_without_model, qtbot, tmp_path,
                                                                     monkeypatch):
    window, factory = window_without_model
    themes = []
    monkeypatch.setattr(app.about, "apply_theme", themes.append)
    ready = header_checkpoint(Path(window.settings.model_dir()))
    manager = install_model_manager(window)
    assert manager.set_folder(str(ready))
    qtbot.waitUntil(lambda: window.host.has_model, timeout=WAIT_MS)
    loads_before = len(factory.loads)

    assert "settings" in window.actions_by_key
    assert window.actions_by_key["settings"] in window.file_menu.actions()
    dialog = open_settings(window, manager, list_devices=lambda: [])
    assert dialog.isVisible()
    dialog.theme_combo.setCurrentIndex(dialog.theme_combo.findData("dark"))
    dialog.device_combo.setCurrentIndex(dialog.device_combo.findData("cpu"))
    dialog.accept()
    assert themes == ["dark"]
    qtbot.waitUntil(lambda: len(factory.loads) > loads_before and window.host.has_model, timeout=WAIT_MS)
    assert factory.loads[-1][1] == {"device": "cpu"}
