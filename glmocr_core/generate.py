"""Token generation: prefill, then one cached decode step per token, as an iterator.

Greedy by default (the official generation config); optional seeded sampling with temperature, top-k, top-p and a
repetition penalty (the same semantics as the reference's logits processors). Stops on any eos id, at the token
budget, or when the cancel event is set (checked before every step). ``BatchTokenStream`` decodes several prompts
(regions of a page) as one batch; rows that finish leave the batch.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Iterator

import torch

from .api import STOP_CANCELLED, STOP_EOS, STOP_MAX_TOKENS
from .api import SamplingOptions as Sampling
from .model import GlmOcrModel, Prompt


@dataclass
class GenerationRequest:
    prompt_ids: list[int]
    pixels: torch.Tensor | None
    grid_thw: list[list[int]]
    max_new_tokens: int
    eos_ids: tuple[int, ...]
    sampling: Sampling = field(default_factory=Sampling)
    use_mtp: bool = False  # speculative decoding with the checkpoint's MTP layer (greedy only)


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


def choose_token(logits: torch.Tensor, history: list[int], sampling: Sampling,
                 generator: torch.Generator | None) -> int:
    """logits [V] (any float dtype) -> the next token id; ``history`` is prompt + generated ids."""
    if sampling.plain_greedy:
        return int(torch.argmax(logits))
    seen = torch.tensor(history, device=logits.device)
    logits = apply_repetition_penalty(logits.float(), seen, sampling.repetition_penalty)
    if not sampling.do_sample:
        return int(torch.argmax(logits))
    logits = filter_top_k_top_p(logits / max(sampling.temperature, 1e-5), sampling.top_k, sampling.top_p)
    return int(torch.multinomial(logits.softmax(-1).cpu(), 1, generator=generator))  # seeded on the CPU


def _generator(seed: int | None) -> torch.Generator | None:
    if seed is None:
        return None
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


class BatchTokenStream:
    """Iterate to get ``(row, token)`` pairs for several prompts decoded together (each row's final eos id is
    included, as the reference does). ``tokens[row]``, ``stop_reasons[row]``, ``decode_s[row]`` and
    ``first_token_s`` tell the outcome; ``stop_row`` lets a consumer end one row early (e.g. a repetition loop)."""

    def __init__(self, model: GlmOcrModel, prompts: list[Prompt], pixels: torch.Tensor | None,
                 max_new_tokens: int, eos_ids: tuple[int, ...], sampling: Sampling | None = None,
                 cancel: threading.Event | None = None):
        self.model, self.prompts, self.pixels = model, prompts, pixels
        self.max_new_tokens, self.eos_ids = max_new_tokens, frozenset(eos_ids)
        self.sampling = sampling or Sampling()
        self.cancel = cancel or threading.Event()
        self.tokens: list[list[int]] = [[] for _ in prompts]
        self.stop_reasons: list[str | None] = [None] * len(prompts)
        self.decode_s = [0.0] * len(prompts)
        self.first_token_s = 0.0

    def __iter__(self) -> Iterator[tuple[int, int]]:
        with torch.inference_mode():
            yield from self._run()

    def stop_row(self, row: int, reason: str) -> None:
        self.stop_reasons[row] = reason

    def _run(self) -> Iterator[tuple[int, int]]:
        start = time.perf_counter()
        if self._cancel_all(range(len(self.prompts))) or self.max_new_tokens <= 0:
            return
        generator = _generator(self.sampling.seed)
        capacity = max(len(p.ids) for p in self.prompts) + self.max_new_tokens
        logits, state = self.model.prefill_batch(self.prompts, self.pixels, capacity)
        active = list(range(len(self.prompts)))
        chosen = [self._choose(logits[i], row, generator) for i, row in enumerate(active)]
        self.first_token_s = time.perf_counter() - start
        first = time.perf_counter()
        while True:
            for row, token in zip(active, chosen):
                yield row, self._record(row, token, first)
            if self._cancel_all(active):
                return
            keep = [i for i, row in enumerate(active) if self.stop_reasons[row] is None]
            if not keep:
                return
            if len(keep) < len(active):
                state.select(torch.tensor(keep, device=self.model.device))
                active, chosen = [active[i] for i in keep], [chosen[i] for i in keep]
            logits = self.model.decode(torch.tensor([[t] for t in chosen], device=self.model.device), state)
            chosen = [self._choose(logits[i, -1], row, generator) for i, row in enumerate(active)]

    def _choose(self, logits: torch.Tensor, row: int, generator) -> int:
        history = self.prompts[row].ids + self.tokens[row] if not self.sampling.plain_greedy else []
        return choose_token(logits, history, self.sampling, generator)

    def _record(self, row: int, token: int, first: float) -> int:
        self.tokens[row].append(token)
        self.decode_s[row] = time.perf_counter() - first
        if self.stop_reasons[row] is None:
            if token in self.eos_ids:
                self.stop_reasons[row] = STOP_EOS
            elif len(self.tokens[row]) >= self.max_new_tokens:
                self.stop_reasons[row] = STOP_MAX_TOKENS
        return token

    def _cancel_all(self, rows) -> bool:
        if not self.cancel.is_set():
            return False
        for row in rows:
            if self.stop_reasons[row] is None:
                self.stop_reasons[row] = STOP_CANCELLED
        return True


class TokenStream:
    """Iterate to get one prompt's generated ids. After the loop, ``stop_reason``, ``first_token_s`` and
    ``decode_s`` tell how it ended and how long it took; ``draft_tokens``/``accepted_tokens`` count MTP drafts."""

    def __init__(self, model: GlmOcrModel, request: GenerationRequest, cancel: threading.Event | None = None):
        self.model, self.request = model, request
        self.cancel = cancel or threading.Event()
        self.stop_reason = STOP_MAX_TOKENS
        self.first_token_s = 0.0
        self.decode_s = 0.0
        self.tokens: list[int] = []
        self.draft_tokens = 0
        self.accepted_tokens = 0
        self._done = False

    def __iter__(self) -> Iterator[int]:
        with torch.inference_mode():
            yield from self._run()

    def _run(self) -> Iterator[int]:
        req = self.request
        if req.use_mtp and req.sampling.plain_greedy and self.model.language_model.mtp is not None:
            from .speculative import speculative_tokens

            yield from speculative_tokens(self)
            return
        batch = BatchTokenStream(self.model, [Prompt(req.prompt_ids, req.grid_thw)], req.pixels, req.max_new_tokens,
                                 req.eos_ids, req.sampling, self.cancel)
        for _, token in batch:
            self.tokens.append(token)
            self.first_token_s, self.decode_s = batch.first_token_s, batch.decode_s[0]
            self.stop_reason = batch.stop_reasons[0] or self.stop_reason
            yield token
        if batch.stop_reasons[0] == STOP_CANCELLED:
            self.stop_reason = STOP_CANCELLED

    def _finished(self, token: int) -> bool:
        """Record eos / budget stops for a token just appended to ``tokens``."""
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
