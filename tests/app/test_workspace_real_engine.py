"""End to end with the real engine on a tiny random checkpoint the test builds (slow-ish: loads torch)."""

import pytest
from PIL import Image

from app.main_window import MainWindow
from app.paths import MODEL_DIR_ENV
from app.settings import Settings

WAIT_MS = 120000


def engine_available() -> bool:
    try:
        from glmocr_core.engine import Engine  # noqa: F401
        from glmocr_core.testing.checkpoints import build_tiny_checkpoint  # noqa: F401
    except ImportError:  # the engine has not landed yet
        return False
    return True


pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not engine_available(), reason="engine not available yet"),
]


def test_draw_a_region_and_recognize_it_with_a_tiny_checkpoint(qtbot, tmp_path, monkeypatch):
    from glmocr_core.testing.checkpoints import build_tiny_checkpoint

    model_dir = build_tiny_checkpoint(tmp_path / "tiny")
    monkeypatch.setenv(MODEL_DIR_ENV, str(model_dir))
    settings = Settings(tmp_path / "settings.ini")
    settings.set("max_new_tokens/text", 6)
    Image.new("RGB", (120, 90), "white").save(tmp_path / "page.png")
    window = MainWindow(settings)  # the default factory: the real Engine, loaded in the worker thread
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.host.has_model or "could not" in window.first_run.title.text(), timeout=WAIT_MS)
    assert window.host.has_model, window.first_run.text.text()
    assert window.open_path(str(tmp_path / "page.png"))
    region = window.add_region(0, (0, 0, 120, 90), run=True)
    qtbot.waitUntil(lambda: region.is_finished, timeout=WAIT_MS)
    assert region.state == "done", region.error
    assert region.result["new_tokens"] >= 1 and region.result["stop_reason"] in ("eos", "max_tokens", "repetition")
    assert window.results.card(region.id).view.text() == region.text
    window.close()
    assert window.host.thread.isFinished()
