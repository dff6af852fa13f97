"""The fixed-shape decode step (what CUDA graphs capture) must decode exactly like the dynamic step."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from PIL import Image

from glmocr_core.api import OcrResult, RecognizeOptions
from glmocr_core.engine import BatchItem, Engine
from glmocr_core.runtime import graphs

REGIONS = [None, (0, 0, 110, 60), (40, 20, 230, 100)]


@pytest.fixture(scope="module")
def page():
    return Image.fromarray(np.random.default_rng(5).integers(0, 256, (110, 240, 3), dtype=np.uint8))


@pytest.fixture()
def engine(tiny_checkpoint):
    return Engine.load(tiny_checkpoint, device="cpu")


def _prefilled(engine, page, regions):
    prepared = [engine._prepare_item(BatchItem(page, "text", region)) for region in regions]
    prompts = [p.prompt for p in prepared]
    pixels = torch.from_numpy(np.concatenate([p.pixels for p in prepared]))
    return engine.runner.prefill_batch(prompts, pixels, capacity=max(len(p.ids) for p in prompts) + 16)


def _decode_logits(engine, page, regions, mode: str, steps: int = 10) -> list[torch.Tensor]:
    runner = engine.runner
    runner.decode_step = mode
    with torch.inference_mode():
        logits, state = _prefilled(engine, page, regions)
        tokens = logits.argmax(-1)[:, None]
        seen = []
        for _ in range(steps):
            step_logits = runner.decode(tokens, state)
            seen.append(step_logits.clone())
            tokens = step_logits[:, -1].argmax(-1)[:, None]
    return seen


@pytest.mark.parametrize("regions", [[None], REGIONS], ids=["one-prompt", "padded-batch"])
@pytest.mark.parametrize("growing", [False, True], ids=["one-window", "window-every-3-slots"])
def test_static_step_gives_the_dynamic_logits(engine, page, regions, growing, monkeypatch):
    if growing:
        monkeypatch.setattr(graphs, "attention_window", lambda needed, capacity: min(capacity, -(-needed // 3) * 3))
    dynamic = _decode_logits(engine, page, regions, "dynamic")
    static = _decode_logits(engine, page, regions, "static")
    for a, b in zip(dynamic, static):
        torch.testing.assert_close(b, a, atol=1e-5, rtol=1e-5)
        assert torch.equal(a.argmax(-1), b.argmax(-1))


def _results(items) -> dict[int, OcrResult]:
    return {i.index: i.item for i in items if isinstance(i.item, OcrResult)}


def test_static_batch_with_rows_leaving_equals_dynamic(engine, page):
    """Rows stop at different times (a per-row stop): the batch is re-selected and the static step rebuilt."""
    options = RecognizeOptions(max_new_tokens=14, repeat_guard=False)
    stop_after = {1: 4}

    def run(mode):
        engine.runner.decode_step = mode
        calls = {}

        def stop_region(index):  # asked once per token of a running row
            calls[index] = calls.get(index, 0) + 1
            return calls[index] >= stop_after.get(index, 10**6)

        return _results(engine.recognize_batch(page, REGIONS, "text", options, stop_region=stop_region))

    dynamic, static = run("dynamic"), run("static")
    assert sorted(static) == [0, 1, 2]
    for index in dynamic:
        assert static[index].token_ids == dynamic[index].token_ids
        assert static[index].stop_reason == dynamic[index].stop_reason
    assert len(static[1].token_ids) < len(static[0].token_ids)


def test_select_drops_the_bound_step(engine, page):
    engine.runner.decode_step = "static"
    with torch.inference_mode():
        logits, state = _prefilled(engine, page, REGIONS)
        engine.runner.decode(logits.argmax(-1)[:, None], state)
        first = state.step
        assert first is not None and first.matches(state)
        state.select(torch.tensor([0, 2]))
        assert state.step is None
        engine.runner.decode(torch.zeros(2, 1, dtype=torch.long), state)
        assert state.step is not first and state.step.matches(state)


def test_failed_capture_falls_back_and_is_not_retried(engine, page, caplog):
    """Without CUDA the capture itself fails: decoding must go on, identically, with one warning."""
    reference = _decode_logits(engine, page, [None], "dynamic", steps=4)
    with caplog.at_level(logging.WARNING, logger="glmocr_core.runtime.graphs"):
        captured = _decode_logits(engine, page, [None], "cuda-graph", steps=4)
    assert engine.runner.decode_step == "static"
    assert sum("capture" in r.message for r in caplog.records) == 1
    for a, b in zip(reference, captured):
        torch.testing.assert_close(b, a, atol=1e-5, rtol=1e-5)


class _ReplayingGraph:
    """Stands in for a captured graph on CPUs: replay() reruns the step on its static buffers, which is what a
    CUDA graph does, so only values that flow through those buffers may change between steps."""

    def __init__(self, step):
        self.step, self.replays = step, 0

    def replay(self):
        self.replays += 1
        self.step()


def test_replay_path_reads_static_buffers_and_returns_copies(engine, page, monkeypatch):
    fakes = []

    def fake_capture(self, step, state):
        step.slot.fill_(state.cache.length)
        step()  # a real capture runs the step once too
        fakes.append(_ReplayingGraph(step))
        return fakes[-1]

    monkeypatch.setattr(graphs.GraphDecoder, "_capture", fake_capture)
    reference = _decode_logits(engine, page, REGIONS, "dynamic", steps=6)
    replayed = _decode_logits(engine, page, REGIONS, "cuda-graph", steps=6)
    assert engine.runner.decode_step == "cuda-graph" and fakes[-1].replays == 6
    for a, b in zip(reference, replayed):
        torch.testing.assert_close(b, a, atol=1e-5, rtol=1e-5)
    assert replayed[0].data_ptr() != fakes[-1].step.logits.data_ptr()


def test_windows_double_from_the_minimum_up_to_the_capacity():
    assert graphs.attention_window(1, 5000) == graphs.MIN_WINDOW
    assert graphs.attention_window(graphs.MIN_WINDOW + 1, 5000) == 2 * graphs.MIN_WINDOW
    assert graphs.attention_window(3000, 5000) == 4096
    assert graphs.attention_window(4097, 5000) == 5000
    assert graphs.attention_window(10, 40) == 40


def test_each_window_gets_its_own_replayed_graph(engine, page, monkeypatch):
    fakes = []

    def fake_capture(self, step, state):
        fakes.append(_ReplayingGraph(step))
        return fakes[-1]

    monkeypatch.setattr(graphs.GraphDecoder, "_capture", fake_capture)
    # windows every 4 slots, so 12 steps cross several whatever the prompt length
    monkeypatch.setattr(graphs, "attention_window", lambda needed, capacity: min(capacity, -(-needed // 4) * 4))
    reference = _decode_logits(engine, page, [None], "dynamic", steps=12)
    replayed = _decode_logits(engine, page, [None], "cuda-graph", steps=12)
    windows = sorted(f.step.slots.numel() for f in fakes)
    assert len(windows) >= 3 and len(set(windows)) == len(windows)  # a window is captured once
    assert sum(f.replays for f in fakes) == 12
    for a, b in zip(reference, replayed):
        torch.testing.assert_close(b, a, atol=1e-5, rtol=1e-5)


def test_mode_per_device():
    assert graphs.decode_step_mode("cpu") == "dynamic"
    assert graphs.decode_step_mode("mps") == "dynamic"
    assert graphs.decode_step_mode("cuda", cuda_graphs=False) == "dynamic"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_graph_decode_equals_eager_on_cuda(tiny_checkpoint, page):
    engine = Engine.load(tiny_checkpoint, device="cuda", precision="exact")
    assert engine.info.decode_step == "cuda-graph"
    options = RecognizeOptions(max_new_tokens=24, repeat_guard=False)
    graphed = _results(engine.recognize_batch(page, REGIONS, "text", options))
    assert engine.runner.decode_step == "cuda-graph"  # capture worked
    engine.runner.decode_step = "dynamic"
    eager = _results(engine.recognize_batch(page, REGIONS, "text", options))
    assert [graphed[i].token_ids for i in range(3)] == [eager[i].token_ids for i in range(3)]
