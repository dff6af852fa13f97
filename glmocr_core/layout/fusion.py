"""Inference-time folding of every batch norm into the convolution before it (conv(x) * scale + shift is one conv
with scaled weights and a bias): the backbone alone runs 80 norms over large maps, each a full pass over memory.

Folding changes the arithmetic order, so results move by float rounding (about 1e-6 relative); the unfolded model is
the one that matches the reference bit for bit. Done after loading, so the checkpoint's names are untouched on disk;
the folded model's ``state_dict`` no longer has the norms.
"""

from __future__ import annotations

import torch
from torch import nn

from .layers import BatchNorm2d, FrozenBatchNorm2d

PAIRS = (("convolution", "normalization"), ("conv", "norm"), ("0", "1"))


@torch.no_grad()
def fold_into_conv(conv: nn.Conv2d, norm: BatchNorm2d) -> None:
    eps = 1e-5 if isinstance(norm, FrozenBatchNorm2d) else norm.eps
    scale = norm.weight * (norm.running_var + eps).rsqrt()  # [C_out]
    shift = norm.bias - norm.running_mean * scale
    conv.weight = nn.Parameter(conv.weight * scale.reshape(-1, 1, 1, 1), requires_grad=False)
    bias = shift if conv.bias is None else conv.bias * scale + shift
    conv.bias = nn.Parameter(bias, requires_grad=False)


def fuse_batch_norms(model: nn.Module) -> int:
    """Folds each (conv, norm) child pair in place, replacing the norm by an identity; returns how many."""
    count = 0
    for module in list(model.modules()):
        for conv_name, norm_name in PAIRS:
            conv, norm = getattr(module, conv_name, None), getattr(module, norm_name, None)
            if isinstance(conv, nn.Conv2d) and isinstance(norm, BatchNorm2d):
                fold_into_conv(conv, norm)
                setattr(module, norm_name, nn.Identity())
                count += 1
    return count
