"""Measurements of our engine, through the public engine API only (what the app and the CLI get)."""

from __future__ import annotations

import dataclasses
import time

from glmocr_core.api import OcrResult, RecognizeOptions
from glmocr_core.engine import Engine

from . import inputs

TASK = "text"


def load(checkpoint: str, precision: str) -> tuple[Engine, float]:
    start = time.perf_counter()
    engine = Engine.load(checkpoint, device="cpu", precision=precision)
    return engine, time.perf_counter() - start


def prompt_shape(checkpoint: str, image) -> tuple[int, int]:
    """(vision patches, prompt tokens) of the text task on ``image``, as the engine builds them."""
    from glmocr_core.model.config import load_preprocessor_config
    from glmocr_core.processing.preprocess import preprocess_image
    from glmocr_core.processing.tokenizer import GlmTokenizer
    from glmocr_core.tasks.specs import task_prompt

    preprocessor = load_preprocessor_config(checkpoint)
    _, grid = preprocess_image(image, preprocessor)
    patches = grid[0] * grid[1] * grid[2]
    ids = GlmTokenizer.from_dir(checkpoint).encode_prompt(task_prompt("text"),
                                                          [patches // preprocessor.merge_size**2])
    return patches, len(ids)


def options(tokens: int) -> RecognizeOptions:
    # No repetition guard: random weights loop, and the guard would stop them before the fixed token count.
    return RecognizeOptions(max_new_tokens=tokens, repeat_guard=False)


def warm_up(engine: Engine, batch: bool = False) -> None:
    """One tiny request before measuring, so one-time costs (allocator growth, kernel setup) are not timed; the
    reference gets the same."""
    image = inputs.warmup_image()
    _final(engine.recognize(image, TASK, options=options(2)))
    if batch and has_batch_api(engine):
        _results(engine.recognize_batch(image, [None, None], TASK, options(2)))


def model_signature(engine: Engine) -> list[str]:
    """Module classes and tensor dtypes of the loaded model: equal signatures for "exact" and "fast" mean that
    "fast" loaded the very same model (the mode is not implemented yet)."""
    model = engine.model
    classes = {type(m).__name__ for m in model.modules()}
    dtypes = {str(t.dtype) for t in [*model.parameters(), *model.buffers()]}
    return sorted(classes) + sorted(dtypes)


def single_region(engine: Engine, tokens: int, image=None) -> dict:
    """One 448×448 region (or ``image``), text task: time to first token (from the image), decode rate, ids."""
    result = _final(engine.recognize(image or inputs.region_image(), TASK, options=options(tokens)))
    timings = result.timings
    return {"ttft_s": timings.preprocess_s + timings.first_token_s, "decode_tok_s": timings.tokens_per_s,
            "new_tokens": timings.new_tokens, "token_ids": list(result.token_ids),
            "timings": _plain(timings)}


def kernel_choice() -> dict:
    """The CPU kernel choice this process ran with (measured or cached at the model load)."""
    from glmocr_core.runtime import kernel_choice as choice

    return choice.describe(None).as_dict()


def plane_rows_choice() -> dict | None:
    """Where this process's int8 groups leave the 4-bit kernel for a widened GEMM; None without int8 groups."""
    from glmocr_core.runtime import plane_rows

    choice = plane_rows.wait()
    return None if choice is None else choice.as_dict()


def has_batch_api(engine: Engine) -> bool:
    return callable(getattr(engine, "recognize_batch", None))


def region_batch(engine: Engine, image, regions: list, tokens: int) -> dict:
    """All regions as one batch: aggregate decode rate and wall time; one-by-one when the batch API is absent."""
    start = time.perf_counter()
    if has_batch_api(engine):
        results = _results(engine.recognize_batch(image, regions, TASK, options(tokens)))
        mode = "batch"
    else:
        results = [_final(engine.recognize(image, TASK, region=box, options=options(tokens))) for box in regions]
        mode = "one-by-one"
    wall = time.perf_counter() - start
    return {"mode": mode, "wall_s": wall, **_aggregate(results), "token_ids": [list(r.token_ids) for r in results]}


def _aggregate(results: list[OcrResult]) -> dict:
    """Aggregate decode rate of a batch: all decode steps after each row's first token over the longest decode
    time (rows decode together, so the batch's decode time is its slowest row's)."""
    steps = sum(max(r.timings.new_tokens - 1, 0) for r in results)
    decode_s = max(r.timings.decode_s for r in results)
    return {"decode_tok_s": steps / decode_s if decode_s > 0 else 0.0, "decode_s": decode_s,
            "preprocess_s": sum(r.timings.preprocess_s for r in results),
            "prefill_s": max(r.timings.first_token_s for r in results),
            "new_tokens": [r.timings.new_tokens for r in results]}


def _final(items) -> OcrResult:
    results = _results(items)
    if len(results) != 1:
        raise RuntimeError(f"expected one result from recognize, got {len(results)}")
    return results[0]


def _results(items) -> list[OcrResult]:
    """The OcrResults among streamed items, in region order: bare (one region) or wrapped with their region index
    (``RegionItem(index, item)`` from ``recognize_batch``)."""
    found = []
    for item in items:
        index, payload = getattr(item, "index", len(found)), getattr(item, "item", item)
        if isinstance(payload, OcrResult):
            found.append((index, payload))
    return [result for _, result in sorted(found, key=lambda pair: pair[0])]


def _plain(timings) -> dict:
    return dataclasses.asdict(timings) if dataclasses.is_dataclass(timings) else {}
