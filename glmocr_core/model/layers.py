"""Small building blocks shared by the vision tower and the decoder."""

from __future__ import annotations

import functools
import platform

import torch
import torch.nn.functional as F
from torch import nn


class RMSNorm(nn.Module):
    """Normalizes in fp32, casts back, then scales (the reference's order, kept for bit-level parity)."""

    def __init__(self, size: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(size))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        x = x.float()
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x.to(dtype)


SKINNY_ROWS = 16


class Linear(nn.Linear):
    """nn.Linear whose product goes through :func:`linear`, which picks the fastest exact fp32 kernel for the
    number of rows. Weights stored narrower than the input (see checkpoint.loading.NARROW_STORED) are upcast at use."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return linear(x, compute_weight(self.weight, x.dtype), self.bias)


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """x @ weight^T + bias in the input's dtype, with the fp32 CPU kernel that measured fastest
    (bench/findings.md, "CPU kernels"):

    - x86 with oneDNN: oneDNN's fp32 linear for every row count. On this model's shapes it runs prefill GEMMs
      1.2-1.4x faster than MKL's, streams the weights of one-row decode ~1.4x faster than MKL's matrix-vector
      product, and decodes a batch of 8 regions ~1.4x faster than the (W @ x^T) trick below. Same fp32
      arithmetic, only the summation order differs (errors against fp64 are no larger than MKL's).
    - other CPUs, 2-16 rows: (W @ x^T)^T, which MKL and similar BLAS run 2.5-3x faster than x @ W^T.
    - everything else (GPUs, other dtypes): F.linear.
    """
    rows = x.numel() // x.shape[-1] if x.shape[-1] else 0
    if x.device.type != "cpu" or x.dtype != torch.float32 or rows == 0:
        return F.linear(x, weight, bias)
    flat = x.reshape(rows, x.shape[-1])
    if onednn_linear_available():
        out = torch.ops.mkldnn._linear_pointwise(flat.contiguous(), weight.contiguous(), bias, "none", [], "")
    elif 1 < rows <= SKINNY_ROWS:
        out = torch.matmul(weight, flat.t()).t()
        out = out + bias if bias is not None else out
    else:
        out = F.linear(flat, weight, bias)
    return out.reshape(*x.shape[:-1], weight.shape[0])


@functools.cache
def onednn_linear_available() -> bool:
    """Whether torch's oneDNN fp32 linear can be used: an x86 CPU (where it was measured to win) and a torch
    built with oneDNN that accepts the call (checked once on a tiny product against F.linear)."""
    if platform.machine().lower() not in ("x86_64", "amd64") or not torch.backends.mkldnn.is_available():
        return False
    try:
        # fixed values: a probe must not draw from the global random generator that seeded callers rely on
        x = torch.linspace(-1.0, 1.0, 17 * 8).reshape(17, 8)
        w, b = torch.linspace(-0.5, 0.5, 4 * 8).reshape(4, 8), torch.linspace(-0.1, 0.1, 4)
        out = torch.ops.mkldnn._linear_pointwise(x, w, b, "none", [], "")
    except (RuntimeError, AttributeError):
        return False
    return bool(torch.allclose(out, F.linear(x, w, b), atol=1e-5, rtol=1e-5))


def compute_weight(weight: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """The weight in the compute dtype. Weights that are only used during prefill may be kept in the checkpoint's
    bf16 (see checkpoint.loading.NARROW_STORED): the upcast gives exactly the fp32 values, block by block, for half the memory."""
    return weight if weight.dtype == dtype else weight.to(dtype)


class GatedMLP(nn.Module):
    """down(act(gate(x)) * up(x)) with separate gate/up projections (vision blocks and the merger)."""

    def __init__(self, dim: int, hidden: int, bias: bool):
        super().__init__()
        self.gate_proj = Linear(dim, hidden, bias=bias)
        self.up_proj = Linear(dim, hidden, bias=bias)
        self.down_proj = Linear(hidden, dim, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Embedding(nn.Embedding):
    """nn.Embedding without its random init: weights always come from a checkpoint (or the synthetic builder), and
    on the meta device the init alone would import torch's compiler stack, ~2 s of every model load."""

    def reset_parameters(self) -> None:
        pass


def check_activation(name: str) -> None:
    if name != "silu":
        raise ValueError(f"unsupported hidden_act {name!r}; GLM-OCR uses 'silu'")
