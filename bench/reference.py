"""Measurements of the reference, transformers' ``GlmOcrForConditionalGeneration``, at its best CPU setting:
fp32 weights, SDPA attention, greedy ``generate``.

The Glm46V processor class needs torchvision (for its video half), so inputs are built the way it builds them for
images: the chat template rendered by the reference tokenizer, ``<|image|>`` expanded to t·h·w/4 copies, and the
PIL image processor for the pixels.
"""

from __future__ import annotations

import time

import torch
from transformers.generation.streamers import BaseStreamer

from glmocr_core.tasks.specs import task_prompt
from tests.core.reference import Reference as Oracle

from . import inputs

TASK = "text"


class Reference(Oracle):
    """The test suite's transformers oracle (same inputs as the Glm46V processor builds), plus timed generation."""

    @torch.inference_mode()
    def recognize(self, image, tokens: int) -> dict:
        """Greedy generation of exactly ``tokens`` tokens (min = max); times measured from the image."""
        start = time.perf_counter()
        model_inputs = self.inputs(image, task_prompt(TASK))
        clock = TokenClock()
        out = self.model.generate(**model_inputs, max_new_tokens=tokens, min_new_tokens=tokens, do_sample=False,
                                  streamer=clock)
        new_ids = out[0, model_inputs["input_ids"].shape[1]:].tolist()
        return {"ttft_s": clock.first - start, "decode_tok_s": clock.rate(), "new_tokens": len(new_ids),
                "token_ids": new_ids, "wall_s": time.perf_counter() - start}


class TokenClock(BaseStreamer):
    """Timestamps from ``generate``'s streamer hook: the first ``put`` is the prompt, each later one a token."""

    def __init__(self):
        self.puts, self.first, self.last, self.tokens = 0, 0.0, 0.0, 0

    def put(self, value) -> None:
        self.puts += 1
        now = time.perf_counter()
        if self.puts == 2:
            self.first = now
        if self.puts >= 2:
            self.last, self.tokens = now, self.tokens + 1

    def end(self) -> None:
        pass

    def rate(self) -> float:
        elapsed = self.last - self.first
        return (self.tokens - 1) / elapsed if self.tokens > 1 and elapsed > 0 else 0.0


def load(checkpoint: str, dtype: torch.dtype = torch.float32) -> tuple[Reference, float]:
    """bf16 is the model authors' deployment precision and the accuracy bar of fast precision; on CPUs with bf16
    matrix units it is also transformers' fastest setting."""
    start = time.perf_counter()
    reference = Reference(checkpoint, dtype)
    return reference, time.perf_counter() - start


def warm_up(reference: Reference) -> None:
    reference.recognize(inputs.warmup_image(), 2)


def single_region(reference: Reference, tokens: int) -> dict:
    return reference.recognize(inputs.region_image(), tokens)


def page_one_by_one(reference: Reference, tokens: int) -> dict:
    """The full page as strips, one ``generate`` call per strip (the reference has no region batching)."""
    page = inputs.page_image()
    start = time.perf_counter()
    runs = [reference.recognize(inputs.crop(page, box), tokens) for box in inputs.page_strips()]
    return {"mode": "one-by-one", "wall_s": time.perf_counter() - start,
            "new_tokens": [r["new_tokens"] for r in runs], "token_ids": [r["token_ids"] for r in runs]}
