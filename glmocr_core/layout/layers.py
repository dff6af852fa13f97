"""Small blocks shared by the layout model's parts: batch norms with frozen statistics, convolution + norm +
activation, the prediction MLP, and the activation table. Parameter names are the checkpoint's."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

# In place: every activation here is applied to a fresh intermediate (same values, one large allocation fewer).
# gelu is the exact (erf) form, as the reference's.
ACTIVATIONS: dict[str | None, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": lambda x: F.relu(x, inplace=True), "silu": lambda x: F.silu(x, inplace=True), "gelu": F.gelu,
    None: lambda x: x,
}


def activation(name: str | None) -> Callable[[torch.Tensor], torch.Tensor]:
    if name not in ACTIVATIONS:
        raise ValueError(f"unsupported activation {name!r}")
    return ACTIVATIONS[name]


class BatchNorm2d(nn.Module):
    """Inference batch norm: the four tensors of nn.BatchNorm2d (``num_batches_tracked`` is never read, so it is
    neither kept nor required)."""

    def __init__(self, channels: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels), requires_grad=False)
        self.bias = nn.Parameter(torch.zeros(channels), requires_grad=False)
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_var", torch.ones(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, C, H, W]
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps)


class FrozenBatchNorm2d(BatchNorm2d):
    """The backbone's norm: the reference replaces its batch norms by this scale-and-shift form (same tensors,
    eps 1e-5 fixed); computed the same way so the two agree to the last bit. It overwrites its input, which is
    always a convolution's fresh output."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, C, H, W]
        scale = self.weight.reshape(1, -1, 1, 1) * (self.running_var.reshape(1, -1, 1, 1) + 1e-5).rsqrt()
        shift = self.bias.reshape(1, -1, 1, 1) - self.running_mean.reshape(1, -1, 1, 1) * scale
        return x.mul_(scale).add_(shift)


class ConvNormLayer(nn.Module):
    """conv (no bias) -> norm -> activation, named ``conv`` / ``norm`` (the hybrid encoder's blocks)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, eps: float, act: str | None = None,
                 padding: int | None = None):
        super().__init__()
        padding = (kernel - 1) // 2 if padding is None else padding
        self.conv = nn.Conv2d(cin, cout, kernel, stride, padding=padding, bias=False)
        self.norm = BatchNorm2d(cout, eps)
        self.act = activation(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(self.conv(x)))


class ConvLayer(nn.Module):
    """conv (no bias, padding k//2) -> norm -> activation, named ``convolution`` / ``normalization`` (the mask
    branch's blocks)."""

    def __init__(self, cin: int, cout: int, kernel: int, act: str | None = "silu"):
        super().__init__()
        self.convolution = nn.Conv2d(cin, cout, kernel, 1, padding=kernel // 2, bias=False)
        self.normalization = BatchNorm2d(cout)
        self.act = activation(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.normalization(self.convolution(x)))


class PredictionHead(nn.Module):
    """MLP with ReLU between its ``layers`` (box, query-position and mask-query heads)."""

    def __init__(self, cin: int, hidden: int, cout: int, num_layers: int):
        super().__init__()
        sizes = [cin] + [hidden] * (num_layers - 1) + [cout]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(sizes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers[:-1]:
            x = F.relu(layer(x))
        return self.layers[-1](x)


def projection(cin: int, cout: int, eps: float, kernel: int = 1, stride: int = 1) -> nn.Sequential:
    """1x1 (or strided 3x3) conv + batch norm, named ``0`` / ``1`` (the encoder and decoder input projections)."""
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, padding=(kernel - 1) // 2, bias=False),
                         BatchNorm2d(cout, eps))


def inverse_sigmoid(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    x = x.clamp(min=0, max=1)
    return torch.log(x.clamp(min=eps) / (1 - x).clamp(min=eps))
