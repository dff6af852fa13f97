"""First run, end to end: no model -> the guided panel -> a folder holding a (tiny) checkpoint -> the sample page
-> a recognized region. Runs the real engine on a tiny random checkpoint built by the test (loads torch).
"""

from __future__ import annotations

import pytest

from app.dialogs.sample_page import SAMPLE_NAME
from app.main_window import MainWindow
from app.model_manager import install_model_manager
from app.paths import MODEL_DIR_ENV
from app.settings import Settings

WAIT_MS = 120_000


def _engine_import_error() -> str:
    try:
        from glmocr_core.engine import Engine  # noqa: F401
        from glmocr_core.testing.checkpoints import build_tiny_checkpoint  # noqa: F401
    except ImportError as exc:
        return f"glmocr_core.engine / glmocr_core.testing cannot be imported yet ({exc})"
    return ""


pytestmark = [pytest.mark.slow, pytest.mark.skipif(bool(_engine_import_error()), reason=_engine_import_error())]


@pytest.fixture
def fresh_install(qtbot, tmp_path, monkeypatch):
    """A window as a new user sees it: no model anywhere, the real engine factory, the manager installed."""
    monkeypatch.delenv(MODEL_DIR_ENV, raising=False)
    monkeypatch.setenv("GLMOCR_DATA_DIR", str(tmp_path))
    settings = Settings(tmp_path / "settings.ini")
    settings.set("model_dir", str(tmp_path / "user-data" / "models" / "GLM-OCR"))
    settings.set("max_new_tokens/text", 6)
    window = MainWindow(settings)
    qtbot.addWidget(window)
    manager = install_model_manager(window)
    window.show()
    yield window, manager
    window.close()
    assert window.host.thread.wait(WAIT_MS)


def test_from_no_model_to_a_recognized_region(fresh_install, qtbot, tmp_path):
    from glmocr_core.testing.checkpoints import build_tiny_checkpoint

    window, manager = fresh_install
    assert window.first_run.isVisible() and not window.host.has_model

    window.first_run.get_button.click()  # "Get the model…" opens the guided manager
    assert manager.isVisible() and manager.state() == "missing"
    assert "MIT" in manager.intro.text() and "2.2 GB" in manager.intro.text()

    copied = build_tiny_checkpoint(tmp_path / "checkpoint from a USB stick")
    manager.ask_for_folder = lambda: str(copied)
    window.first_run.folder_button.click()  # "Choose folder…" validates, then the model loads in the worker
    qtbot.waitUntil(lambda: window.host.has_model or "could not" in window.first_run.title.text(), timeout=WAIT_MS)
    assert window.host.has_model, window.first_run.text.text()
    assert window.settings.get("model_dir") == str(copied)
    assert manager.state() == "ready" and manager.ready_box.isVisible()

    manager.sample_button.click()  # the ready state offers the sample page the app draws itself
    assert window.session is not None and window.session.page_count == 1
    assert window.session.path.endswith(SAMPLE_NAME)
    heading = (100, 110, 1140, 190)  # the sample's heading line, in page pixels
    region = window.add_region(0, heading, run=True)
    qtbot.waitUntil(lambda: region.is_finished, timeout=WAIT_MS)
    assert region.state == "done", region.error
    assert region.result["new_tokens"] >= 1
    assert window.results.card(region.id).view.text() == region.text


def test_a_broken_folder_is_refused_and_the_app_stays_usable(fresh_install, qtbot, tmp_path):
    from glmocr_core.testing.checkpoints import build_tiny_checkpoint

    window, manager = fresh_install
    broken = build_tiny_checkpoint(tmp_path / "half-copied")
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    manager.ask_for_folder = lambda: str(broken)
    window.first_run.folder_button.click()
    assert "model.safetensors" in manager.message_label.text() and "truncated" in manager.message_label.text()
    assert window.settings.get("model_dir") != str(broken)
    assert not window.host.has_model and not window.host.loading
    manager.sample_button.click()  # documents still open without a model
    assert window.session is not None
