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
NARROW_BLOCK_ELEMENTS = 1 << 18  # fp32 activations per block of the narrow MLP: 1 MB, within a core's L2
ROW_CLASSES = ("one_row", "few_rows", "many_rows")  # one-row decode, a batch of rows, prefill


def row_class(rows: int) -> str:
    return "one_row" if rows == 1 else "few_rows" if rows <= SKINNY_ROWS else "many_rows"


class Linear(nn.Linear):
    """nn.Linear whose product goes through :func:`linear`, which runs the fp32 CPU kernel chosen for the number of
    rows. Weights stored narrower than the input (see checkpoint.loading.NARROW_STORED) are upcast at use.
    ``gemm_dtype`` set (fast precision's bf16 vision): the product alone runs in that dtype, on the weight as stored,
    and its result returns in the input's dtype, so norms, softmax and the residual stream keep their precision."""

    gemm_dtype: torch.dtype | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.gemm_dtype is not None and self.gemm_dtype != x.dtype:
            return self.narrow_product(x.to(self.gemm_dtype)).to(x.dtype)
        return linear(x, compute_weight(self.weight, x.dtype), self.bias)

    def narrow_product(self, narrow: torch.Tensor) -> torch.Tensor:
        """The product of an input already in ``gemm_dtype``, left in it."""
        bias = None if self.bias is None else self.bias.to(self.gemm_dtype)
        return F.linear(narrow, compute_weight(self.weight, self.gemm_dtype), bias)


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """x @ weight^T + bias in the input's dtype. fp32 products on CPUs run the kernel chosen for their row class
    (:func:`use_cpu_kernels`; ``runtime.kernel_choice`` times the candidates on the machine at hand, because the
    winner differs between CPUs); every candidate is the same fp32 arithmetic, only the summation order differs.
    Everything else (GPUs, other dtypes) is F.linear."""
    rows = x.numel() // x.shape[-1] if x.shape[-1] else 0
    if x.device.type != "cpu" or x.dtype != torch.float32 or rows == 0:
        return F.linear(x, weight, bias)
    kind = row_class(rows)
    kernel = FP32_KERNELS[_chosen.get(kind) or default_cpu_kernels()[kind]]
    out = kernel(x.reshape(rows, x.shape[-1]), weight, bias)
    return out.reshape(*x.shape[:-1], weight.shape[0])


def _f_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    return F.linear(x, weight, bias)


def _onednn(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    return torch.ops.mkldnn._linear_pointwise(x.contiguous(), weight.contiguous(), bias, "none", [], "")


def _transposed(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    # (W @ x^T)^T: for a few rows some BLAS libraries run this 2.5-3x faster than x @ W^T
    out = torch.matmul(weight, x.t()).t()
    return out + bias if bias is not None else out


# name -> fp32 kernel (x [rows, in], weight [out, in], bias) -> [rows, out]
FP32_KERNELS = {"f_linear": _f_linear, "onednn": _onednn, "transposed": _transposed}
_chosen: dict[str, str] = {}  # row class -> kernel name, once measured; replaced whole, never mutated in place


def use_cpu_kernels(choice: dict[str, str]) -> None:
    """Run fp32 CPU products of each row class with the named kernels (classes left out keep the default)."""
    global _chosen
    unknown = {name for name in choice.values() if name not in available_cpu_kernels()}
    if unknown or not set(choice) <= set(ROW_CLASSES):
        raise ValueError(f"unknown or unavailable kernels or row classes in {choice}")
    _chosen = dict(choice)


def cpu_kernels() -> dict[str, str]:
    """The kernel each row class runs now."""
    return {**default_cpu_kernels(), **_chosen}


def available_cpu_kernels() -> tuple[str, ...]:
    return tuple(name for name in FP32_KERNELS if name != "onednn" or onednn_linear_available())


@functools.cache
def default_cpu_kernels() -> dict[str, str]:
    """The choice before (or without) a measurement: oneDNN where it exists (it won every row count on the AMD AVX2
    machine it was first measured on), else the (W @ x^T) trick for a few rows and F.linear otherwise."""
    if onednn_linear_available():
        return dict.fromkeys(ROW_CLASSES, "onednn")
    return {"one_row": "f_linear", "few_rows": "transposed", "many_rows": "f_linear"}


@functools.cache
def onednn_linear_available() -> bool:
    """Whether torch's oneDNN fp32 linear can be used: an x86 CPU and a torch built with oneDNN that accepts the
    call (checked once on a tiny product against F.linear)."""
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
        dtype = self.gate_proj.gemm_dtype
        if dtype is not None and dtype != x.dtype and dtype == self.up_proj.gemm_dtype == self.down_proj.gemm_dtype:
            return self._narrow_forward(x, dtype)
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))

    def _narrow_forward(self, x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """The same arithmetic as the plain path with narrow products (silu and the product in fp32 on the narrow
        GEMMs' outputs, rounded once for the down product), by blocks of rows so the fp32 intermediates stay in
        cache: about a third of the plain path's passes over the [rows, hidden] activations, bit for bit."""
        narrow = x.reshape(-1, x.shape[-1]).to(dtype)  # one conversion for both products (the plain path: two)
        gate, up = self.gate_proj.narrow_product(narrow), self.up_proj.narrow_product(narrow)
        hidden = torch.empty_like(gate)
        rows = max(1, NARROW_BLOCK_ELEMENTS // gate.shape[-1])
        for start in range(0, gate.shape[0], rows):
            block = gate[start:start + rows].float()
            hidden[start:start + rows] = F.silu(block, inplace=True).mul_(up[start:start + rows])
        out = self.down_proj.narrow_product(hidden).to(x.dtype)
        return out.reshape(*x.shape[:-1], out.shape[-1])


class Embedding(nn.Embedding):
    """nn.Embedding without its random init: weights always come from a checkpoint (or the synthetic builder), and
    on the meta device the init alone would import torch's compiler stack, ~2 s of every model load."""

    def reset_parameters(self) -> None:
        pass


def check_activation(name: str) -> None:
    if name != "silu":
        raise ValueError(f"unsupported hidden_act {name!r}; GLM-OCR uses 'silu'")
