"""The whole GLM-OCR network: vision tower + decoder + lm_head, image-feature fusion and M-RoPE tables.

``GlmOcrModel`` owns ``model.visual``, ``model.language_model`` and ``lm_head`` so that its state-dict keys equal the
checkpoint's. It holds weights only: running prompts over KV caches (prefill, decode steps, CUDA graphs) is the
runtime's job (``runtime.decoding``).
"""

from __future__ import annotations

import torch
from torch import nn

from .config import ModelConfig
from .decoder import Cache, TextModel
from .layers import Linear
from .rope import MRope
from .vision import VisionModel


class _Inner(nn.Module):
    def __init__(self, cfg: ModelConfig, with_mtp: bool):
        super().__init__()
        self.visual = VisionModel(cfg.vision)
        self.language_model = TextModel(cfg.text, with_mtp=with_mtp)


class GlmOcrModel(nn.Module):
    def __init__(self, cfg: ModelConfig, with_mtp: bool = False):
        super().__init__()
        self.cfg = cfg
        self.model = _Inner(cfg, with_mtp)
        self.lm_head = Linear(cfg.text.hidden_size, cfg.text.vocab_size, bias=False)
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
        return self.language_model.norm.weight.dtype

    @property
    def device(self) -> torch.device:
        return self.language_model.norm.weight.device

    def set_attention_backend(self, name: str) -> None:
        self.visual.attn_backend = name
        self.language_model.attn_backend = name

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

    def hidden_states(self, embeds: torch.Tensor, positions: torch.Tensor, cache: Cache | None,
                      mask: torch.Tensor | None = None) -> torch.Tensor:
        """embeds [B, L, hidden] at M-RoPE positions [3, B, L] -> final-normed hidden states [B, L, hidden];
        their keys and values go into ``cache`` after what it already holds."""
        cos_sin = self.rope.cos_sin(positions, embeds.dtype)
        return self.language_model(embeds, cos_sin, cache, mask)


def count_parameters(module: nn.Module, skip_prefix: str | None = None) -> int:
    return sum(p.numel() for name, p in module.named_parameters() if not (skip_prefix and name.startswith(skip_prefix)))
