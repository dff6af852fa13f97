"""End to end with the real engine on a tiny checkpoint: a page's regions decoded as one batch in the workspace give
the same tokens as each region run alone (slow-ish: loads torch)."""

import numpy as np
import pytest
from PIL import Image

from glmocr_core.loader import load_engine

WAIT_MS = 120000
BOXES = [(0, 0, 110, 60), (40, 20, 230, 100), (5, 5, 60, 95)]


def engine_available() -> bool:
    try:
        from glmocr_core.engine import Engine  # noqa: F401
        from glmocr_core.testing.checkpoints import build_tiny_checkpoint  # noqa: F401
    except ImportError:
        return False
    return True


pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not engine_available(), reason="engine not available"),
]


class CountingFactory:
    """The real engine, with its batch calls counted (they run in the worker thread)."""

    def __init__(self):
        self.batch_sizes = []

    def __call__(self, model_dir, *, progress=None, **load_options):
        engine = load_engine(model_dir, progress=progress, **load_options)
        batch = engine.recognize_batch

        def counted(image, regions, *args, **kwargs):
            self.batch_sizes.append(len(regions))
            return batch(image, regions, *args, **kwargs)

        engine.recognize_batch = counted
        return engine


def run_and_wait(qtbot, regions, run):
    run()
    qtbot.waitUntil(lambda: all(r.is_finished for r in regions), timeout=WAIT_MS)
    for region in regions:
        assert region.state == "done", region.error
    return [(list(r.result["token_ids"]), r.text) for r in regions]


def test_batched_regions_equal_single_runs_token_for_token(make_studio, qtbot, tmp_path):
    from glmocr_core.testing.checkpoints import build_tiny_checkpoint

    build_tiny_checkpoint(tmp_path / "tiny")
    noise = np.random.default_rng(11).integers(0, 256, (110, 240, 3), dtype=np.uint8)
    Image.fromarray(noise).save(tmp_path / "page.png")
    factory = CountingFactory()
    studio = make_studio(factory, model_env="tiny", **{"max_new_tokens/text": 12})
    window, regions_of = studio.window, studio.regions
    qtbot.waitUntil(lambda: studio.host.has_model or "could not" in window.first_run.title.text(), timeout=WAIT_MS)
    assert studio.host.has_model, window.first_run.text.text()
    assert studio.documents.open_path(str(tmp_path / "page.png"))
    regions = [regions_of.add_region(0, box, run=False) for box in BOXES]

    batched = run_and_wait(qtbot, regions, regions_of.run_page_regions)
    assert factory.batch_sizes == [3]
    singles = [run_and_wait(qtbot, [region], lambda r=region: regions_of.run_region(r.id))[0] for region in regions]
    assert factory.batch_sizes == [3]  # the single runs did not batch
    assert batched == singles
    assert all(tokens for tokens, _ in batched) and len({tuple(t) for t, _ in batched}) > 1
    window.close()
    assert not studio.host.is_running()
