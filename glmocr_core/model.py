"""The whole GLM-OCR model: vision tower + decoder + lm_head, with image-feature fusion and M-RoPE positions.

``GlmOcrModel`` owns ``model.visual``, ``model.language_model`` and ``lm_head`` so that its state-dict keys equal the
checkpoint's. ``prefill_batch`` runs one or more prompts (each on its own) into a fresh left-padded KV cache;
``decode`` runs new tokens on top of it. Positions of cache slot n in row b are ``n + offsets[b]``: the prompt's
rope delta minus its left padding.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .config import ModelConfig
from .language import KVCache, TextModel
from .layers import Linear
from .rope import MRope, mrope_positions
from .vision import VisionModel


class _Inner(nn.Module):
    def __init__(self, cfg: ModelConfig, with_mtp: bool):
        super().__init__()
        self.visual = VisionModel(cfg.vision)
        self.language_model = TextModel(cfg.text, with_mtp=with_mtp)


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
    last_hidden: torch.Tensor  # [B, hidden] final-normed hidden state of each row's last token
    prompt: tuple | None = None  # (embeds, positions, hidden) of the whole prompt, kept only when asked for
    step: object | None = None  # graphs.GraphDecoder bound to this cache, built on the first one-token step

    def select(self, rows: torch.Tensor) -> None:
        """Keep only ``rows`` of the batch (finished rows leave, so they cost nothing more)."""
        self.cache.select(rows)
        self.offsets = self.offsets[rows]
        self.key_mask = None if self.key_mask is None else self.key_mask[rows]
        self.last_hidden = self.last_hidden[rows]
        self.step = None  # bound to the old cache tensors


class GlmOcrModel(nn.Module):
    def __init__(self, cfg: ModelConfig, with_mtp: bool = False):
        super().__init__()
        self.cfg = cfg
        self.model = _Inner(cfg, with_mtp)
        self.lm_head = Linear(cfg.text.hidden_size, cfg.text.vocab_size, bias=False)
        t = cfg.text
        self.rope = MRope(t.head_dim, t.rope_theta, t.mrope_section, t.partial_rotary_factor)
        # How one-token decode steps run: "dynamic" (shapes follow the cache length; best on CPUs), "static"
        # (fixed shapes, eager) or "cuda-graph" (the static step captured once per attention window of a request, then replayed)
        self.decode_step = "dynamic"

    @property
    def visual(self) -> VisionModel:
        return self.model.visual

    @property
    def language_model(self) -> TextModel:
        return self.model.language_model

    @property
    def dtype(self) -> torch.dtype:
        return self.language_model.norm.weight.dtype

    @property
    def device(self) -> torch.device:
        return self.language_model.norm.weight.device

    def set_attention_backend(self, name: str) -> None:
        self.visual.attn_backend = name
        self.language_model.attn_backend = name

    # ------------------------------------------------------------------------------------------------ prompt pass

    def image_features(self, pixels: torch.Tensor | None, grid_thw: list[list[int]]) -> torch.Tensor | None:
        """Merged vision features [sum of image tokens, hidden] of all images, in order, in one vision pass."""
        if pixels is None or not grid_thw:
            return None
        return self.visual(pixels.to(self.device), grid_thw).to(self.dtype)

    def embed_prompt(self, input_ids: torch.Tensor, features: torch.Tensor | None) -> torch.Tensor:
        """Token embeddings [B, L, hidden] with image features written over the image tokens (row-major order)."""
        embeds = self.language_model.embed(input_ids)
        if features is None:
            return embeds
        slots = input_ids == self.cfg.image_token_id
        if int(slots.sum()) != features.shape[0]:
            raise ValueError(f"prompt has {int(slots.sum())} image tokens but the images give {features.shape[0]}")
        return embeds.masked_scatter(slots[..., None], features)

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
        length = max(len(p.ids) for p in prompts)
        pads = [length - len(p.ids) for p in prompts]
        cache = self.new_cache(len(prompts), capacity)
        features = self._features_by_prompt(pixels, prompts)  # one vision pass for every image of the batch
        rows = [self._prefill_row(prompt, part, cache.row(b, pads[b]), all_logits)
                for b, (prompt, part) in enumerate(zip(prompts, features))]
        for b, pad in enumerate(pads):
            cache.clear_slots(b, pad)
        cache.length = length
        offsets = torch.tensor([delta - pad for (_, _, delta, _), pad in zip(rows, pads)], device=self.device)
        logits = torch.cat([row_logits for row_logits, _, _, _ in rows])
        state = DecodeState(cache, offsets, self._key_mask(pads, capacity), torch.cat([h for _, h, _, _ in rows]),
                            rows[0][3] if keep_prompt else None)
        return logits, state

    def _prefill_row(self, prompt: Prompt, features, cache: KVCache, all_logits: bool):
        """(logits, last hidden [1, hidden], rope delta, (embeds, positions, hidden)) of one prompt."""
        ids = torch.tensor([prompt.ids], device=self.device)
        positions, delta = mrope_positions(prompt.ids, self.cfg.image_token_id, prompt.grids,
                                           self.cfg.vision.spatial_merge_size)
        positions = positions[:, None].to(self.device)
        embeds = self.embed_prompt(ids, features)
        hidden = self._run(embeds, positions, cache)
        logits = self.lm_head(hidden if all_logits else hidden[:, -1])
        return logits, hidden[:, -1], delta, (embeds, positions, hidden)

    def _features_by_prompt(self, pixels, prompts: list[Prompt]) -> list:
        features = self.image_features(pixels, [g for p in prompts for g in p.grids])
        if features is None:
            return [None] * len(prompts)
        merge = self.cfg.vision.spatial_merge_size ** 2
        counts = [sum(t * h * w for t, h, w in p.grids) // merge for p in prompts]
        return [part if len(part) else None for part in features.split(counts)]

    def _key_mask(self, pads: list[int], capacity: int) -> torch.Tensor | None:
        if not any(pads):
            return None  # the common single-prompt case keeps the fused causal kernels
        slots = torch.arange(capacity, device=self.device)
        return slots[None, :] >= torch.tensor(pads, device=self.device)[:, None]

    # ------------------------------------------------------------------------------------------------ decoding

    def decode(self, token_ids: torch.Tensor, state: DecodeState) -> torch.Tensor:
        """token_ids [B, n] appended after the cache -> logits [B, n, V]; updates state.last_hidden."""
        if token_ids.shape[1] == 1 and self.decode_step != "dynamic":
            logits = self._static_decoder(state).decode(token_ids, state)
            self._after_static_step(state)
            return logits
        return self.lm_head(self.decode_hidden(token_ids, state))

    def _static_decoder(self, state: DecodeState):
        from .graphs import GraphDecoder

        if state.step is None or not state.step.matches(state):
            state.step = GraphDecoder(self, state, capture=self.decode_step == "cuda-graph")
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
        hidden = self._run(self.language_model.embed(token_ids), positions, state.cache, mask)
        state.last_hidden = hidden[:, -1]
        return hidden

    def _run(self, embeds: torch.Tensor, positions: torch.Tensor, cache: KVCache, mask=None) -> torch.Tensor:
        cos_sin = self.rope.cos_sin(positions, embeds.dtype)
        return self.language_model(embeds, cos_sin, cache, mask)

    def new_cache(self, batch: int, capacity: int) -> KVCache:
        t = self.cfg.text
        return KVCache(t.num_hidden_layers, batch, t.num_key_value_heads, t.head_dim, capacity, self.dtype,
                       self.device)


def count_parameters(module: nn.Module, skip_prefix: str | None = None) -> int:
    return sum(p.numel() for name, p in module.named_parameters() if not (skip_prefix and name.startswith(skip_prefix)))
