"""The vision tower (CogViT): patch embedding, 2-D RoPE blocks with QK-norm, 2x2 downsample and the connector.

Module and parameter names mirror the checkpoint's ``model.visual.*`` keys.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .attention import get_backend, narrow_attention
from .config import VisionConfig
from .layers import GatedMLP, Linear, RMSNorm, check_activation, compute_weight, linear
from .rope import apply_vision_rope, vision_cos_sin, vision_patch_positions


class PatchEmbed(nn.Module):
    def __init__(self, cfg: VisionConfig):
        super().__init__()
        kernel = (cfg.temporal_patch_size, cfg.patch_size, cfg.patch_size)
        self.proj = nn.Conv3d(cfg.in_channels, cfg.hidden_size, kernel_size=kernel, stride=kernel)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        # A stride=kernel conv over one patch is a linear map of the flattened patch: [N, 1176] -> [N, C]
        dtype = self.proj.bias.dtype if self.proj.bias is not None else self.proj.weight.dtype
        weight = compute_weight(self.proj.weight, dtype).view(self.proj.weight.shape[0], -1)
        return linear(pixels.to(dtype), weight, self.proj.bias)


class VisionAttention(nn.Module):
    def __init__(self, cfg: VisionConfig):
        super().__init__()
        self.num_heads = cfg.num_heads
        self.head_dim = cfg.head_dim
        self.qkv = Linear(cfg.hidden_size, 3 * cfg.hidden_size, bias=cfg.attention_bias)
        self.proj = Linear(cfg.hidden_size, cfg.hidden_size, bias=cfg.attention_bias)
        self.q_norm = RMSNorm(self.head_dim, cfg.rms_norm_eps)
        self.k_norm = RMSNorm(self.head_dim, cfg.rms_norm_eps)
        self.products_dtype: torch.dtype | None = None  # fast precision's bf16: narrow attention products

    def forward(self, x: torch.Tensor, cos_sin, seq_lens: list[int], backend: str) -> torch.Tensor:
        n = x.shape[0]
        q, k, v = self.qkv(x).view(n, 3, self.num_heads, self.head_dim).unbind(1)  # each [N, H, D]
        q = apply_vision_rope(self.q_norm(q), *cos_sin)
        k = apply_vision_rope(self.k_norm(k), *cos_sin)
        attend = get_backend(backend) if self.products_dtype is None else self._narrow_attention
        outputs = []
        # Attention never crosses images: one call per image, so no block-diagonal mask is ever built.
        for qi, ki, vi in zip(q.split(seq_lens), k.split(seq_lens), v.split(seq_lens)):
            heads = [t.transpose(0, 1)[None] for t in (qi, ki, vi)]  # [1, H, Ni, D]
            outputs.append(attend(*heads, scale=self.head_dim**-0.5)[0].transpose(0, 1))
        merged = (torch.cat(outputs) if len(outputs) > 1 else outputs[0]).reshape(n, -1)
        if self.products_dtype is not None:  # already narrow: the projection takes it as it is
            return self.proj.narrow_product(merged).to(x.dtype)
        return self.proj(merged)

    def _narrow_attention(self, q, k, v, *, scale: float) -> torch.Tensor:
        return narrow_attention(q, k, v, scale=scale, dtype=self.products_dtype)


class VisionBlock(nn.Module):
    def __init__(self, cfg: VisionConfig):
        super().__init__()
        self.norm1 = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.norm2 = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.attn = VisionAttention(cfg)
        self.mlp = GatedMLP(cfg.hidden_size, cfg.intermediate_size, bias=cfg.attention_bias)

    def forward(self, x, cos_sin, seq_lens, backend):
        x = x + self.attn(self.norm1(x), cos_sin, seq_lens, backend)
        return x + self.mlp(self.norm2(x))


class PatchMerger(nn.Module):
    """The connector: proj -> LayerNorm -> exact GELU -> gated MLP, all without biases but the LayerNorm's."""

    def __init__(self, dim: int, context_dim: int):
        super().__init__()
        self.proj = Linear(dim, dim, bias=False)
        self.post_projection_norm = nn.LayerNorm(dim)
        self.gate_proj = Linear(dim, context_dim, bias=False)
        self.up_proj = Linear(dim, context_dim, bias=False)
        self.down_proj = Linear(context_dim, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.gelu(self.post_projection_norm(self.proj(x)))
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class VisionModel(nn.Module):
    def __init__(self, cfg: VisionConfig):
        super().__init__()
        check_activation(cfg.hidden_act)
        self.cfg = cfg
        self.patch_embed = PatchEmbed(cfg)
        self.blocks = nn.ModuleList(VisionBlock(cfg) for _ in range(cfg.depth))
        self.post_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        merge = cfg.spatial_merge_size
        self.downsample = nn.Conv2d(cfg.hidden_size, cfg.out_hidden_size, kernel_size=merge, stride=merge)
        self.merger = PatchMerger(cfg.out_hidden_size, cfg.out_hidden_size * cfg.in_channels)
        self.attn_backend = "auto"

    def forward(self, pixels: torch.Tensor, grid_thw: list[list[int]]) -> torch.Tensor:
        """pixels [N, C*T*P*P] of all images -> merged image embeddings [N/merge^2, out_hidden]."""
        x = self.patch_embed(pixels)
        positions = vision_patch_positions(grid_thw, self.cfg.spatial_merge_size, device=x.device)
        cos_sin = vision_cos_sin(positions, self.cfg.head_dim, self.cfg.rope_theta)
        seq_lens = [t * h * w for t, h, w in grid_thw]
        for block in self.blocks:
            x = block(x, cos_sin, seq_lens, self.attn_backend)
        return self.merger(self._downsample(self.post_layernorm(x)))

    def _downsample(self, x: torch.Tensor) -> torch.Tensor:
        # Every merge*merge consecutive rows are one window (block-major order): a stride=kernel conv over the
        # window is a linear map of the window's rows concatenated channel-last.
        merge = self.cfg.spatial_merge_size
        weight = compute_weight(self.downsample.weight, x.dtype)
        weight = weight.permute(0, 2, 3, 1).reshape(weight.shape[0], -1)
        windows = x.reshape(-1, merge * merge * x.shape[-1])
        return linear(windows, weight, self.downsample.bias)
