"""End to end with the real engine on a tiny random checkpoint the test builds (slow-ish: loads torch), in both
layouts a Hub checkpoint comes in: one model.safetensors, or shards with a model.safetensors.index.json."""

import pytest
from PIL import Image

from glmocr_core.loader import load_engine

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


@pytest.mark.parametrize("shards", [1, 2], ids=["single-file", "two-shards"])
def test_draw_a_region_and_recognize_it_with_a_tiny_checkpoint(make_studio, qtbot, tmp_path, shards):
    from glmocr_core.testing.checkpoints import build_tiny_checkpoint

    model_dir = build_tiny_checkpoint(tmp_path / "tiny", shards=shards)
    assert (model_dir / "model.safetensors.index.json").is_file() == (shards > 1)
    Image.new("RGB", (120, 90), "white").save(tmp_path / "page.png")
    studio = make_studio(load_engine, model_env="tiny", **{"max_new_tokens/text": 6})  # loads in the worker thread
    window = studio.window
    qtbot.waitUntil(lambda: studio.host.has_model or "could not" in window.first_run.title.text(), timeout=WAIT_MS)
    assert studio.host.has_model, window.first_run.text.text()
    assert not window.first_run.isVisible() and "tiny" in window.model_label.text()
    assert studio.documents.open_path(str(tmp_path / "page.png"))
    region = studio.regions.add_region(0, (0, 0, 120, 90), run=True)
    qtbot.waitUntil(lambda: region.is_finished, timeout=WAIT_MS)
    assert region.state == "done", region.error
    assert region.result["new_tokens"] >= 1 and region.result["stop_reason"] in ("eos", "max_tokens", "repetition")
    assert studio.results.card(region.id).view.text() == region.text
    window.close()
    assert not studio.host.is_running()
