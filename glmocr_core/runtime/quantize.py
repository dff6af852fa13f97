"""The "fast" CPU precision: the decoder's linears and lm_head hold int8 weights with one scale per group of
``GROUP_SIZE`` inputs (llama.cpp's Q8_0 scheme) and take bf16 activations; norms, the decoder's attention, the
residual stream and the KV cache stay in fp32, and the vision tower's products (its attention's included) run in
bf16 where the CPU has bf16 matrix units (the accuracy study, docs/quant-study.md, decides whether they may).

Why groups: one scale per output row (the previous recipe) lets a few large weights or activations coarsen every
other value of the row; a scale per 32 inputs keeps the error local. Why bf16 activations: quantizing activations to
int8 per call is what outlier channels destroy, while bf16 keeps 8 bits of every value whatever its neighbours do.

How the int8 groups run: torch has no int8-weight product with group scales, but it has a fast one for 4-bit groups
(``aten._weight_int4pack_mm_for_cpu``: bf16 activations, weights widened in registers, fp32 sums). An int8 value
q = 16·h + l − 128 has two 4-bit digits h and l, and with z = 8s/17

    s·q ≈ 16·((h − 8)·s + z) + ((l − 8)·s + z)      (exact up to 17·z − 8·s, at most s/64: z is stored in bf16)

so a product with int8 groups is two 4-bit products sharing one (scale, zero) table: int8's bytes (two 4-bit planes)
read at memory speed, for one-row decode and small batches. Products of many rows (prefill) instead widen the weight
to bf16 (fp32 on CPUs without bf16 matrix units) and run one GEMM: the 4-bit kernel redoes the widening per row
block and is several times slower than a GEMM there. Where one way overtakes the other depends on the CPU (32-64 rows
on an AVX-512 EPYC with bf16 GEMMs), so ``runtime.plane_rows`` times both at the model load and installs the
crossover with :func:`use_plane_rows`. ``bits=4`` keeps one plane with a min/max (scale, zero) per
group: the 4-bit candidate of the study.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import torch
from torch import nn

from ..checkpoint.loading import MappedSafetensors, tensor_locations
from ..checkpoint.weight_cache import cache_file, cache_key, intact, store
from ..errors import ModelError
from ..model.glm_ocr import GlmOcrModel
from ..model.layers import Linear
from ..model.vision import VisionAttention
from .devices import CpuFeatures, fast_recipe

GROUP_SIZE = 32  # inputs per scale, as Q8_0; the 4-bit kernel accepts 32, 64, 128 and 256
GROUP_SIZES = (32, 64, 128, 256)
OUTLIER_RATIO = 6.0  # a norm gain this many times the median marks an outlier channel
MAX_OUTLIER_COLUMNS = 16  # at most ~1% of the real model's 1536 channels stay exact
QUANTIZE_ELEMENTS = 1 << 20  # weights quantized at a time (a few MB of fp32 per step, warm in cache)
DEQUANT_ELEMENTS = 2 << 20  # weights widened at a time for a prefill GEMM (a few MB: reused, not faulted in)
ACTIVATIONS = torch.bfloat16  # what the 4-bit kernel takes fast on every x86 CPU (it widens to fp32 inside)
DEFAULT_PLANE_ROWS = 16  # products of at most this many rows run on the 4-bit kernel until a measurement says more
FAST_CACHE_FORMAT = 3  # bump when the stored form or the recipe changes (3: int8 groups as two 4-bit planes)
log = logging.getLogger(__name__)


def _int4_mm(x: torch.Tensor, packed: torch.Tensor, group: int, scale_zero: torch.Tensor) -> torch.Tensor:
    # looked up at call time: a torch without the op must still import this module (and run exact precision)
    return torch.ops.aten._weight_int4pack_mm_for_cpu(x, packed, group, scale_zero)


_plane_rows = DEFAULT_PLANE_ROWS


def use_plane_rows(rows: int) -> None:
    """Run products of at most ``rows`` rows on the 4-bit kernel and larger ones as a widened GEMM."""
    global _plane_rows
    if rows < 1:
        raise ValueError(f"at least one-row products must run on the 4-bit kernel, not {rows}")
    _plane_rows = rows


def plane_rows() -> int:
    return _plane_rows


class GroupQuantLinear(nn.Module):
    """A frozen replacement for nn.Linear: weights as 4-bit planes in the kernel's packed layout (two for int8,
    one for 4-bit), one (scale, zero) pair per group of inputs and output row, an fp32 bias if any.
    ``from_linear`` quantizes a float linear; the constructor rebuilds one from its stored form (the cache)."""

    def __init__(self, planes: torch.Tensor, scale_zero: torch.Tensor, bias: torch.Tensor | None, group: int,
                 gemm_dtype: torch.dtype = torch.float32, columns: torch.Tensor | None = None,
                 column_weight: torch.Tensor | None = None):
        super().__init__()
        self.bits = 8 if planes.shape[0] == 2 else 4
        self.out_features, self.in_features = planes.shape[1], planes.shape[2] * 2
        self.group, self.gemm_dtype = group, gemm_dtype
        self.register_buffer("planes", planes)  # [1 or 2, out, in/2] uint8, the kernel's packed layout
        self.register_buffer("scale_zero", scale_zero)  # [in/group, out, 2] bf16
        self.register_buffer("bias", bias)
        self.register_buffer("columns", columns)  # [n] long: input columns kept exact, outside the groups
        self.register_buffer("column_weight", column_weight)  # [out, n] fp32
        block = pack_block()
        self.block = block if block and self.out_features % block == 0 else None  # None: no dequantized GEMM

    @classmethod
    def from_linear(cls, linear: nn.Linear, bits: int = 8, group: int = GROUP_SIZE,
                    gemm_dtype: torch.dtype = torch.float32,
                    columns: torch.Tensor | None = None) -> "GroupQuantLinear":
        """``columns``: input columns that see outlier activations; they stay exact (fp32) beside the groups."""
        weight = linear.weight.detach().float()  # read only, unless exact columns are cut out (then a copy)
        column_weight = None
        if columns is not None and len(columns):
            weight = weight.clone()
            column_weight = weight[:, columns].clone()
            weight[:, columns] = 0.0  # out of the groups: their scales follow the ordinary columns
        digits, scale_zero = (int8_digits if bits == 8 else int4_digits)(weight, group)
        planes = torch.stack([_int4_pack(plane) for plane in digits])
        bias = None if linear.bias is None else linear.bias.detach().float().clone()
        kept = None if column_weight is None else columns.clone()
        return cls(planes, scale_zero, bias, group, gemm_dtype, kept, column_weight)

    def stored_parts(self) -> dict[str, torch.Tensor]:
        optional = {"bias": self.bias, "columns": self.columns, "column_weight": self.column_weight}
        return {"planes": self.planes, "scale_zero": self.scale_zero} | {
            name: t for name, t in optional.items() if t is not None}

    @classmethod
    def joined(cls, parts: list["GroupQuantLinear"]) -> "GroupQuantLinear | None":
        """One linear whose output rows are ``parts``' in order. Its group sums are bit for bit theirs (the kernel
        sums each output row on its own); the exact columns' fp32 product may differ in its last bit, as the BLAS
        picks its kernel by the output width. None when they cannot be stacked: different inputs, groups or exact
        columns, or row counts off the packed layout's blocks."""
        first = parts[0]
        block = pack_block()
        if block is None or any(p.out_features % block or p.in_features != first.in_features
                                or (p.group, p.bits, p.gemm_dtype) != (first.group, first.bits, first.gemm_dtype)
                                or (p.bias is None) != (first.bias is None)
                                or not _same_columns(p.columns, first.columns) for p in parts):
            return None

        def stacked(name: str, dim: int) -> torch.Tensor | None:
            tensors = [getattr(p, name) for p in parts]
            return None if tensors[0] is None else torch.cat(tensors, dim=dim)

        return cls(stacked("planes", 1), stacked("scale_zero", 1), stacked("bias", 0), first.group,
                   first.gemm_dtype, first.columns, stacked("column_weight", 0))

    @classmethod
    def probe(cls, out_features: int, in_features: int, gemm_dtype: torch.dtype) -> "GroupQuantLinear":
        """Constant weights of a real shape, for timing (no kernel has a fast path for them)."""
        planes = torch.zeros(2, out_features, in_features // 2, dtype=torch.uint8)
        scale_zero = torch.full((in_features // GROUP_SIZE, out_features, 2), 0.01, dtype=torch.bfloat16)
        return cls(planes, scale_zero, None, GROUP_SIZE, gemm_dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.reshape(-1, self.in_features)
        if rows.shape[0] > _plane_rows and self.block is not None:
            out = self.widened_product(rows.to(self.gemm_dtype)).float()
        else:
            out = self.planes_product(rows.to(ACTIVATIONS).contiguous())
        # In place from here on: out is this call's own fp32 result, and each step rounds as a fresh sum would.
        if self.columns is not None:  # the outlier columns, exactly: their activations are the largest
            out += rows[:, self.columns].float() @ self.column_weight.t()
        out = out.to(x.dtype)
        if self.bias is not None:
            out += self.bias.to(x.dtype)
        return out.reshape(*x.shape[:-1], self.out_features)

    def planes_product(self, x: torch.Tensor) -> torch.Tensor:
        """fp32 x @ W^T (x: bf16 rows) from the 4-bit kernel: one plane, or 16·(high digits) + (low digits) for
        int8."""
        first = _int4_mm(x, self.planes[0], self.group, self.scale_zero).float()
        if self.bits == 4:
            return first
        return first.mul_(16).add_(_int4_mm(x, self.planes[1], self.group, self.scale_zero))

    def widened_product(self, x: torch.Tensor) -> torch.Tensor:
        """x @ W^T (x in ``gemm_dtype``) by slices of output rows: each slice's weight is widened into a few MB
        (reused by the allocator, warm in cache for its GEMM) rather than the whole matrix into fresh pages."""
        blocks = max(1, DEQUANT_ELEMENTS // (self.in_features * self.block))
        return torch.cat([x @ self.dequantized_t(x.dtype, first, first + blocks)
                          for first in range(0, self.out_features // self.block, blocks)], dim=-1)

    def dequantized_t(self, dtype: torch.dtype, first: int = 0, end: int | None = None) -> torch.Tensor:
        """The weight the groups stand for, transposed, for output blocks ``first:end`` (default all):
        [in, rows of those blocks] in ``dtype`` (int8: s·q; 4-bit: (q - 8)·s + z)."""
        k, half = self.in_features, self.block // 2
        total = self.out_features // self.block
        end = total if end is None else min(end, total)
        packed = [plane.view(-1, k, half)[first:end] for plane in self.planes]  # [blocks, in, half] bytes
        if self.bits == 8:
            hi, lo = packed
            first_half, second_half = ((hi & 15) << 4) | (lo & 15), (hi & 0xF0) | (lo >> 4)  # q + 128
            values = torch.cat([first_half, second_half], dim=-1).bitwise_xor_(128).view(torch.int8)
        else:
            values = torch.cat([packed[0] & 15, packed[0] >> 4], dim=-1)
        n = (end - first) * self.block
        values = values.permute(1, 0, 2).reshape(k, n).view(k // self.group, self.group, n)
        table = self.scale_zero[:, first * self.block:end * self.block].to(dtype)
        scale = table[:, None, :, 0].contiguous()
        if self.bits == 8:
            return torch.mul(values, scale).view(k, n)  # int8 x scale: widened and scaled in one pass
        return values.to(dtype).sub_(8).mul_(scale).add_(table[:, None, :, 1]).view(k, n)

    def extra_repr(self) -> str:
        return f"in={self.in_features}, out={self.out_features}, bits={self.bits}, group={self.group}"


def _same_columns(a: torch.Tensor | None, b: torch.Tensor | None) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and torch.equal(a, b))


def int8_digits(weight: torch.Tensor, group: int) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Symmetric int8 per group (q = round(w / s), s = max|w| / 127) as its two 4-bit digits (h, l) and the shared
    (s, 8s/17) table [groups, out, 2] in bf16 (see the module docstring). Rows go in blocks of a few MB, each op in
    place on the block: the same values as whole-matrix ops, without a fresh full-size tensor per step (the first
    fast load quantizes ~580 M weights)."""
    out, k = weight.shape
    scale = torch.empty(out, k // group)
    high, low = (torch.empty(out, k, dtype=torch.int32) for _ in range(2))
    rows = max(1, QUANTIZE_ELEMENTS // k)
    for start in range(0, out, rows):
        grouped = weight[start:start + rows].reshape(-1, k // group, group)
        block_scale = (grouped.abs().amax(dim=-1) / 127.0).clamp(min=1e-12).to(torch.bfloat16).float()
        q = torch.div(grouped, block_scale[..., None]).round_().clamp_(-127, 127).to(torch.int32).view(-1, k)
        q += 128
        torch.bitwise_right_shift(q, 4, out=high[start:start + rows])
        torch.bitwise_and(q, 15, out=low[start:start + rows])
        scale[start:start + rows] = block_scale
    table = torch.stack([scale, scale * 8 / 17], dim=-1).transpose(0, 1).to(torch.bfloat16).contiguous()
    return [high, low], table


def int4_digits(weight: torch.Tensor, group: int) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Asymmetric 4-bit per group: w ≈ (q - 8)·s + z with s = (max - min) / 15, z = min + 8s, in bf16."""
    out, k = weight.shape
    grouped = weight.view(out, k // group, group)
    low, high = grouped.amin(dim=-1), grouped.amax(dim=-1)
    scale = ((high - low) / 15).clamp(min=1e-12).to(torch.bfloat16).float()
    zero = (low + 8 * scale).to(torch.bfloat16).float()
    q = torch.round((grouped - zero[..., None]) / scale[..., None] + 8).clamp(0, 15).to(torch.int32).view(out, k)
    table = torch.stack([scale, zero], dim=-1).transpose(0, 1).to(torch.bfloat16).contiguous()
    return [q], table


def _int4_pack(digits: torch.Tensor) -> torch.Tensor:
    return torch.ops.aten._convert_weight_to_int4pack_for_cpu(digits.to(torch.int32).contiguous(), 1)


@functools.cache
def pack_block() -> int | None:
    """Rows per block of the 4-bit kernel's packed layout on this CPU (64 with AVX-512, 32 with AVX2), found by
    packing a probe; None when the layout is not the known one (then every product uses the kernel itself)."""
    for block in (64, 32, 16):
        probe = torch.zeros(2 * block, 64, dtype=torch.int32)
        probe[block // 2, 0] = 5  # a known layout puts it in the high half of the first byte
        probe[block, 1] = 3  # and the next block's first row one block further on
        try:
            packed = _int4_pack(probe).view(2 * block // block, 64, block // 2)
        except RuntimeError:
            return None
        if packed[0, 0, 0] == 0x50 and packed[1, 1, 0] == 3 and int(packed.count_nonzero()) == 2:
            return block
    return None


@functools.cache
def group_kernel_available() -> bool:
    """Whether this torch has the 4-bit group kernel and it computes what it should (checked once, tiny)."""
    try:
        linear = nn.Linear(64, 32, bias=False)
        with torch.no_grad():
            linear.weight.copy_(torch.linspace(-1, 1, 64 * 32).reshape(32, 64).sin())
        quantized = GroupQuantLinear.from_linear(linear)
        x = torch.linspace(-1, 1, 3 * 64).reshape(3, 64).cos()
        got, expected = quantized(x), linear(x)
    except (RuntimeError, AttributeError, NotImplementedError):
        return False
    return bool((got - expected).abs().max() <= 0.02 * expected.abs().max())


def quantize_targets(model: GlmOcrModel, include_lm_head: bool = True, group: int = GROUP_SIZE) -> list[str]:
    """Qualified names of the linears that fast precision replaces: the decoder layers' (not the MTP layer's) and
    lm_head, where the kernel accepts their shapes."""
    names = []
    for index in range(model.cfg.text.num_hidden_layers):
        prefix = f"model.language_model.layers.{index}"
        names += [f"{prefix}.self_attn.{n}" for n in ("q_proj", "k_proj", "v_proj", "o_proj")]
        names += [f"{prefix}.mlp.{n}" for n in ("gate_up_proj", "down_proj")]
    names += ["lm_head"] if include_lm_head else []
    return [name for name in names if _fits(model.get_submodule(name), group)]


def _fits(linear: nn.Module, group: int) -> bool:
    out, k = linear.weight.shape if hasattr(linear, "weight") else (linear.out_features, linear.in_features)
    return out % 16 == 0 and k % group == 0  # the kernel's packing works on 16-row tiles


def quantize_decoder(model: GlmOcrModel, bits: int = 8, group: int = GROUP_SIZE,
                     gemm_dtype: torch.dtype = torch.float32, include_lm_head: bool = True,
                     keep_outliers: bool = True) -> int:
    """Swap the decoder's linears and lm_head for group-quantized ones in place; returns how many.
    ``keep_outliers``: the input columns of outlier channels (``outlier_columns``) stay exact."""
    targets = quantize_targets(model, include_lm_head, group)
    norms = input_norms(model) if keep_outliers else {}
    for name in targets:
        owner, attr = _owner(model, name)
        columns = outlier_columns(norms[name]) if name in norms else None
        setattr(owner, attr, GroupQuantLinear.from_linear(getattr(owner, attr), bits, group, gemm_dtype, columns))
    return len(targets)


def input_norms(model: GlmOcrModel) -> dict[str, torch.Tensor]:
    """linear name -> the norm weight that scales its input (the linears right after a norm)."""
    norms = {"lm_head": model.language_model.norm.weight}
    for index in range(model.cfg.text.num_hidden_layers):
        prefix = f"model.language_model.layers.{index}"
        layer = model.language_model.layers[index]
        norms |= {f"{prefix}.self_attn.{n}": layer.input_layernorm.weight for n in ("q_proj", "k_proj", "v_proj")}
        norms[f"{prefix}.mlp.gate_up_proj"] = layer.post_attention_layernorm.weight
    return norms


def outlier_columns(norm_weight: torch.Tensor) -> torch.Tensor:
    """Channels whose norm gain is over ``OUTLIER_RATIO`` times the median (at most ``MAX_OUTLIER_COLUMNS``, the
    largest first): every token's activation is large there, so their weights' rounding error would be multiplied
    into every output. A data-free stand-in for activation statistics, as the norm weight is what makes them big."""
    gain = norm_weight.detach().abs().float()
    candidates = (gain > OUTLIER_RATIO * gain.median()).nonzero().flatten()
    largest = candidates[gain[candidates].argsort(descending=True)][:MAX_OUTLIER_COLUMNS]
    return largest.sort().values


def _owner(model: nn.Module, name: str) -> tuple[nn.Module, str]:
    parent, _, attr = name.rpartition(".")
    return (model.get_submodule(parent) if parent else model), attr


def prepare_fast(model: GlmOcrModel, cache_path: Path | None = None, cpu: CpuFeatures | None = None) -> int:
    """The "fast" precision on a loaded fp32 model: int8-group decoder linears and lm_head, and the vision tower in
    bf16 where ``runtime.devices.fast_recipe`` says so for this CPU. Returns how many linears were replaced (0:
    this torch lacks the kernel, the model stays exact).

    With ``cache_path`` the quantized weights are read from that file when it is there and written to it
    otherwise: quantizing the real model takes seconds, reading the result back a fraction of that."""
    if not group_kernel_available():
        log.warning("this PyTorch has no 4-bit group kernel: fast precision runs as exact")
        return 0
    recipe = fast_recipe(cpu)
    gemm_dtype = fast_gemm_dtype(cpu)
    if recipe.vision_bf16:
        vision_bf16_gemms(model)
    if cache_path is not None and cache_path.exists() and _apply_cached(model, cache_path, gemm_dtype):
        count = len(quantize_targets(model))
    else:
        count = quantize_decoder(model, gemm_dtype=gemm_dtype)
        if cache_path is not None and count:
            store(_fast_state(model), cache_path)  # per checkpoint linear, before they are joined
    join_attention_projections(model)
    return count


def join_attention_projections(model: GlmOcrModel) -> int:
    """Stack each decoder layer's quantized q/k/v into one linear (same input, same exact columns): a decode
    step then makes one kernel call over their weights instead of three, for the same group sums
    (``GroupQuantLinear.joined``). Returns how many layers were joined."""
    joined = 0
    for layer in model.language_model.layers[: model.cfg.text.num_hidden_layers]:
        attn = layer.self_attn
        if attn.qkv_proj is not None:
            continue
        parts = [attn.q_proj, attn.k_proj, attn.v_proj]
        stacked = GroupQuantLinear.joined(parts) if all(isinstance(p, GroupQuantLinear) for p in parts) else None
        if stacked is not None:
            attn.join_projections(stacked)
            joined += 1
    return joined


def vision_bf16_gemms(model: GlmOcrModel) -> None:
    """The vision tower's products in bf16 on its stored bf16 weights, attention's two products included; norms,
    the softmax and its residual stream stay fp32 (more exact than a whole bf16 tower, at most of its speed: the
    products are its cost)."""
    for module in model.visual.modules():
        if isinstance(module, Linear):
            module.gemm_dtype = torch.bfloat16
        elif isinstance(module, VisionAttention):
            module.products_dtype = torch.bfloat16


def fast_cache_path(cache_dir: Path, model_dir: Path, dtype: torch.dtype) -> Path:
    """Where a checkpoint's fast-precision weights are cached: keyed like the converted-weight cache, plus this
    recipe and the packed layout of this CPU's kernel."""
    locations = tensor_locations(model_dir)
    recipe = [f"fast-int8-groups:format={FAST_CACHE_FORMAT}:group={GROUP_SIZE}:block={pack_block()}"
              f":outliers={OUTLIER_RATIO}/{MAX_OUTLIER_COLUMNS}:lm_head=int8:compute={dtype}"]
    return cache_file(cache_dir, cache_key(list(locations.values()), torch.int8, recipe))


def fast_gemm_dtype(cpu: CpuFeatures | None = None) -> torch.dtype:
    """What fast precision widens its int8 groups to for many-row products on this CPU: bf16 where the CPU has
    bf16 matrix units, else fp32."""
    return torch.bfloat16 if fast_recipe(cpu).bf16_gemms else torch.float32


def widened_gemm_dtype(model: nn.Module) -> torch.dtype | None:
    """The dtype the model's int8 groups widen to for many-row products; None when it has none."""
    return next((m.gemm_dtype for m in model.modules() if isinstance(m, GroupQuantLinear)), None)


def quantized_bytes(model: nn.Module) -> int:
    """Bytes held by the group-quantized linears (planes, scale tables, biases)."""
    return sum(t.numel() * t.element_size() for m in model.modules() if isinstance(m, GroupQuantLinear)
               for t in m.stored_parts().values())


def _fast_state(model: GlmOcrModel) -> dict[str, torch.Tensor]:
    state = {}
    for name in quantize_targets(model):
        owner, attr = _owner(model, name)
        state |= {f"{name}.{part}": t for part, t in getattr(owner, attr).stored_parts().items()}
    return state


def _apply_cached(model: GlmOcrModel, path: Path, gemm_dtype: torch.dtype) -> bool:
    """Install the cached fast weights; False (model untouched, reason logged) when the file does not fit it."""
    if not intact(path):
        log.warning("fast-precision cache %s was changed after it was written, quantizing again", path)
        return False
    try:
        stored = _read_copies(path)
    except (OSError, ModelError) as exc:
        log.warning("fast-precision cache %s is unreadable, quantizing again: %s", path, exc)
        return False
    targets = quantize_targets(model)
    problem = _cache_mismatch(model, stored, targets)
    if problem:
        log.warning("fast-precision cache %s does not fit this model (%s), quantizing again", path, problem)
        return False
    for name in targets:
        owner, attr = _owner(model, name)
        setattr(owner, attr, GroupQuantLinear(stored[f"{name}.planes"], stored[f"{name}.scale_zero"],
                                              stored.get(f"{name}.bias"), GROUP_SIZE, gemm_dtype,
                                              stored.get(f"{name}.columns"), stored.get(f"{name}.column_weight")))
    return True


def _read_copies(path: Path) -> dict[str, torch.Tensor]:
    """Every tensor of the cache in fresh, 64-byte-aligned memory, one at a time (peak: the tensors plus one).
    Not views of the mapped file: there the tables start 8-byte aligned, and the 4-bit kernel reads them a third
    slower (measured on 16 gate/up products: 7.0 ms aligned, 9.3 ms at the file's offsets; decode 30 -> 35 tok/s)."""
    with MappedSafetensors(path) as mapped:
        return {name: mapped.copy(name) for name in mapped.entries}


def _cache_mismatch(model, stored: dict, targets: list[str]) -> str | None:
    for name in targets:
        out, k = model.get_submodule(name).weight.shape
        planes, table = stored.get(f"{name}.planes"), stored.get(f"{name}.scale_zero")
        if planes is None or planes.dtype != torch.uint8 or tuple(planes.shape) != (2, out, k // 2):
            return f"{name}.planes missing or mis-shaped"
        if table is None or tuple(table.shape) != (k // GROUP_SIZE, out, 2):
            return f"{name}.scale_zero missing or mis-shaped"
    return None
