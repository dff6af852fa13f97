"""Token generation: prefill, then one cached decode step per token, as an iterator.

Greedy by default (the official generation config); optional seeded sampling with temperature, top-k, top-p and a
repetition penalty (the same semantics as the reference's logits processors). Stops on any eos id, at the token
budget, or when the cancel event is set (checked before every step).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Iterator

import torch

from .api import STOP_CANCELLED, STOP_EOS, STOP_MAX_TOKENS
from .model import GlmOcrModel


@dataclass
class Sampling:
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    repetition_penalty: float = 1.0
    seed: int | None = None


@dataclass
class GenerationRequest:
    prompt_ids: list[int]
    pixels: torch.Tensor | None
    grid_thw: list[list[int]]
    max_new_tokens: int
    eos_ids: tuple[int, ...]
    sampling: Sampling = field(default_factory=Sampling)


def apply_repetition_penalty(logits: torch.Tensor, seen: torch.Tensor, penalty: float) -> torch.Tensor:
    """Make already-seen tokens less likely: positive scores are divided by the penalty, negative multiplied."""
    if penalty == 1.0:
        return logits
    scores = logits.gather(-1, seen)
    scores = torch.where(scores < 0, scores * penalty, scores / penalty)
    return logits.scatter(-1, seen, scores)


def filter_top_k_top_p(logits: torch.Tensor, top_k: int, top_p: float) -> torch.Tensor:
    """Mask (to -inf) every token outside the top-k and outside the smallest set with probability mass >= top_p."""
    if top_k > 0:
        kth = torch.topk(logits, min(top_k, logits.shape[-1])).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        ordered, order = torch.sort(logits, descending=True)
        mass_before = ordered.softmax(-1).cumsum(-1) - ordered.softmax(-1)
        drop = mass_before >= top_p  # always keeps the most likely token
        logits = logits.masked_fill(drop.scatter(-1, order, drop), float("-inf"))
    return logits


def choose_token(logits: torch.Tensor, history: torch.Tensor, sampling: Sampling,
                 generator: torch.Generator | None) -> int:
    """logits [V] (any float dtype) -> the next token id."""
    logits = apply_repetition_penalty(logits.float(), history, sampling.repetition_penalty)
    if not sampling.do_sample:
        return int(torch.argmax(logits))
    logits = filter_top_k_top_p(logits / max(sampling.temperature, 1e-5), sampling.top_k, sampling.top_p)
    return int(torch.multinomial(logits.softmax(-1).cpu(), 1, generator=generator))  # seeded on the CPU


class TokenStream:
    """Iterate to get generated ids (the final eos id included, as the reference does). After the loop,
    ``stop_reason``, ``first_token_s`` and ``decode_s`` tell how it ended and how long it took."""

    def __init__(self, model: GlmOcrModel, request: GenerationRequest, cancel: threading.Event | None = None):
        self.model, self.request = model, request
        self.cancel = cancel or threading.Event()
        self.stop_reason = STOP_MAX_TOKENS
        self.first_token_s = 0.0
        self.decode_s = 0.0
        self.tokens: list[int] = []

    def __iter__(self) -> Iterator[int]:
        with torch.inference_mode():
            yield from self._run()

    def _run(self) -> Iterator[int]:
        req, start = self.request, time.perf_counter()
        if self._cancelled() or req.max_new_tokens <= 0:
            return
        generator = _generator(req.sampling.seed)
        history = torch.tensor(req.prompt_ids, device=self.model.device)
        logits, state = self.model.prefill(req.prompt_ids, req.pixels, req.grid_thw,
                                           capacity=len(req.prompt_ids) + req.max_new_tokens)
        token = choose_token(logits[0], history, req.sampling, generator)
        self.first_token_s = time.perf_counter() - start
        first = time.perf_counter()
        while True:
            self.tokens.append(token)
            self.decode_s = time.perf_counter() - first
            yield token
            if self._finished(token) or self._cancelled():
                return
            history = torch.cat([history, history.new_tensor([token])])
            logits = self.model.decode(history.new_tensor([[token]]), state)
            token = choose_token(logits[0, -1], history, req.sampling, generator)

    def _finished(self, token: int) -> bool:
        if token in self.request.eos_ids:
            self.stop_reason = STOP_EOS
            return True
        return len(self.tokens) >= self.request.max_new_tokens

    def _cancelled(self) -> bool:
        if self.cancel.is_set():
            self.stop_reason = STOP_CANCELLED
            return True
        return False

    def stop(self, reason: str) -> None:
        """Record why a consumer ended the iteration early (e.g. the repetition guard)."""
        self.stop_reason = reason


def _generator(seed: int | None) -> torch.Generator | None:
    if seed is None:
        return None
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator
