"""The in-process engine: the one door into the core's model for the GUI, the CLI and scripts. No Qt in here.

It satisfies ``api.OcrEngine``: ``Engine.load`` reads a model folder once; ``recognize`` streams ``TextDelta`` pieces
and ends with one ``OcrResult``; ``recognize_batch`` decodes several regions of one image together and streams
``RegionItem``s; ``recognize_many`` decodes several ``BatchItem``s (different images, regions, tasks, prompts, token
budgets, or no image at all) as one batch, which is how ``glmocr_core.server`` batches concurrent requests.
An engine is meant to be driven from one worker thread at a time.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch
from PIL import Image

from .api import (STOP_CANCELLED, STOP_MAX_TOKENS, STOP_REPETITION, EngineInfo, OcrResult, Progress, RecognizeOptions,
                  Region, RegionItem, SamplingOptions, TextDelta, Timings)
from .checkpoint.check import require_model_dir
from .checkpoint.loading import has_mtp_weights, load_model, tensor_locations
from .documents.pages import crop_region
from .errors import UsageError
from .model.attention import resolve_backend
from .model.config import (GenerationConfig, PreprocessorConfig, load_generation_config, load_model_config,
                           load_preprocessor_config)
from .model.glm_ocr import count_parameters
from .paths import weight_cache_dir
from .processing.images import to_rgb
from .processing.preprocess import preprocess_image
from .processing.tokenizer import GlmTokenizer
from .runtime.decoding import ModelRunner, Prompt
from .runtime.devices import PRECISIONS, CpuFeatures, resolve_device, resolve_dtype, resolve_precision
from .runtime.generate import BatchTokenStream, GenerationRequest, TokenStream
from .runtime.graphs import decode_step_mode
from .runtime.quantize import fast_cache_path, prepare_fast
from .runtime.repetition import RepetitionGuard
from .tasks.parsing import parse_output
from .tasks.specs import MAX_NEW_TOKENS, default_max_new_tokens, repetition_config, task_prompt, task_spec


@dataclass
class BatchItem:
    """One prompt for ``Engine.recognize_many``."""

    image: Image.Image | None  # None: a text-only prompt (no image tokens at all)
    task: str = "text"  # chooses the repetition guard and how the output is parsed
    region: Region | None = None
    options: RecognizeOptions = field(default_factory=RecognizeOptions)
    prompt: str | None = None  # the user text exactly as a client sent it; None: the task's prompt
    text_first: bool = False  # the client's message put its text before the image


def sampling_key(options: SamplingOptions) -> tuple:
    """Items decode in one batch only when these agree: the batch shares one logits pipeline and one generator."""
    return (options.do_sample, options.temperature, options.top_p, options.top_k, options.repetition_penalty,
            options.seed)


@dataclass
class _Prepared:
    """One prompt ready for the model."""

    prompt: Prompt
    pixels: np.ndarray | None  # None for a text-only prompt
    preprocess_s: float


class _TextTracker:
    """Per-request text state: incremental decoding and the repetition guard."""

    def __init__(self, tokenizer: GlmTokenizer, task: str, options: RecognizeOptions, eos: set[int]):
        self.decoder = tokenizer.incremental_decoder()
        self.guard = RepetitionGuard(repetition_config(task), tokenizer.cut_boundaries()) \
            if options.repeat_guard else None
        self.eos = eos
        self.tokens = 0

    def push(self, token: int) -> tuple[str, bool]:
        """(new text, loop detected)"""
        self.tokens += 1
        looping = self.guard is not None and token not in self.eos and self.guard.push(token)
        return self.decoder.push(token), looping

    def kept(self, tokens: list[int]) -> list[int]:
        return tokens[: self.guard.trim_point()] if self.guard is not None and self.guard.detected else tokens


class Engine:
    def __init__(self, runner: ModelRunner, tokenizer: GlmTokenizer, preprocessor: PreprocessorConfig,
                 generation: GenerationConfig, info: EngineInfo):
        self.runner, self.tokenizer = runner, tokenizer
        self.preprocessor, self.generation = preprocessor, generation
        self.info = info
        self.load_s = 0.0

    @classmethod
    def load(cls, model_dir: str | Path, *, device: str = "auto", dtype: str = "auto", precision: str = "auto",
             attention: str = "auto", mtp: bool = False, weight_cache: bool = True, cuda_graphs: bool = True,
             progress: Progress | None = None, cpu: CpuFeatures | None = None) -> "Engine":
        """``mtp`` turns on speculative decoding with the checkpoint's MTP layer (greedy output is unchanged);
        ``weight_cache`` keeps CPU weights converted to the compute dtype on disk for fast later starts;
        ``cuda_graphs`` replays one-token decode steps from a captured CUDA graph (CUDA only; falls back to plain
        decoding by itself if capture fails); ``cpu`` stands in for this machine's CPU features (tests)."""
        report = progress or (lambda stage, fraction: None)
        start = time.perf_counter()
        if precision not in PRECISIONS:
            raise UsageError(f"unknown precision {precision!r}; choose one of: {', '.join(PRECISIONS)}")
        report("Checking the model folder", 0.02)
        folder = require_model_dir(model_dir)
        device = resolve_device(device)
        precision = resolve_precision(precision, device, cpu)  # "auto" on a CPU: "fast" where it meets the bar
        torch_dtype = resolve_dtype(dtype, device, precision, cpu)
        report("Loading weights", 0.1)
        cfg_mtp = mtp and has_mtp_weights(tensor_locations(folder), load_model_config(folder))
        cache = weight_cache_dir() if weight_cache else None
        model = load_model(folder, dtype=torch_dtype, device=device, with_mtp=cfg_mtp, cache_dir=cache)
        attention = _backend(attention, device)
        model.set_attention_backend(attention)
        runner = ModelRunner(model, decode_step_mode(device, cuda_graphs))
        parameters = count_parameters(model)
        if precision == "fast" and device == "cpu":
            report("Quantizing the decoder", 0.8)
            # the fp32 cache is only mapped: decoder pages that int8 replaces are never read once this cache exists
            prepare_fast(model, fast_cache_path(cache, folder, torch_dtype) if cache is not None else None, cpu)
            runner.start_cpu_timings()  # now with the int8 groups' crossover
        report("Loading the tokenizer", 0.9)
        tokenizer = GlmTokenizer.from_dir(folder)
        info = EngineInfo(model_dir=str(folder), device=device, dtype=str(torch_dtype).replace("torch.", ""),
                          backend=attention, threads=torch.get_num_threads(), precision=precision,
                          parameters=parameters, mtp=cfg_mtp, decode_step=runner.decode_step)
        engine = cls(runner, tokenizer, load_preprocessor_config(folder), load_generation_config(folder), info)
        engine.load_s = time.perf_counter() - start
        report("Ready", 1.0)
        return engine

    @property
    def model(self):
        """The loaded GlmOcrModel (weights only; ``runner`` runs it)."""
        return self.runner.model

    def close(self) -> None:
        self.runner = None  # drop the weights; the engine cannot be used afterwards

    # ------------------------------------------------------------------------------------------------ recognize

    def recognize(self, image: Image.Image, task: str = "text", region=None, options: RecognizeOptions | None = None,
                  cancel: threading.Event | None = None) -> Iterator[TextDelta | OcrResult]:
        options = options or RecognizeOptions()
        prepared = self._prepare_item(BatchItem(image, task, region, options))
        yield from self._stream_one(prepared, task, options, cancel)

    def _stream_one(self, prepared: _Prepared, task: str, options: RecognizeOptions,
                    cancel: threading.Event | None, stop: Callable[[], bool] | None = None
                    ) -> Iterator[TextDelta | OcrResult]:
        """One prompt through ``TokenStream`` (the path that can use MTP speculative decoding)."""
        request = GenerationRequest(prepared.prompt.ids, _tensor(prepared.pixels), prepared.prompt.grids,
                                    self._max_new_tokens(task, options), self._eos_ids(), options,
                                    use_mtp=self.info.mtp)
        stream = TokenStream(self.runner, request, cancel)
        tracker = _TextTracker(self.tokenizer, task, options, set(self._eos_ids()))
        for token in stream:
            text, looping = tracker.push(token)
            if text:
                yield TextDelta(text, tracker.tokens)
            if looping:
                stream.stop(STOP_REPETITION)
                break
            if stop is not None and stop():
                stream.stop(STOP_CANCELLED)
                break
        else:
            tail = tracker.decoder.flush()
            if tail:
                yield TextDelta(tail, tracker.tokens)
        timings = Timings(self.load_s, prepared.preprocess_s, stream.first_token_s, stream.decode_s,
                          mtp_drafts=stream.draft_tokens, mtp_accepted=stream.accepted_tokens)
        yield self._result(task, tracker.kept(stream.tokens), stream.stop_reason, prepared, timings)

    def recognize_batch(self, image: Image.Image, regions: list, task: str = "text",
                        options: RecognizeOptions | None = None, cancel: threading.Event | None = None,
                        stop_region: Callable[[int], bool] | None = None) -> Iterator[RegionItem]:
        """Recognize several regions of ``image`` (None = the whole image) as one batch. Yields RegionItems with
        text deltas and, per region as soon as that region ends, one final OcrResult. Greedy results equal
        one-by-one ``recognize`` runs. ``cancel`` stops every region; ``stop_region(index)`` returning True stops
        just that one (it leaves the batch; the others go on)."""
        options = options or RecognizeOptions()
        image = to_rgb(image)  # once for all regions
        items = [BatchItem(image, task, region, options) for region in regions]
        yield from self._stream_rows(items, [self._prepare_item(item) for item in items], cancel, stop_region)

    def recognize_many(self, items: list[BatchItem], cancel: threading.Event | None = None,
                       stop_item: Callable[[int], bool] | None = None) -> Iterator[RegionItem]:
        """Decode ``items`` together: RegionItems (``index`` = the item's position) with deltas and, as soon as an
        item ends, its one OcrResult. Images, regions, tasks, prompts, token budgets and the repetition guard may
        differ per item; the sampling settings (``sampling_key``) must agree. Greedy results equal one-by-one runs.
        Every item is checked before any model work, so a bad one fails fast. ``stop_item(index)`` returning True
        ends just that item."""
        if not items:
            return
        if len({sampling_key(item.options) for item in items}) > 1:
            raise UsageError("recognize_many decodes items with one sampling setting; group them by sampling_key")
        prepared = [self._prepare_item(item) for item in items]
        if len(items) == 1:  # the single-prompt path, which MTP speculative decoding can speed up
            stop = (lambda: stop_item(0)) if stop_item is not None else None
            for piece in self._stream_one(prepared[0], items[0].task, items[0].options, cancel, stop):
                yield RegionItem(0, piece)
            return
        yield from self._stream_rows(items, prepared, cancel, stop_item)

    def _stream_rows(self, items: list[BatchItem], prepared: list[_Prepared], cancel: threading.Event | None,
                     stop_row: Callable[[int], bool] | None) -> Iterator[RegionItem]:
        if not items:
            return
        budgets = [self._max_new_tokens(item.task, item.options) for item in items]
        stream = BatchTokenStream(self.runner, [p.prompt for p in prepared], _concat_pixels(prepared),
                                  max(budgets), self._eos_ids(), items[0].options, cancel)
        trackers = [_TextTracker(self.tokenizer, item.task, item.options, set(self._eos_ids())) for item in items]
        finished: set[int] = set()
        for row, token in stream:
            text, looping = trackers[row].push(token)
            if text:
                yield RegionItem(row, TextDelta(text, trackers[row].tokens))
            _police_row(stream, row, looping, budgets[row], stop_row)
            if stream.stop_reasons[row] is not None and row not in finished:
                finished.add(row)
                yield from self._finish_row(row, stream, trackers[row], prepared[row], items[row].task)
        for row in range(len(items)):
            if row not in finished:  # cancelled before its next token
                yield from self._finish_row(row, stream, trackers[row], prepared[row], items[row].task)

    def _finish_row(self, row: int, stream: BatchTokenStream, tracker: "_TextTracker", item: "_Prepared",
                    task: str) -> Iterator[RegionItem]:
        reason = stream.stop_reasons[row] or STOP_CANCELLED
        tail = tracker.decoder.flush()
        if tail and reason != STOP_REPETITION:
            yield RegionItem(row, TextDelta(tail, tracker.tokens))
        timings = Timings(self.load_s, item.preprocess_s, stream.first_token_s, stream.decode_s[row])
        yield RegionItem(row, self._result(task, tracker.kept(stream.tokens[row]), reason, item, timings))

    def _prepare_item(self, item: BatchItem) -> _Prepared:
        """Validate an item before any model work, so a bad one fails fast and alone."""
        task_spec(item.task)
        prompt_text = item.prompt if item.prompt is not None else task_prompt(item.task, item.options.schema)
        self._max_new_tokens(item.task, item.options)
        if item.image is None:
            return self._prepare_text(prompt_text)
        image = to_rgb(item.image)
        crop = crop_region(image, item.region) if item.region is not None else image
        return self._prepare_one(crop, prompt_text, item.text_first)

    def _prepare_one(self, crop: Image.Image, prompt_text: str, text_first: bool = False) -> _Prepared:
        started = time.perf_counter()
        rows, grid = preprocess_image(crop, self.preprocessor)
        merge = self.preprocessor.merge_size
        ids = self.tokenizer.encode_prompt(prompt_text, [grid[0] * grid[1] * grid[2] // (merge * merge)],
                                           text_first=text_first)
        return _Prepared(Prompt(ids, [grid]), rows, time.perf_counter() - started)

    def _prepare_text(self, prompt_text: str) -> _Prepared:
        started = time.perf_counter()
        ids = self.tokenizer.encode_prompt(prompt_text, [])
        return _Prepared(Prompt(ids, []), None, time.perf_counter() - started)

    def _result(self, task, tokens, stop_reason, prepared: _Prepared, timings: Timings) -> OcrResult:
        text = self.tokenizer.decode(tokens).strip()
        parsed, error = parse_output(task, text)
        timings.new_tokens = len(tokens)
        return OcrResult(task=task, text=text, parsed=parsed, parse_error=error, token_ids=tokens,
                         stop_reason=stop_reason, prompt_tokens=len(prepared.prompt.ids),
                         image_grid_thw=list(prepared.prompt.grids[0]) if prepared.prompt.grids else [],
                         timings=timings)

    def _max_new_tokens(self, task: str, options: RecognizeOptions) -> int:
        value = options.max_new_tokens if options.max_new_tokens is not None else default_max_new_tokens(task)
        if not 1 <= value <= MAX_NEW_TOKENS:
            raise UsageError(f"max_new_tokens must be between 1 and {MAX_NEW_TOKENS}, got {value}")
        return value

    def _eos_ids(self) -> tuple[int, ...]:
        return tuple(self.generation.eos_token_id or self.runner.model.cfg.text.eos_token_id)


def _police_row(stream: BatchTokenStream, row: int, looping: bool, budget: int,
                stop_row: Callable[[int], bool] | None) -> None:
    """End a row early: a repetition loop, its own token budget (the batch runs to the largest), or its caller."""
    if looping:
        stream.stop_row(row, STOP_REPETITION)
    elif stream.stop_reasons[row] is None and len(stream.tokens[row]) >= budget:
        stream.stop_row(row, STOP_MAX_TOKENS)
    elif stream.stop_reasons[row] is None and stop_row is not None and stop_row(row):
        stream.stop_row(row, STOP_CANCELLED)


def _concat_pixels(prepared: list[_Prepared]) -> torch.Tensor | None:
    """Every image's pixel rows in prompt order (text-only prompts have none)."""
    parts = [p.pixels for p in prepared if p.pixels is not None]
    return torch.from_numpy(np.concatenate(parts)) if parts else None


def _tensor(pixels: np.ndarray | None) -> torch.Tensor | None:
    return torch.from_numpy(pixels) if pixels is not None else None


def _backend(name: str, device: str) -> str:
    try:
        return resolve_backend(name, device)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
