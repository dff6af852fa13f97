"""Greedy speculative decoding with the checkpoint's multi-token-prediction (MTP) layer.

Each step feeds the main model the pending token t and the MTP layer's guess d for the token after it. The main
model's own greedy choice after t decides: if it equals d, d is accepted and the main model's choice after d comes
for free (two tokens for one pass); otherwise d's cache entry is dropped. Every emitted token is the main model's
greedy choice, so the output equals plain greedy decoding token for token.

The MTP layer keeps its own one-layer KV cache over the same positions: position i sees the embedding of token
i+1 and the main model's final hidden state at i.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Iterator

import torch

if TYPE_CHECKING:
    from .generate import TokenStream


class _Drafter:
    def __init__(self, model, state, capacity: int):
        self.model, self.mtp = model, model.language_model.mtp
        t = model.cfg.text
        self.cache = type(state.cache)(1, 1, t.num_key_value_heads, t.head_dim, capacity, model.dtype, model.device)
        self.offsets = state.offsets

    def prefill(self, embeds, positions, hidden, first_token: int) -> int:
        following = torch.cat([embeds[:, 1:], self._embed([first_token])], dim=1)
        return self._guess(following, hidden, positions)

    def extend(self, tokens: list[int], hidden: torch.Tensor) -> int:
        """The main model just processed slots [cache.length, +len(tokens)) whose next tokens are ``tokens``."""
        slots = torch.arange(self.cache.length, self.cache.length + len(tokens), device=self.model.device)
        positions = (slots + self.offsets[:, None]).expand(3, 1, len(tokens))
        return self._guess(self._embed(tokens), hidden, positions)

    def _embed(self, tokens: list[int]) -> torch.Tensor:
        return self.model.language_model.embed(torch.tensor([tokens], device=self.model.device))

    def _guess(self, next_embeds, hidden, positions) -> int:
        cos_sin = self.model.rope.cos_sin(positions, next_embeds.dtype)
        normed = self.mtp.draft(next_embeds, hidden, cos_sin, self.cache, self.model.language_model.attn_backend)
        return int(torch.argmax(self.model.lm_head(normed[:, -1])[0]))


def speculative_tokens(stream: "TokenStream") -> Iterator[int]:
    """Drive ``stream`` (tokens, stop reason, timings, draft counts) with MTP drafts; yields emitted ids."""
    model, req, start = stream.model, stream.request, time.perf_counter()
    if stream._cancelled() or req.max_new_tokens <= 0:
        return
    capacity = len(req.prompt_ids) + req.max_new_tokens + 2
    logits, state = model.prefill_batch([_prompt(req)], req.pixels, capacity, keep_prompt=True)
    pending = int(torch.argmax(logits[0]))
    drafter = _Drafter(model, state, capacity)
    draft = drafter.prefill(*state.prompt, pending)
    state.prompt = None
    stream.first_token_s = time.perf_counter() - start
    first = time.perf_counter()
    for token in _emit(stream, [pending], first):
        yield token
    while not stream._done and not stream._cancelled():
        hidden = model.decode_hidden(torch.tensor([[pending, draft]], device=model.device), state)
        choices = torch.argmax(model.lm_head(hidden)[0], dim=-1).tolist()
        stream.draft_tokens += 1
        if choices[0] == draft:
            stream.accepted_tokens += 1
            emitted, new_hidden = choices, hidden
        else:
            state.cache.truncate(state.cache.length - 1)  # forget the rejected draft's keys and values
            emitted, new_hidden = choices[:1], hidden[:, :1]
        yield from _emit(stream, emitted, first)
        pending = emitted[-1]
        draft = drafter.extend(emitted, new_hidden)


def _prompt(req):
    from .model import Prompt

    return Prompt(req.prompt_ids, req.grid_thw)


def _emit(stream: "TokenStream", tokens: list[int], first: float) -> Iterator[int]:
    for token in tokens:
        if stream._done:
            return
        stream.tokens.append(token)
        stream.decode_s = time.perf_counter() - first
        stream._done = stream._finished(token)
        yield token
