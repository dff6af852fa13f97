"""Token generation: prefill, then one cached decode step per token, as an iterator.

The next token is chosen by ``sampling.choose_token`` (greedy by default). Stops on any eos id, at the token budget,
or when the cancel event is set (checked before every step). ``BatchTokenStream`` decodes several prompts
(regions of a page) as one batch; rows that finish leave the batch.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Iterator

import torch

from ..api import STOP_CANCELLED, STOP_EOS, STOP_MAX_TOKENS, SamplingOptions
from .decoding import ModelRunner, Prompt
from .sampling import choose_token, seeded_generator
from .speculative import SpeculativeDecoder


@dataclass
class GenerationRequest:
    prompt_ids: list[int]
    pixels: torch.Tensor | None
    grid_thw: list[list[int]]
    max_new_tokens: int
    eos_ids: tuple[int, ...]
    sampling: SamplingOptions = field(default_factory=SamplingOptions)
    use_mtp: bool = False  # speculative decoding with the checkpoint's MTP layer (greedy only)


class BatchTokenStream:
    """Iterate to get ``(row, token)`` pairs for several prompts decoded together (each row's final eos id is
    included, as the reference does). ``tokens[row]``, ``stop_reasons[row]``, ``decode_s[row]`` and
    ``first_token_s`` tell the outcome; ``stop_row`` lets a consumer end one row early (e.g. a repetition loop)."""

    def __init__(self, runner: ModelRunner, prompts: list[Prompt], pixels: torch.Tensor | None,
                 max_new_tokens: int, eos_ids: tuple[int, ...], sampling: SamplingOptions | None = None,
                 cancel: threading.Event | None = None):
        self.runner, self.prompts, self.pixels = runner, prompts, pixels
        self.max_new_tokens, self.eos_ids = max_new_tokens, frozenset(eos_ids)
        self.sampling = sampling or SamplingOptions()
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
        generator = seeded_generator(self.sampling.seed)
        capacity = max(len(p.ids) for p in self.prompts) + self.max_new_tokens
        logits, state = self.runner.prefill_batch(self.prompts, self.pixels, capacity)
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
                state.select(torch.tensor(keep, device=self.runner.device))
                active, chosen = [active[i] for i in keep], [chosen[i] for i in keep]
            logits = self.runner.decode(torch.tensor([[t] for t in chosen], device=self.runner.device), state)
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

    def __init__(self, runner: ModelRunner, request: GenerationRequest, cancel: threading.Event | None = None):
        self.runner, self.request = runner, request
        self.cancel = cancel or threading.Event()
        self.stop_reason = STOP_MAX_TOKENS
        self.first_token_s = 0.0
        self.decode_s = 0.0
        self.tokens: list[int] = []
        self.draft_tokens = 0
        self.accepted_tokens = 0

    def __iter__(self) -> Iterator[int]:
        with torch.inference_mode():
            yield from self._run()

    def _run(self) -> Iterator[int]:
        req = self.request
        if req.use_mtp and req.sampling.plain_greedy and self.runner.model.language_model.mtp is not None:
            return self._speculative()
        return self._plain()

    def stop(self, reason: str) -> None:
        """Record why a consumer ended the iteration early (e.g. the repetition guard)."""
        self.stop_reason = reason

    def _plain(self) -> Iterator[int]:
        req = self.request
        batch = BatchTokenStream(self.runner, [Prompt(req.prompt_ids, req.grid_thw)], req.pixels,
                                 req.max_new_tokens, req.eos_ids, req.sampling, self.cancel)
        for _, token in batch:
            self.tokens.append(token)
            self.first_token_s, self.decode_s = batch.first_token_s, batch.decode_s[0]
            self.stop_reason = batch.stop_reasons[0] or self.stop_reason
            yield token
        if batch.stop_reasons[0] == STOP_CANCELLED:
            self.stop_reason = STOP_CANCELLED

    def _speculative(self) -> Iterator[int]:
        """Greedy tokens drafted with the MTP layer: the same ids as ``_plain``, in fewer model passes. The cancel
        event is checked before every token."""
        req, start = self.request, time.perf_counter()
        if self._cancelled() or req.max_new_tokens <= 0:
            return
        decoder = SpeculativeDecoder(self.runner, Prompt(req.prompt_ids, req.grid_thw), req.pixels,
                                     len(req.prompt_ids) + req.max_new_tokens + 2)
        first = start
        for token in decoder.tokens():
            now = time.perf_counter()
            if not self.tokens:
                self.first_token_s, first = now - start, now
            self.tokens.append(token)
            self.decode_s = now - first
            self.draft_tokens, self.accepted_tokens = decoder.drafts, decoder.accepted
            finished = self._finished(token)
            yield token
            if finished or self._cancelled():
                return

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
