"""Greedy speculative decoding with the checkpoint's multi-token-prediction (MTP) layer.

Each step feeds the main model the pending token t and the MTP layer's guess d for the token after it. The main
model's own greedy choice after t decides: if it equals d, d is accepted and the main model's choice after d comes
for free (two tokens for one pass); otherwise d's cache entry is dropped. Every emitted token is the main model's
greedy choice, so the output equals plain greedy decoding token for token.

The MTP layer keeps its own one-layer KV cache over the same positions: position i sees the embedding of token
i+1 and the main model's final hidden state at i.
"""

from __future__ import annotations

from typing import Iterator

import torch

from .decoding import ModelRunner, Prompt


class _Drafter:
    def __init__(self, runner: ModelRunner, offsets: torch.Tensor, capacity: int):
        self.model, self.mtp = runner.model, runner.model.language_model.mtp
        self.cache = runner.new_cache(1, capacity, layers=1)
        self.offsets = offsets

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


class SpeculativeDecoder:
    """Greedy tokens of one prompt, each pass checking one MTP draft. ``tokens()`` yields them until the consumer
    stops (eos, budget and cancel are the consumer's); ``drafts`` and ``accepted`` count the drafts so far.
    ``capacity`` must leave two slots beyond the consumer's last token (a pass writes the pending token and a draft)."""

    def __init__(self, runner: ModelRunner, prompt: Prompt, pixels: torch.Tensor | None, capacity: int):
        self.runner, self.prompt, self.pixels, self.capacity = runner, prompt, pixels, capacity
        self.drafts = 0
        self.accepted = 0

    def tokens(self) -> Iterator[int]:
        runner, model = self.runner, self.runner.model
        logits, state = runner.prefill_batch([self.prompt], self.pixels, self.capacity, keep_prompt=True)
        pending = int(torch.argmax(logits[0]))
        drafter = _Drafter(runner, state.offsets, self.capacity)
        draft = drafter.prefill(*state.prompt, pending)
        state.prompt = None
        yield pending
        while True:
            hidden = runner.decode_hidden(torch.tensor([[pending, draft]], device=model.device), state)
            choices = torch.argmax(model.lm_head(hidden)[0], dim=-1).tolist()
            self.drafts += 1
            if choices[0] == draft:
                self.accepted += 1
                emitted, new_hidden = choices, hidden
            else:
                state.cache.truncate(state.cache.length - 1)  # forget the rejected draft's keys and values
                emitted, new_hidden = choices[:1], hidden[:, :1]
            yield from emitted
            pending = emitted[-1]
            draft = drafter.extend(emitted, new_hidden)
