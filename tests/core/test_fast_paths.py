"""Fast paths must not change exact results: batched regions, MTP speculative decoding; plus the fast precision."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from glmocr_core.api import OcrResult, RecognizeOptions
from glmocr_core.engine import Engine
from glmocr_core.runtime import speculative
from glmocr_core.runtime.decoding import ModelRunner
from glmocr_core.runtime.devices import CpuFeatures
from glmocr_core.runtime.generate import GenerationRequest, TokenStream
from glmocr_core.runtime.quantize import GroupQuantLinear, group_kernel_available

REGIONS = [None, (0, 0, 110, 60), (40, 20, 230, 100), (5, 5, 60, 95)]


@pytest.fixture(scope="module")
def page():
    return Image.fromarray(np.random.default_rng(11).integers(0, 256, (110, 240, 3), dtype=np.uint8))


@pytest.fixture(scope="module")
def engine(tiny_checkpoint):
    return Engine.load(tiny_checkpoint, device="cpu")


def _final(items):
    return [item for item in items if isinstance(item, OcrResult)][-1]


def test_batched_regions_equal_one_by_one(engine, page):
    options = RecognizeOptions(max_new_tokens=30)
    items = list(engine.recognize_batch(page, REGIONS, "text", options))
    finals = {i.index: i.item for i in items if isinstance(i.item, OcrResult)}
    deltas = {}
    for i in items:
        if not isinstance(i.item, OcrResult):
            deltas[i.index] = deltas.get(i.index, "") + i.item.text
    assert sorted(finals) == list(range(len(REGIONS)))
    for index, region in enumerate(REGIONS):
        single = _final(engine.recognize(page, "text", region=region, options=options))
        assert finals[index].token_ids == single.token_ids
        assert finals[index].text == single.text == deltas.get(index, "").strip()
        assert finals[index].stop_reason == single.stop_reason
        assert finals[index].image_grid_thw == single.image_grid_thw
    assert len({tuple(r.token_ids) for r in finals.values()}) > 1


def test_batch_with_a_bad_region_fails_before_any_work(engine, page):
    from glmocr_core.errors import InputError

    with pytest.raises(InputError):
        list(engine.recognize_batch(page, [None, (0, 0, 0, 10)]))


def test_batch_cancel_marks_every_region(engine, page):
    import threading

    cancel = threading.Event()
    results = []
    for item in engine.recognize_batch(page, REGIONS[:2], options=RecognizeOptions(max_new_tokens=100,
                                                                                   repeat_guard=False),
                                       cancel=cancel):
        cancel.set()
        if isinstance(item.item, OcrResult):
            results.append(item.item)
    assert [r.stop_reason for r in results] == ["cancelled", "cancelled"]


def _request(engine, image, use_mtp, max_new=40):
    from glmocr_core.processing.preprocess import preprocess_images

    inputs = preprocess_images([image], engine.preprocessor)
    ids = engine.tokenizer.encode_prompt("Text Recognition:", inputs.token_counts(2))
    return GenerationRequest(ids, torch.from_numpy(inputs.pixels), inputs.grid_thw, max_new, (59246, 59253),
                             use_mtp=use_mtp)


@pytest.fixture(scope="module")
def mtp_engine(tiny_checkpoint_mtp):
    return Engine.load(tiny_checkpoint_mtp, device="cpu", mtp=True)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mtp_greedy_equals_plain_greedy(mtp_engine, seed):
    image = Image.fromarray(np.random.default_rng(seed).integers(0, 256, (90, 200, 3), dtype=np.uint8))
    plain = TokenStream(mtp_engine.runner, _request(mtp_engine, image, use_mtp=False))
    drafted = TokenStream(mtp_engine.runner, _request(mtp_engine, image, use_mtp=True))
    assert list(drafted) == list(plain)
    assert drafted.stop_reason == plain.stop_reason
    assert drafted.draft_tokens > 0


def test_mtp_with_perfect_drafts_accepts_and_still_equals_greedy(mtp_engine, monkeypatch):
    image = Image.fromarray(np.random.default_rng(3).integers(0, 256, (90, 200, 3), dtype=np.uint8))
    plain = list(TokenStream(mtp_engine.runner, _request(mtp_engine, image, use_mtp=False, max_new=30)))
    drafted = TokenStream(mtp_engine.runner, _request(mtp_engine, image, use_mtp=True, max_new=30))
    # an oracle drafter: always proposes the token greedy decoding will produce next
    monkeypatch.setattr(speculative._Drafter, "prefill", lambda self, *a: plain[1] if len(plain) > 1 else 0)
    monkeypatch.setattr(speculative._Drafter, "extend",
                        lambda self, tokens, hidden: plain[min(len(drafted.tokens), len(plain) - 1)])
    assert list(drafted) == plain
    assert drafted.accepted_tokens >= len(plain) // 2 - 1
    assert drafted.draft_tokens < len(plain)  # fewer main-model passes than tokens


def test_mtp_acceptance_is_reported(mtp_engine):
    image = Image.fromarray(np.random.default_rng(4).integers(0, 256, (90, 200, 3), dtype=np.uint8))
    result = _final(mtp_engine.recognize(image, options=RecognizeOptions(max_new_tokens=20)))
    assert mtp_engine.info.mtp and result.timings.mtp_drafts > 0
    assert 0.0 <= result.timings.mtp_acceptance <= 1.0


def test_mtp_off_when_checkpoint_has_no_layer(tiny_checkpoint):
    assert not Engine.load(tiny_checkpoint, mtp=True).info.mtp


@pytest.mark.skipif(not group_kernel_available(), reason="this PyTorch has no 4-bit group kernel")
@pytest.mark.parametrize("flags", [{"avx2", "fma"}, {"avx2", "avx512f", "avx512_bf16"}])  # fp32 / bf16 GEMMs
def test_fast_mode_runs_int8_groups_and_mostly_keeps_the_exact_tokens(tiny_checkpoint, page, flags):
    options = RecognizeOptions(max_new_tokens=16, repeat_guard=False)
    fast = Engine.load(tiny_checkpoint, precision="fast", cpu=CpuFeatures(frozenset(flags)))
    assert fast.info.precision == "fast" and fast.info.dtype == "float32"  # the recipe narrows its own parts
    assert isinstance(fast.model.language_model.layers[0].mlp.down_proj, GroupQuantLinear)
    assert isinstance(fast.model.lm_head, GroupQuantLinear)
    exact = _final(Engine.load(tiny_checkpoint, precision="exact").recognize(page, options=options)).token_ids
    got = _final(fast.recognize(page, options=options)).token_ids
    assert len(got) == len(exact) == 16
    # greedy decoding of a tiny random model amplifies any rounding once two logits are close: the recipes keep
    # the first half of the tokens (measured: the first difference at token 11 with fp32 GEMMs, 8 with bf16 ones)
    assert got[:8] == exact[:8] and sum(a == b for a, b in zip(got, exact)) >= 11


def test_a4_page_vision_runs_without_dense_score_matrices(tmp_path, tiny_checkpoint):
    """An A4 page at 200 dpi (2339x1654 -> 19,824 patches). A dense fp32 score matrix for the tiny model's 4 heads
    would take 6.3 GB; the whole run must stay far below that."""
    import subprocess
    import sys

    script = f"""
import resource, torch
from PIL import Image
from glmocr_core.model.config import load_preprocessor_config
from glmocr_core.processing.preprocess import preprocess_images
from glmocr_core.checkpoint.loading import load_model
model = load_model({str(tiny_checkpoint)!r})
inputs = preprocess_images([Image.new("RGB", (1654, 2339), "white")], load_preprocessor_config({str(tiny_checkpoint)!r}))
with torch.inference_mode():
    out = model.visual(torch.from_numpy(inputs.pixels), inputs.grid_thw)
print(inputs.pixels.shape[0], out.shape[0], resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    patches, tokens, peak_kib = map(int, done.stdout.split())
    assert patches == 19824 and tokens == patches // 4
    assert peak_kib < 2.5 * 2**20, f"peak RSS {peak_kib / 2**20:.1f} GiB"


def test_batch_results_arrive_as_each_region_ends(engine, page):
    order = []
    for entry in engine.recognize_batch(page, REGIONS, "text", RecognizeOptions(max_new_tokens=30)):
        order.append((entry.index, isinstance(entry.item, OcrResult)))
    finals = [index for index, is_final in order if is_final]
    assert sorted(finals) == list(range(len(REGIONS)))
    lengths = {}
    for index, region in enumerate(REGIONS):
        lengths[index] = len(_final(engine.recognize(page, "text", region=region,
                                                     options=RecognizeOptions(max_new_tokens=30))).token_ids)
    # a region that ends earlier delivers its result before the longer ones'
    first_done = order.index((finals[0], True))
    assert lengths[finals[0]] == min(lengths.values())
    assert any(not is_final for _, is_final in order[first_done + 1:]) or len(set(lengths.values())) == 1


def test_stopping_one_region_leaves_the_others_running(engine, page):
    options = RecognizeOptions(max_new_tokens=25, repeat_guard=False)
    results = {}
    for entry in engine.recognize_batch(page, REGIONS[:3], "text", options, stop_region=lambda index: index == 1):
        if isinstance(entry.item, OcrResult):
            results[entry.index] = entry.item
    assert results[1].stop_reason == "cancelled" and len(results[1].token_ids) == 1
    for index in (0, 2):
        single = _final(engine.recognize(page, "text", region=REGIONS[index], options=options))
        assert results[index].token_ids == single.token_ids


def _prompt_logits(model):
    ids = [59248, 59250, 59253, 198, 40, 41, 42, 59254, 198, 43]
    with torch.inference_mode():
        return ModelRunner(model).prefill(ids, None, [], capacity=16, all_logits=True)[0]


def _refuse_quantizing(monkeypatch):
    from glmocr_core.runtime import quantize

    def refuse(*args, **kwargs):
        raise AssertionError("quantized again although the cache fits")

    monkeypatch.setattr(quantize, "quantize_decoder", refuse)


def test_fast_weights_cache_round_trip_is_exact(tiny_checkpoint, tmp_path, monkeypatch):
    from glmocr_core.checkpoint.loading import load_model
    from glmocr_core.runtime.quantize import prepare_fast, quantize_targets

    cache = tmp_path / "fast.safetensors"
    first = load_model(tiny_checkpoint)
    targets = quantize_targets(first)
    count = prepare_fast(first, cache)
    assert cache.exists() and count == len(targets)
    _refuse_quantizing(monkeypatch)
    second = load_model(tiny_checkpoint)
    assert prepare_fast(second, cache) == count
    assert isinstance(second.lm_head, GroupQuantLinear)
    assert torch.equal(_prompt_logits(second), _prompt_logits(first))


def test_unusable_fast_cache_is_replaced(tiny_checkpoint, tmp_path, caplog):
    from safetensors.torch import load_file, save_file

    from glmocr_core.checkpoint.loading import load_model
    from glmocr_core.checkpoint.weight_cache import seal

    cache = tmp_path / "fast.safetensors"
    expected = _prompt_logits(_fast(load_model(tiny_checkpoint), None))
    good = _fast(load_model(tiny_checkpoint), cache)
    stored = load_file(str(cache))
    del stored["lm_head.planes"]
    save_file(stored, str(cache))
    seal(cache)  # sealed as it is: a cache of another recipe, not one damaged on disk
    with caplog.at_level("WARNING", logger="glmocr_core.runtime.quantize"):
        assert torch.equal(_prompt_logits(_fast(load_model(tiny_checkpoint), cache)), expected)
        cache.write_bytes(b"not a safetensors file")
        seal(cache)
        assert torch.equal(_prompt_logits(_fast(load_model(tiny_checkpoint), cache)), expected)
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2 and "does not fit" in messages[0] and "unreadable" in messages[1]
    assert "lm_head.planes" in load_file(str(cache))  # rewritten whole
    assert torch.equal(_prompt_logits(good), expected)


def _fast(model, cache):
    from glmocr_core.runtime.quantize import prepare_fast

    prepare_fast(model, cache)
    return model


def test_engine_fast_load_reuses_its_cache(tiny_checkpoint, tmp_path, monkeypatch, page):
    import glmocr_core.engine as engine_module

    monkeypatch.setattr(engine_module, "weight_cache_dir", lambda: tmp_path / "cache")
    options = RecognizeOptions(max_new_tokens=12, repeat_guard=False)
    first_engine = Engine.load(tiny_checkpoint, precision="fast")
    first = _final(first_engine.recognize(page, options=options))
    assert first_engine.info.dtype == "float32"
    assert len(list((tmp_path / "cache").glob("*.safetensors"))) == 2  # the fp32 map and the fast weights
    _refuse_quantizing(monkeypatch)
    second = _final(Engine.load(tiny_checkpoint, precision="fast").recognize(page, options=options))
    assert second.token_ids == first.token_ids


def test_a_fast_cache_changed_on_disk_is_quantized_again(tiny_checkpoint, tmp_path, caplog):
    import os

    from glmocr_core.checkpoint.loading import load_model

    cache = tmp_path / "fast.safetensors"
    expected = _prompt_logits(_fast(load_model(tiny_checkpoint), cache))
    stat = cache.stat()
    with open(cache, "r+b") as handle:
        handle.seek(stat.st_size - 2048)
        handle.write(b"\x55" * 512)
    os.utime(cache, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    with caplog.at_level("WARNING", logger="glmocr_core.runtime.quantize"):
        assert torch.equal(_prompt_logits(_fast(load_model(tiny_checkpoint), cache)), expected)
    assert "changed after it was written" in caplog.text
