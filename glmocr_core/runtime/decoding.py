"""Running the model over KV caches: prompts prefilled into a fresh cache, then tokens decoded on top of it.

``ModelRunner.prefill_batch`` runs one or more prompts (each on its own) into a left-padded batch cache;
``decode`` runs new tokens on top of it. Positions of cache slot n in row b are ``n + offsets[b]``: the prompt's
rope delta minus its left padding. How one-token steps run is the runner's ``decode_step``: "dynamic" (shapes
follow the cache length; best on CPUs), "static" (fixed shapes, eager) or "cuda-graph" (the static step captured
once per attention window of a request, then replayed).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..model.glm_ocr import GlmOcrModel
from ..model.rope import mrope_positions
from . import kernel_choice, plane_rows
from .graphs import GraphDecoder
from .kv_cache import KVCache
from .quantize import widened_gemm_dtype

DECODE_STEPS = ("dynamic", "static", "cuda-graph")


@dataclass
class Prompt:
    ids: list[int]
    grids: list[list[int]]  # [t, h, w] of each of its images, in order


@dataclass
class DecodeState:
    """What decoding needs after a prefill."""

    cache: KVCache
    offsets: torch.Tensor  # [B] long: position of cache slot n is n + offsets[b]
    key_mask: torch.Tensor | None  # [B, capacity] bool, False on left padding; None when nothing is padded
    prompt: tuple | None = None  # (embeds, positions, hidden) of the whole prompt, kept only when asked for
    step: GraphDecoder | None = None  # bound to this cache, built on the first static one-token step

    def select(self, rows: torch.Tensor) -> None:
        """Keep only ``rows`` of the batch (finished rows leave, so they cost nothing more)."""
        self.cache.select(rows)
        self.offsets = self.offsets[rows]
        self.key_mask = None if self.key_mask is None else self.key_mask[rows]
        self.step = None  # bound to the old cache tensors


class ModelRunner:
    def __init__(self, model: GlmOcrModel, decode_step: str = "dynamic"):
        if decode_step not in DECODE_STEPS:
            raise ValueError(f"unknown decode step {decode_step!r}; choose one of: {', '.join(DECODE_STEPS)}")
        self.model = model
        self.decode_step = decode_step
        self.start_cpu_timings()

    def start_cpu_timings(self) -> None:
        """Time this CPU's kernels in the background, once per process: the fp32 kernels, and where the model's
        int8 groups change ways once it has them (so call it again after quantizing)."""
        if self.device.type != "cpu":
            return
        kernel_choice.start(self.model.cfg)
        int8_gemm = widened_gemm_dtype(self.model)
        if int8_gemm is not None:
            plane_rows.start(self.model.cfg, int8_gemm)

    @property
    def device(self) -> torch.device:
        return self.model.device

    # ------------------------------------------------------------------------------------------------ prompt pass

    def prefill(self, input_ids: list[int], pixels, grid_thw, capacity: int, all_logits: bool = False):
        """One prompt. Returns (logits, DecodeState): logits [1, V] of the last token, or [1, L, V]."""
        return self.prefill_batch([Prompt(input_ids, grid_thw)], pixels, capacity, all_logits)

    def prefill_batch(self, prompts: list[Prompt], pixels, capacity: int, all_logits: bool = False,
                      keep_prompt: bool = False):
        """Prefill several prompts into one left-padded batch cache; pixels hold every image in prompt order.

        Each prompt runs on its own, exactly as a single request would, writing its keys and values right-aligned
        in its cache row: no compute is spent on padding, and activations exist for one prompt at a time.
        ``keep_prompt`` (one prompt only) keeps the prompt's embeddings, positions and hidden states for the MTP
        drafter; ``all_logits`` (one prompt only) returns logits for every prompt position.
        """
        kernel_choice.wait()  # every request of a process runs with the one kernel choice
        plane_rows.wait()
        length = max(len(p.ids) for p in prompts)
        pads = [length - len(p.ids) for p in prompts]
        cache = self.new_cache(len(prompts), capacity)
        features = self._features_by_prompt(pixels, prompts)  # one vision pass for every image of the batch
        rows = [self._prefill_row(prompt, part, cache.row(b, pads[b]), all_logits)
                for b, (prompt, part) in enumerate(zip(prompts, features))]
        for b, pad in enumerate(pads):
            cache.clear_slots(b, pad)
        cache.length = length
        offsets = torch.tensor([delta - pad for (_, delta, _), pad in zip(rows, pads)], device=self.device)
        logits = torch.cat([row_logits for row_logits, _, _ in rows])
        state = DecodeState(cache, offsets, self._key_mask(pads, capacity), rows[0][2] if keep_prompt else None)
        return logits, state

    def _prefill_row(self, prompt: Prompt, features, cache: KVCache, all_logits: bool):
        """(logits, rope delta, (embeds, positions, hidden)) of one prompt."""
        model = self.model
        ids = torch.tensor([prompt.ids], device=self.device)
        positions, delta = mrope_positions(prompt.ids, model.cfg.image_token_id, prompt.grids,
                                           model.cfg.vision.spatial_merge_size)
        positions = positions[:, None].to(self.device)
        embeds = model.embed_prompt(ids, features)
        hidden = model.hidden_states(embeds, positions, cache)
        logits = model.lm_head(hidden if all_logits else hidden[:, -1])
        return logits, delta, (embeds, positions, hidden)

    def _features_by_prompt(self, pixels, prompts: list[Prompt]) -> list:
        features = self.model.image_features(pixels, [g for p in prompts for g in p.grids])
        if features is None:
            return [None] * len(prompts)
        merge = self.model.cfg.vision.spatial_merge_size ** 2
        counts = [sum(t * h * w for t, h, w in p.grids) // merge for p in prompts]
        return [part if len(part) else None for part in features.split(counts)]

    def _key_mask(self, pads: list[int], capacity: int) -> torch.Tensor | None:
        if not any(pads):
            return None  # the common single-prompt case keeps the fused causal kernels
        slots = torch.arange(capacity, device=self.device)
        return slots[None, :] >= torch.tensor(pads, device=self.device)[:, None]

    # ------------------------------------------------------------------------------------------------ decoding

    def decode(self, token_ids: torch.Tensor, state: DecodeState) -> torch.Tensor:
        """token_ids [B, n] appended after the cache -> logits [B, n, V]."""
        if token_ids.shape[1] == 1 and self.decode_step != "dynamic":
            logits = self._static_decoder(state).decode(token_ids, state)
            self._after_static_step(state)
            return logits
        return self.model.lm_head(self.decode_hidden(token_ids, state))

    def _static_decoder(self, state: DecodeState) -> GraphDecoder:
        if state.step is None or not state.step.matches(state):
            state.step = GraphDecoder(self.model, state, capture=self.decode_step == "cuda-graph")
        return state.step

    def _after_static_step(self, state: DecodeState) -> None:
        if self.decode_step == "cuda-graph" and state.step.mode != "cuda-graph":
            self.decode_step = "static"  # a capture failed (logged once); later requests do not retry it

    def decode_hidden(self, token_ids: torch.Tensor, state: DecodeState) -> torch.Tensor:
        batch, n = token_ids.shape
        start = state.cache.length
        slots = torch.arange(start, start + n, device=self.device)
        positions = (slots[None, :] + state.offsets[:, None]).expand(3, batch, n)
        mask = None if state.key_mask is None else state.key_mask[:, None, None, : start + n]
        return self.model.hidden_states(self.model.language_model.embed(token_ids), positions, state.cache, mask)

    def new_cache(self, batch: int, capacity: int, layers: int | None = None) -> KVCache:
        """A cache for ``layers`` decoder layers (default: all of them; the MTP drafter keeps a one-layer cache)."""
        t = self.model.cfg.text
        return KVCache(t.num_hidden_layers if layers is None else layers, batch, t.num_key_value_heads, t.head_dim,
                       capacity, self.model.dtype, self.device)
