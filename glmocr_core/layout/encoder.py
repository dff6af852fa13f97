"""The hybrid encoder (RT-DETR's, plus PP-DocLayoutV3's mask branch).

Self-attention runs on the coarsest map only (AIFI, with 2-D sine positions); a top-down FPN and a bottom-up PAN of
CSP/RepVGG blocks then mix the three maps. The mask branch fuses the PAN maps at stride 8, doubles them to stride 4,
adds the backbone's stride-4 map and projects to ``num_prototypes`` mask prototypes.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .config import LayoutConfig
from .layers import ConvLayer, ConvNormLayer, activation


class SelfAttention(nn.Module):
    """Multi-head attention whose positions are added to queries and keys, not values."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.q_proj, self.k_proj = nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.v_proj, self.out_proj = nn.Linear(dim, dim), nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, pos: torch.Tensor | None) -> torch.Tensor:  # [B, S, D]
        batch, length, dim = x.shape
        qk = x + pos if pos is not None else x
        split = lambda t: t.view(batch, length, self.heads, self.head_dim).transpose(1, 2)
        out = F.scaled_dot_product_attention(split(self.q_proj(qk)), split(self.k_proj(qk)), split(self.v_proj(x)),
                                             scale=self.head_dim**-0.5)  # [B, H, S, hd]
        return self.out_proj(out.transpose(1, 2).reshape(batch, length, dim))


class EncoderLayer(nn.Module):
    def __init__(self, cfg: LayoutConfig):
        super().__init__()
        dim, eps = cfg.encoder_hidden_dim, cfg.layer_norm_eps
        self.pre_norm = cfg.normalize_before
        self.self_attn = SelfAttention(dim, cfg.encoder_attention_heads)
        self.self_attn_layer_norm = nn.LayerNorm(dim, eps=eps)
        self.fc1, self.fc2 = nn.Linear(dim, cfg.encoder_ffn_dim), nn.Linear(cfg.encoder_ffn_dim, dim)
        self.act = activation(cfg.encoder_activation_function)
        self.final_layer_norm = nn.LayerNorm(dim, eps=eps)

    def forward(self, x: torch.Tensor, pos: torch.Tensor | None) -> torch.Tensor:  # [B, S, D]
        norm1 = self.self_attn_layer_norm
        x = x + self.self_attn(norm1(x) if self.pre_norm else x, pos)
        x = x if self.pre_norm else norm1(x)
        y = self.final_layer_norm(x) if self.pre_norm else x
        x = y + self.fc2(self.act(self.fc1(y)))
        return x if self.pre_norm else self.final_layer_norm(x)


@functools.lru_cache(maxsize=16)
def sine_positions(height: int, width: int, dim: int, temperature: float) -> torch.Tensor:
    """[H*W, dim] as [sin(h*w_k) | cos(h*w_k) | sin(w*w_k) | cos(w*w_k)], row-major, computed in float64."""
    quarter = dim // 4
    omega = 1.0 / temperature ** (torch.arange(quarter, dtype=torch.float64) / quarter)
    grid_h, grid_w = torch.meshgrid(torch.arange(height, dtype=torch.float64),
                                    torch.arange(width, dtype=torch.float64), indexing="ij")
    emb_h, emb_w = grid_h.flatten().outer(omega), grid_w.flatten().outer(omega)
    return torch.cat([emb_h.sin(), emb_h.cos(), emb_w.sin(), emb_w.cos()], dim=1)


class AIFI(nn.Module):
    """Attention within one feature map."""

    def __init__(self, cfg: LayoutConfig):
        super().__init__()
        self.dim, self.temperature = cfg.encoder_hidden_dim, cfg.positional_encoding_temperature
        self.with_positions = cfg.eval_size is None  # the reference drops positions at inference when eval_size is set
        self.layers = nn.ModuleList(EncoderLayer(cfg) for _ in range(cfg.encoder_layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, C, H, W]
        batch, _, height, width = x.shape
        pos = None
        if self.with_positions:
            pos = sine_positions(height, width, self.dim, self.temperature).to(x.device, x.dtype).unsqueeze(0)
        seq = x.flatten(2).transpose(1, 2)  # [B, H*W, C]
        for layer in self.layers:
            seq = layer(seq, pos)
        return seq.transpose(1, 2).reshape(batch, self.dim, height, width).contiguous()


class RepVggBlock(nn.Module):
    def __init__(self, cfg: LayoutConfig, channels: int):
        super().__init__()
        eps = cfg.batch_norm_eps
        self.conv1 = ConvNormLayer(channels, channels, 3, 1, eps, padding=1)
        self.conv2 = ConvNormLayer(channels, channels, 1, 1, eps, padding=0)
        self.act = activation(cfg.activation_function)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv1(x) + self.conv2(x))


class CSPRepLayer(nn.Module):
    """Two 1x1 branches of a 2C-channel input; one runs three RepVGG blocks; their sum (projected if needed)."""

    def __init__(self, cfg: LayoutConfig):
        super().__init__()
        out, eps, act = cfg.encoder_hidden_dim, cfg.batch_norm_eps, cfg.activation_function
        hidden = int(out * cfg.hidden_expansion)
        self.conv1 = ConvNormLayer(out * 2, hidden, 1, 1, eps, act)
        self.conv2 = ConvNormLayer(out * 2, hidden, 1, 1, eps, act)
        self.bottlenecks = nn.Sequential(*(RepVggBlock(cfg, hidden) for _ in range(3)))
        self.conv3 = ConvNormLayer(hidden, out, 1, 1, eps, act) if hidden != out else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bottlenecks(self.conv1(x)) + self.conv2(x)
        return self.conv3(y) if self.conv3 is not None else y


class Upsample2x(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


class ScaleHead(nn.Module):
    """conv (+ 2x upsample) repeated until the map reaches the base stride; the upsamples keep their list slots."""

    def __init__(self, cin: int, channels: int, stride: int, base_stride: int):
        super().__init__()
        steps = max(1, int(np.log2(stride) - np.log2(base_stride)))
        layers = []
        for k in range(steps):
            layers.append(ConvLayer(cin if k == 0 else channels, channels, 3))
            if stride != base_stride:
                layers.append(Upsample2x())
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class MaskFeatFPN(nn.Module):
    def __init__(self, cfg: LayoutConfig):
        super().__init__()
        strides = cfg.feat_strides
        self.order = np.argsort(strides, axis=0).tolist()  # finest first
        ordered = [strides[i] for i in self.order]
        feature, out = cfg.mask_feature_channels
        self.scale_heads = nn.ModuleList(ScaleHead(cfg.encoder_hidden_dim, feature, s, ordered[0]) for s in ordered)
        self.output_conv = ConvLayer(feature, out, 3)

    def forward(self, maps: list[torch.Tensor]) -> torch.Tensor:  # finest [B, C, H/8, W/8]
        maps = [maps[i] for i in self.order]
        out = self.scale_heads[0](maps[0])
        for head, x in zip(self.scale_heads[1:], maps[1:]):
            out = out + F.interpolate(head(x), size=out.shape[2:], mode="bilinear", align_corners=False)
        return self.output_conv(out)


class EncoderMaskOutput(nn.Module):
    def __init__(self, channels: int, prototypes: int):
        super().__init__()
        self.base_conv = ConvLayer(channels, channels, 3)
        self.conv = nn.Conv2d(channels, prototypes, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.base_conv(x))


class HybridEncoder(nn.Module):
    def __init__(self, cfg: LayoutConfig):
        super().__init__()
        dim, eps, act = cfg.encoder_hidden_dim, cfg.batch_norm_eps, cfg.activation_function
        stages = len(cfg.encoder_in_channels) - 1  # FPN and PAN steps between the levels
        self.encode_proj_layers = cfg.encode_proj_layers if cfg.encoder_layers > 0 else []
        self.encoder = nn.ModuleList(AIFI(cfg) for _ in cfg.encode_proj_layers)
        self.lateral_convs = nn.ModuleList(ConvNormLayer(dim, dim, 1, 1, eps, act) for _ in range(stages))
        self.fpn_blocks = nn.ModuleList(CSPRepLayer(cfg) for _ in range(stages))
        self.downsample_convs = nn.ModuleList(ConvNormLayer(dim, dim, 3, 2, eps, act) for _ in range(stages))
        self.pan_blocks = nn.ModuleList(CSPRepLayer(cfg) for _ in range(stages))
        self.mask_feature_head = MaskFeatFPN(cfg)
        self.encoder_mask_lateral = ConvLayer(cfg.x4_feat_dim, cfg.mask_feature_channels[1], 3)
        self.encoder_mask_output = EncoderMaskOutput(cfg.mask_feature_channels[1], cfg.num_prototypes)

    def forward(self, maps: list[torch.Tensor], x4: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """maps: projected [B, D, H/s, W/s] for s = 8, 16, 32; x4: the backbone's stride-4 map.
        Returns the PAN maps (same shapes) and the mask prototypes [B, P, H/4, W/4]."""
        maps = list(maps)
        for aifi, level in zip(self.encoder, self.encode_proj_layers):
            maps[level] = aifi(maps[level])
        pan = self._pan(self._fpn(maps))
        mask = F.interpolate(self.mask_feature_head(pan), scale_factor=2, mode="bilinear", align_corners=False)
        return pan, self.encoder_mask_output(mask + self.encoder_mask_lateral(x4))

    def _fpn(self, maps: list[torch.Tensor]) -> list[torch.Tensor]:
        """Top-down: coarsest first, each lateral-projected, doubled and fused with the next finer map."""
        fpn = [maps[-1]]
        for idx, (lateral, block) in enumerate(zip(self.lateral_convs, self.fpn_blocks)):
            fpn[-1] = lateral(fpn[-1])
            up = F.interpolate(fpn[-1], scale_factor=2.0, mode="nearest")
            fpn.append(block(torch.cat([up, maps[len(self.lateral_convs) - idx - 1]], dim=1)))
        return fpn[::-1]

    def _pan(self, fpn: list[torch.Tensor]) -> list[torch.Tensor]:
        """Bottom-up: finest first, each strided down and fused with the next coarser FPN map."""
        pan = [fpn[0]]
        for idx, (down, block) in enumerate(zip(self.downsample_convs, self.pan_blocks)):
            pan.append(block(torch.cat([down(pan[-1]), fpn[idx + 1]], dim=1)))
        return pan
