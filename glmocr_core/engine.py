"""The engine API: the one door into the core for the GUI, the CLI and scripts. No Qt in here.

``Engine.load`` reads a model folder once; ``Engine.recognize`` streams ``TextDelta`` pieces and ends with one
``OcrResult``. An engine is meant to be driven from one worker thread at a time.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Callable, Iterator

import torch
from PIL import Image

from .api import STOP_REPETITION, EngineInfo, OcrResult, RecognizeOptions, TextDelta, Timings
from .config import GenerationConfig, PreprocessorConfig, load_generation_config, load_preprocessor_config
from .devices import resolve_device, resolve_dtype
from .documents import to_rgb
from .errors import UsageError
from .generate import GenerationRequest, Sampling, TokenStream
from .model import GlmOcrModel, count_parameters
from .model_files import require_model_dir
from .pages import crop_region
from .preprocess import preprocess_images
from .repetition import RepetitionGuard
from .tasks import default_max_new_tokens, parse_output, repetition_config, task_prompt
from .tokenizer import GlmTokenizer
from .weights import load_model

Progress = Callable[[str, float], None]
PRECISIONS = ("exact", "fast")


class Engine:
    def __init__(self, model: GlmOcrModel, tokenizer: GlmTokenizer, preprocessor: PreprocessorConfig,
                 generation: GenerationConfig, info: EngineInfo):
        self.model, self.tokenizer = model, tokenizer
        self.preprocessor, self.generation = preprocessor, generation
        self.info = info
        self.load_s = 0.0

    @classmethod
    def load(cls, model_dir: str | Path, *, device: str = "auto", dtype: str = "auto", precision: str = "exact",
             attention: str = "auto", progress: Progress | None = None) -> "Engine":
        report = progress or (lambda stage, fraction: None)
        start = time.perf_counter()
        if precision not in PRECISIONS:
            raise UsageError(f"unknown precision {precision!r}; choose one of: {', '.join(PRECISIONS)}")
        report("Checking the model folder", 0.02)
        folder = require_model_dir(model_dir)
        device = resolve_device(device)
        torch_dtype = resolve_dtype(dtype, device, precision)
        report("Loading weights", 0.1)
        model = load_model(folder, dtype=torch_dtype, device=device)
        model.set_attention_backend(attention)
        report("Loading the tokenizer", 0.9)
        tokenizer = GlmTokenizer.from_dir(folder)
        info = EngineInfo(model_dir=str(folder), device=device, dtype=str(torch_dtype).replace("torch.", ""),
                          backend=attention, threads=torch.get_num_threads(), precision=precision,
                          parameters=count_parameters(model))
        engine = cls(model, tokenizer, load_preprocessor_config(folder), load_generation_config(folder), info)
        engine.load_s = time.perf_counter() - start
        report("Ready", 1.0)
        return engine

    def close(self) -> None:
        self.model = None  # drop the weights; the engine cannot be used afterwards

    # ------------------------------------------------------------------------------------------------ recognize

    def recognize(self, image: Image.Image, task: str = "text", region=None, options: RecognizeOptions | None = None,
                  cancel: threading.Event | None = None) -> Iterator[TextDelta | OcrResult]:
        options = options or RecognizeOptions()
        started = time.perf_counter()
        prompt_text = task_prompt(task, options.schema)
        image = to_rgb(image)
        if region is not None:
            image = crop_region(image, region)
        inputs = preprocess_images([image], self.preprocessor)
        prompt_ids = self.tokenizer.encode_prompt(prompt_text, inputs.token_counts(self.preprocessor.merge_size))
        request = GenerationRequest(prompt_ids, torch.from_numpy(inputs.pixels), inputs.grid_thw,
                                    self._max_new_tokens(task, options), self._eos_ids(), _sampling(options))
        timings = Timings(load_s=self.load_s, preprocess_s=time.perf_counter() - started)
        stream = TokenStream(self.model, request, cancel)
        tokens = yield from self._stream_text(stream, task, options)
        timings.first_token_s, timings.decode_s, timings.new_tokens = stream.first_token_s, stream.decode_s, len(tokens)
        yield self._result(task, tokens, stream.stop_reason, len(prompt_ids), inputs.grid_thw[0], timings)

    def _stream_text(self, stream: TokenStream, task: str, options: RecognizeOptions):
        """Yield text deltas while generating; return the kept token ids (trimmed after a repetition loop)."""
        decoder = self.tokenizer.incremental_decoder()
        guard = None
        if options.repeat_guard:
            guard = RepetitionGuard(repetition_config(task), boundaries=self.tokenizer.cut_boundaries())
        eos = set(self._eos_ids())
        for token in stream:
            delta = decoder.push(token)
            if delta:
                yield TextDelta(delta)
            if guard is not None and token not in eos and guard.push(token):
                stream.stop(STOP_REPETITION)
                return stream.tokens[: guard.trim_point()]
        tail = decoder.flush()
        if tail:
            yield TextDelta(tail)
        return list(stream.tokens)

    def _result(self, task, tokens, stop_reason, prompt_tokens, grid, timings) -> OcrResult:
        text = self.tokenizer.decode(tokens).strip()
        parsed, error = parse_output(task, text)
        return OcrResult(task=task, text=text, parsed=parsed, parse_error=error, token_ids=tokens,
                         stop_reason=stop_reason, prompt_tokens=prompt_tokens, image_grid_thw=list(grid),
                         timings=timings)

    def _max_new_tokens(self, task: str, options: RecognizeOptions) -> int:
        value = options.max_new_tokens if options.max_new_tokens is not None else default_max_new_tokens(task)
        if value < 1:
            raise UsageError(f"max_new_tokens must be at least 1, got {value}")
        return value

    def _eos_ids(self) -> tuple[int, ...]:
        return tuple(self.generation.eos_token_id or self.model.cfg.text.eos_token_id)


def _sampling(options: RecognizeOptions) -> Sampling:
    return Sampling(do_sample=options.do_sample, temperature=options.temperature, top_p=options.top_p,
                    top_k=options.top_k, repetition_penalty=options.repetition_penalty, seed=options.seed)
