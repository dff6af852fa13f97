"""``Engine.recognize_many``: several images, regions, tasks, prompts and budgets in one batch, and text-only prompts,
each equal to its one-by-one run (greedy)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from glmocr_core.api import OcrResult, RecognizeOptions, TextDelta
from glmocr_core.engine import BatchItem, Engine, sampling_key
from glmocr_core.errors import InputError, UsageError


@pytest.fixture(scope="module")
def engine(tiny_checkpoint):
    return Engine.load(tiny_checkpoint, device="cpu")


def _image(seed: int, size=(120, 80)) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def _solo(engine, item: BatchItem) -> OcrResult:
    [result] = [r.item for r in engine.recognize_many([item]) if isinstance(r.item, OcrResult)]
    return result


def _batch(engine, items) -> tuple[dict[int, OcrResult], dict[int, str]]:
    results, texts = {}, {}
    for entry in engine.recognize_many(items):
        if isinstance(entry.item, TextDelta):
            texts[entry.index] = texts.get(entry.index, "") + entry.item.text
        else:
            results[entry.index] = entry.item
    return results, texts


def test_mixed_items_in_one_batch_equal_their_single_runs(engine):
    items = [BatchItem(_image(1), "text", options=RecognizeOptions(max_new_tokens=12)),
             BatchItem(_image(2, (200, 60)), "formula", region=(10, 5, 150, 55),
                       options=RecognizeOptions(max_new_tokens=5)),
             BatchItem(None, "text", prompt="hello", options=RecognizeOptions(max_new_tokens=9)),
             BatchItem(_image(3), "table", options=RecognizeOptions(max_new_tokens=20, repeat_guard=False)),
             BatchItem(_image(4), "text", prompt="Text Recognition:", text_first=True,
                       options=RecognizeOptions(max_new_tokens=7))]
    results, texts = _batch(engine, items)
    assert sorted(results) == list(range(len(items)))
    for index, item in enumerate(items):
        solo, batched = _solo(engine, item), results[index]
        assert batched.token_ids == solo.token_ids and batched.text == solo.text
        assert batched.stop_reason == solo.stop_reason and batched.prompt_tokens == solo.prompt_tokens
        assert texts.get(index, "").strip() == batched.text
        assert len(batched.token_ids) <= item.options.max_new_tokens


def test_each_item_keeps_its_own_budget(engine):
    items = [BatchItem(_image(7), options=RecognizeOptions(max_new_tokens=n, repeat_guard=False)) for n in (3, 11)]
    results, _ = _batch(engine, items)
    for index, budget in enumerate((3, 11)):
        assert len(results[index].token_ids) <= budget
        if results[index].stop_reason == "max_tokens":
            assert len(results[index].token_ids) == budget


def test_a_text_only_prompt_has_no_image_tokens(engine):
    result = _solo(engine, BatchItem(None, prompt="hello", options=RecognizeOptions(max_new_tokens=10)))
    ids = engine.tokenizer.encode_prompt("hello", [])
    assert engine.tokenizer.image_token_id not in ids
    assert result.prompt_tokens == len(ids) and result.image_grid_thw == []
    assert 0 < len(result.token_ids) <= 10


def test_items_with_different_sampling_are_refused(engine):
    greedy, sampled = RecognizeOptions(), RecognizeOptions(do_sample=True, temperature=0.5, seed=1)
    assert sampling_key(greedy) != sampling_key(sampled)
    assert sampling_key(greedy) == sampling_key(RecognizeOptions(max_new_tokens=5, repeat_guard=False))
    with pytest.raises(UsageError):
        list(engine.recognize_many([BatchItem(_image(1), options=greedy), BatchItem(_image(2), options=sampled)]))


def test_a_bad_item_fails_before_any_output(engine):
    items = [BatchItem(_image(1)), BatchItem(_image(2), region=(500, 500, 600, 600))]
    stream = engine.recognize_many(items)
    with pytest.raises(InputError):
        next(stream)


def test_stop_item_ends_only_that_item(engine):
    items = [BatchItem(_image(i), options=RecognizeOptions(max_new_tokens=30, repeat_guard=False)) for i in (1, 2)]
    stopped = {0}
    results = {e.index: e.item for e in engine.recognize_many(items, stop_item=lambda i: i in stopped)
               if isinstance(e.item, OcrResult)}
    assert results[0].stop_reason == "cancelled" and len(results[0].token_ids) == 1
    assert results[1].token_ids == _solo(engine, items[1]).token_ids
