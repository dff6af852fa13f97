"""Choosing the next token: greedy by default (the official generation config), or seeded sampling with
temperature, top-k, top-p and a repetition penalty (the same semantics as the reference's logits processors)."""

from __future__ import annotations

import torch

from ..api import SamplingOptions


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


def choose_token(logits: torch.Tensor, history: list[int], sampling: SamplingOptions,
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


def seeded_generator(seed: int | None) -> torch.Generator | None:
    if seed is None:
        return None
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator
