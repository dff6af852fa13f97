"""The whole GLM-OCR model: vision tower + decoder + lm_head, with image-feature fusion and M-RoPE positions.

``GlmOcrModel`` owns ``model.visual``, ``model.language_model`` and ``lm_head`` so that its state-dict keys equal the
checkpoint's. ``prefill`` runs a prompt (with images) into a fresh KV cache; ``decode`` runs new tokens on top of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .config import ModelConfig
from .language import KVCache, TextModel
from .rope import MRope, mrope_positions
from .vision import VisionModel


class _Inner(nn.Module):
    def __init__(self, cfg: ModelConfig, with_mtp: bool):
        super().__init__()
        self.visual = VisionModel(cfg.vision)
        self.language_model = TextModel(cfg.text, with_mtp=with_mtp)


@dataclass
class PrefillState:
    """What decoding needs after a prefill: the cache and where positions continue."""

    cache: KVCache
    rope_delta: int
    last_hidden: torch.Tensor  # [B, hidden] final-normed hidden state of the last prompt token


class GlmOcrModel(nn.Module):
    def __init__(self, cfg: ModelConfig, with_mtp: bool = False):
        super().__init__()
        self.cfg = cfg
        self.model = _Inner(cfg, with_mtp)
        self.lm_head = nn.Linear(cfg.text.hidden_size, cfg.text.vocab_size, bias=False)
        t = cfg.text
        self.rope = MRope(t.head_dim, t.rope_theta, t.mrope_section, t.partial_rotary_factor)

    @property
    def visual(self) -> VisionModel:
        return self.model.visual

    @property
    def language_model(self) -> TextModel:
        return self.model.language_model

    @property
    def dtype(self) -> torch.dtype:
        return self.lm_head.weight.dtype

    @property
    def device(self) -> torch.device:
        return self.lm_head.weight.device

    def set_attention_backend(self, name: str) -> None:
        self.visual.attn_backend = name
        self.language_model.attn_backend = name

    # ------------------------------------------------------------------------------------------------ prompt pass

    def embed_prompt(self, input_ids: torch.Tensor, pixels: torch.Tensor | None, grid_thw: list[list[int]]):
        """Token embeddings [1, L, hidden] with the merged image features written over the image tokens."""
        embeds = self.language_model.embed_tokens(input_ids)
        if pixels is None or not grid_thw:
            return embeds
        features = self.visual(pixels.to(self.device), grid_thw).to(embeds.dtype)
        slots = input_ids == self.cfg.image_token_id
        if int(slots.sum()) != features.shape[0]:
            raise ValueError(f"prompt has {int(slots.sum())} image tokens but the images give {features.shape[0]}")
        return embeds.masked_scatter(slots[..., None], features)

    def prefill(self, input_ids: list[int], pixels, grid_thw, capacity: int, all_logits: bool = False):
        """Run the prompt. Returns (logits, PrefillState): logits [1, V] of the last token, or [1, L, V]."""
        ids = torch.tensor([input_ids], device=self.device)
        positions, delta = mrope_positions(input_ids, self.cfg.image_token_id, grid_thw,
                                           self.cfg.vision.spatial_merge_size)
        embeds = self.embed_prompt(ids, pixels, grid_thw)
        cache = self.new_cache(1, capacity)
        hidden = self._run(embeds, positions[:, None].to(self.device), cache)
        logits = self.lm_head(hidden if all_logits else hidden[:, -1])
        return logits, PrefillState(cache, delta, hidden[:, -1])

    def decode(self, token_ids: torch.Tensor, state: PrefillState) -> torch.Tensor:
        """token_ids [B, n] appended after the cache -> logits [B, n, V]; updates state.last_hidden."""
        hidden = self.decode_hidden(token_ids, state)
        return self.lm_head(hidden)

    def decode_hidden(self, token_ids: torch.Tensor, state: PrefillState) -> torch.Tensor:
        n = token_ids.shape[1]
        start = state.cache.length + state.rope_delta
        positions = torch.arange(start, start + n, device=self.device).expand(3, token_ids.shape[0], n)
        hidden = self._run(self.language_model.embed_tokens(token_ids), positions, state.cache)
        state.last_hidden = hidden[:, -1]
        return hidden

    def _run(self, embeds: torch.Tensor, positions: torch.Tensor, cache: KVCache) -> torch.Tensor:
        cos_sin = self.rope.cos_sin(positions, embeds.dtype)
        return self.language_model(embeds, cos_sin, cache)

    def new_cache(self, batch: int, capacity: int) -> KVCache:
        t = self.cfg.text
        return KVCache(t.num_hidden_layers, batch, t.num_key_value_heads, t.head_dim, capacity, self.dtype,
                       self.device)


def count_parameters(module: nn.Module, skip_prefix: str | None = None) -> int:
    return sum(p.numel() for name, p in module.named_parameters() if not (skip_prefix and name.startswith(skip_prefix)))
