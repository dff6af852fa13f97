"""Rotary position embeddings: the vision tower's 2-D axial RoPE (NeoX half-split) and the decoder's 3-D M-RoPE
(interleaved pairs), plus the M-RoPE position ids of a multimodal prompt.

The arithmetic order follows the reference exactly (angles in fp32, then cos/sin), because parity is tested to 1e-4.
"""

from __future__ import annotations

import torch


def inverse_frequencies(dim: int, theta: float) -> torch.Tensor:
    # [dim/2] fp32
    # always on the CPU: models are built under torch.device("meta"), and these are data, not parameters
    return 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.float, device="cpu") / dim))


# ----------------------------------------------------------------------------------------------------------- vision


def vision_patch_positions(grid_thw: list[list[int]], merge: int, device=None) -> torch.Tensor:
    """(row, col) of every patch on its image's patch grid, in the block-major order of the pixel rows: [N, 2]."""
    parts = []
    for t, h, w in grid_thw:
        rows = torch.arange(h, device=device)[:, None].expand(h, w)
        cols = torch.arange(w, device=device)[None, :].expand(h, w)
        block = (h // merge, merge, w // merge, merge)
        rows = rows.reshape(block).transpose(1, 2).flatten()
        cols = cols.reshape(block).transpose(1, 2).flatten()
        parts.append(torch.stack([rows, cols], dim=-1).repeat(t, 1))
    return torch.cat(parts)


def vision_cos_sin(positions: torch.Tensor, head_dim: int, theta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """positions [N, 2] -> cos, sin [N, head_dim] in fp32: row angles then column angles, duplicated for rotate_half."""
    inv = inverse_frequencies(head_dim // 2, theta).to(positions.device)
    angles = positions[..., None].float() * inv  # [N, 2, head_dim/4]
    angles = torch.cat([angles[:, 0], angles[:, 1]], dim=-1)
    angles = torch.cat([angles, angles], dim=-1)
    return angles.cos(), angles.sin()


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_vision_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x [N, H, D]; rotation computed in fp32 and cast back, as the reference does."""
    dtype = x.dtype
    x = x.float()
    cos, sin = cos[:, None, :], sin[:, None, :]
    return (x * cos + rotate_half(x) * sin).to(dtype)


# ------------------------------------------------------------------------------------------------------------- text


class MRope:
    """cos/sin tables of the decoder's multimodal RoPE for given 3-axis positions."""

    def __init__(self, head_dim: int, theta: float, sections: list[int], partial_factor: float = 1.0):
        self.inv_freq = inverse_frequencies(int(head_dim * partial_factor), theta)
        self.sections = list(sections)

    def cos_sin(self, positions: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """positions [3, B, L] (t, h, w) -> cos, sin [B, L, D] in ``dtype``."""
        if self.inv_freq.device != positions.device:
            self.inv_freq = self.inv_freq.to(positions.device)  # once: a captured CUDA graph cannot copy from host
        angles = positions[..., None].float() * self.inv_freq  # [3, B, L, D/2]
        cos, sin = self._by_section(angles.cos()), self._by_section(angles.sin())
        return cos.to(dtype), sin.to(dtype)

    def _by_section(self, table: torch.Tensor) -> torch.Tensor:
        # frequency band j takes the t, h or w axis by section, then each angle covers an interleaved pair
        chunks = table.split(self.sections, dim=-1)
        mixed = torch.cat([chunk[i % 3] for i, chunk in enumerate(chunks)], dim=-1)
        return mixed.repeat_interleave(2, dim=-1)


def rotate_pairs(x: torch.Tensor) -> torch.Tensor:
    # (x0, x1, x2, x3, ...) -> (-x1, x0, -x3, x2, ...)
    return torch.stack((-x[..., 1::2], x[..., 0::2]), dim=-1).flatten(-2)


def apply_text_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x [B, H, L, D], cos/sin [B, L, D]; only the first cos.shape[-1] dims rotate (partial rotary)."""
    cos, sin = cos[:, None], sin[:, None]
    width = cos.shape[-1]
    rotated = x[..., :width] * cos + rotate_pairs(x[..., :width]) * sin
    return rotated if width == x.shape[-1] else torch.cat([rotated, x[..., width:]], dim=-1)


def mrope_positions(input_ids: list[int], image_token_id: int, grids: list[list[int]], merge: int):
    """3-axis positions [3, L] of one unpadded prompt and its rope delta (max position + 1 - L).

    Text tokens advance all three axes together; an image run of (t, h/merge, w/merge) tokens is laid out on its
    merged grid starting at the current position and then advances the position by max(h, w)/merge.
    """
    pieces, cur, grid_iter, i = [], 0, iter(grids), 0
    while i < len(input_ids):
        j = i
        is_image = input_ids[i] == image_token_id
        while j < len(input_ids) and (input_ids[j] == image_token_id) == is_image:
            j += 1
        if is_image:
            t, h, w = next(grid_iter)
            pieces.append(_image_positions(cur, t, h // merge, w // merge))
            cur += max(h, w) // merge
        else:
            pieces.append(torch.arange(cur, cur + j - i).expand(3, -1))
            cur += j - i
        i = j
    positions = torch.cat(pieces, dim=1)
    return positions, int(positions.max()) + 1 - len(input_ids)


def _image_positions(start: int, t: int, h: int, w: int) -> torch.Tensor:
    tt, hh, ww = torch.meshgrid(torch.arange(t), torch.arange(h), torch.arange(w), indexing="ij")
    return torch.stack([tt, hh, ww]).reshape(3, -1) + start
