"""The heads PP-DocLayoutV3 adds to RT-DETR: mask prototypes x mask queries, boxes read off masks, and the
global-pointer reading-order head; plus the encoder's anchor grid."""

from __future__ import annotations

import functools

import torch
from torch import nn


class GlobalPointer(nn.Module):
    """Pairwise order logits: entry (i, j) scores "i is read before j"; the lower triangle and the diagonal are
    masked to -1e4 (each pair is scored once)."""

    def __init__(self, dim: int, head_size: int):
        super().__init__()
        self.head_size = head_size
        self.dense = nn.Linear(dim, head_size * 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, Q, D] -> [B, Q, Q]
        batch, length, _ = x.shape
        queries, keys = self.dense(x).reshape(batch, length, 2, self.head_size).unbind(dim=2)
        logits = (queries @ keys.transpose(-2, -1)) / (self.head_size**0.5)
        lower = torch.tril(torch.ones(length, length, device=logits.device)).bool()
        return logits.masked_fill(lower.unsqueeze(0), -1e4)


def query_masks(mask_queries: torch.Tensor, prototypes: torch.Tensor) -> torch.Tensor:
    """mask_queries [B, Q, P] x prototypes [B, P, h, w] -> mask logits [B, Q, h, w]."""
    batch, queries, _ = mask_queries.shape
    height, width = prototypes.shape[-2:]
    return torch.bmm(mask_queries, prototypes.flatten(start_dim=2)).reshape(batch, queries, height, width)


def mask_boxes(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Bool masks [B, Q, h, w] -> the boxes around their pixels, (cx, cy, w, h) in [0, 1]; all zeros for an empty
    mask. A pixel (x, y) spans [x, x + 1), so a one-pixel mask is 1/w wide. Read off the mask's row and column
    projections (the same integers as the reference's masked min/max over every pixel, at a fraction of the cost)."""
    height, width = mask.shape[-2:]
    x0, x1 = _first_and_end(mask.any(dim=-2))  # [B, Q] each
    y0, y1 = _first_and_end(mask.any(dim=-1))
    corners = torch.stack([x0, y0, x1, y1], dim=-1).to(dtype)
    x0, y0, x1, y1 = (corners / torch.tensor([width, height, width, height], device=mask.device,
                                             dtype=dtype)).unbind(dim=-1)
    return torch.stack([(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0], dim=-1)


def _first_and_end(hits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """hits [..., n] bool -> index of the first hit and one past the last; (0, 0) where there is none."""
    n = hits.shape[-1]
    index = torch.arange(n, device=hits.device)
    first = torch.where(hits, index, n).min(dim=-1).values
    end = torch.where(hits, index + 1, 0).max(dim=-1).values
    return torch.where(end > 0, first, 0), end


@functools.lru_cache(maxsize=8)
def anchors(shapes: tuple[tuple[int, int], ...], grid_size: float = 0.05, device: str = "cpu",
            dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """One anchor per cell and level: centre of the cell, side ``grid_size * 2**level``, as logits [1, S, 4];
    anchors within 1% of the border are invalid (logit = dtype max) and masked out [1, S, 1]."""
    levels = []
    for level, (height, width) in enumerate(shapes):
        ys, xs = torch.meshgrid(torch.arange(height, device=device).to(dtype),
                                torch.arange(width, device=device).to(dtype), indexing="ij")
        centres = torch.stack([xs, ys], -1).unsqueeze(0) + 0.5
        centres[..., 0] /= width
        centres[..., 1] /= height
        sides = torch.ones_like(centres) * grid_size * (2.0**level)
        levels.append(torch.concat([centres, sides], -1).reshape(-1, height * width, 4))
    grid = torch.concat(levels, 1)
    valid = ((grid > 1e-2) * (grid < 1 - 1e-2)).all(-1, keepdim=True)
    logits = torch.log(grid / (1 - grid))
    return torch.where(valid, logits, torch.full((), torch.finfo(dtype).max, dtype=dtype, device=device)), valid
