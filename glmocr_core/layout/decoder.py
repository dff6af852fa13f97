"""The DETR decoder with multi-scale deformable cross-attention (Deformable DETR / RT-DETR semantics).

Each query holds a box (cx, cy, w, h in [0, 1]); its cross-attention reads ``n_points`` bilinear samples per head
and level around the box centre, offset in units of the box size, and each layer refines the box.

Sampling semantics, as the reference's pure-PyTorch path: locations in [0, 1] map to grid_sample's [-1, 1] by
2x - 1 with ``align_corners=False`` (0 and 1 are the outer edges of the border pixels, pixel centres at
(i + 0.5) / size), bilinear, zeros outside the map. The value tensor is laid out per level as
[B * heads, head_dim, h, w] (channels of one head together), levels in the order of the flattened memory.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import LayoutConfig
from .encoder import SelfAttention
from .layers import PredictionHead, activation, inverse_sigmoid


def deformable_sample(value: torch.Tensor, shapes: list[tuple[int, int]], locations: torch.Tensor,
                      weights: torch.Tensor) -> torch.Tensor:
    """value [B, S, H, hd] (levels concatenated along S), locations [B, Q, H, L, P, 2] in [0, 1] (x, y),
    weights [B, Q, H, L, P] -> [B, Q, H * hd]. Sampled in float32 (CPU grid_sample gives NaNs in bfloat16)."""
    dtype = value.dtype
    value, locations, weights = value.float(), locations.float(), weights.float()
    batch, _, heads, head_dim = value.shape
    _, queries, _, levels, points, _ = locations.shape
    grids = 2 * locations - 1
    samples = []
    for level, part in enumerate(value.split([h * w for h, w in shapes], dim=1)):
        height, width = shapes[level]
        part = part.flatten(2).transpose(1, 2).reshape(batch * heads, head_dim, height, width)
        grid = grids[:, :, :, level].transpose(1, 2).flatten(0, 1)  # [B * H, Q, P, 2]
        samples.append(F.grid_sample(part, grid, mode="bilinear", padding_mode="zeros", align_corners=False))
    weights = weights.transpose(1, 2).reshape(batch * heads, 1, queries, levels * points)
    out = (torch.stack(samples, dim=-2).flatten(-2) * weights).sum(-1)  # [B * H, hd, Q]
    return out.view(batch, heads * head_dim, queries).transpose(1, 2).contiguous().to(dtype)


class MultiscaleDeformableAttention(nn.Module):
    def __init__(self, cfg: LayoutConfig):
        super().__init__()
        dim, heads = cfg.d_model, cfg.decoder_attention_heads
        self.heads, self.levels, self.points = heads, cfg.num_feature_levels, cfg.decoder_n_points
        self.sampling_offsets = nn.Linear(dim, heads * self.levels * self.points * 2)
        self.attention_weights = nn.Linear(dim, heads * self.levels * self.points)
        self.value_proj = nn.Linear(dim, dim)
        self.output_proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, pos: torch.Tensor, memory: torch.Tensor, boxes: torch.Tensor,
                shapes: list[tuple[int, int]]) -> torch.Tensor:
        """x, pos [B, Q, D]; memory [B, S, D]; boxes [B, Q, 1, 4] (cx, cy, w, h) -> [B, Q, D]."""
        batch, queries, _ = x.shape
        x = x + pos
        value = self.value_proj(memory).view(batch, memory.shape[1], self.heads, -1)
        grid = (batch, queries, self.heads, self.levels, self.points)
        offsets = self.sampling_offsets(x).view(*grid, 2)
        weights = F.softmax(self.attention_weights(x).view(*grid[:3], -1), -1).view(*grid)
        boxes = boxes[:, :, None, :, None, :]
        locations = boxes[..., :2] + offsets / self.points * boxes[..., 2:] * 0.5
        return self.output_proj(deformable_sample(value, shapes, locations, weights))


class DecoderLayer(nn.Module):
    def __init__(self, cfg: LayoutConfig):
        super().__init__()
        dim, eps = cfg.d_model, cfg.layer_norm_eps
        self.self_attn = SelfAttention(dim, cfg.decoder_attention_heads)
        self.self_attn_layer_norm = nn.LayerNorm(dim, eps=eps)
        self.encoder_attn = MultiscaleDeformableAttention(cfg)
        self.encoder_attn_layer_norm = nn.LayerNorm(dim, eps=eps)
        self.fc1, self.fc2 = nn.Linear(dim, cfg.decoder_ffn_dim), nn.Linear(cfg.decoder_ffn_dim, dim)
        self.act = activation(cfg.decoder_activation_function)
        self.final_layer_norm = nn.LayerNorm(dim, eps=eps)

    def forward(self, x: torch.Tensor, pos: torch.Tensor, memory: torch.Tensor, boxes: torch.Tensor,
                shapes: list[tuple[int, int]]) -> torch.Tensor:  # [B, Q, D]
        x = self.self_attn_layer_norm(x + self.self_attn(x, pos))
        x = self.encoder_attn_layer_norm(x + self.encoder_attn(x, pos, memory, boxes, shapes))
        return self.final_layer_norm(x + self.fc2(self.act(self.fc1(x))))


class Decoder(nn.Module):
    """The layers and the query-position MLP. The box head is passed in (``bbox_embed``), because with
    ``tie_word_embeddings`` it is the encoder's box head and the checkpoint stores it once."""

    def __init__(self, cfg: LayoutConfig):
        super().__init__()
        self.layers = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg.decoder_layers))
        self.query_pos_head = PredictionHead(4, 2 * cfg.d_model, cfg.d_model, num_layers=2)

    def forward(self, queries: torch.Tensor, boxes_unact: torch.Tensor, memory: torch.Tensor,
                shapes: list[tuple[int, int]], bbox_embed: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
        """queries [B, Q, D], boxes_unact [B, Q, 4] (logits) -> last hidden state [B, Q, D], boxes [B, Q, 4]."""
        boxes = torch.sigmoid(boxes_unact)
        for layer in self.layers:
            queries = layer(queries, self.query_pos_head(boxes), memory, boxes.unsqueeze(2), shapes)
            boxes = torch.sigmoid(bbox_embed(queries) + inverse_sigmoid(boxes))
        return queries, boxes
