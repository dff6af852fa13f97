"""The "fast" CPU precision: decoder linears as int8 weights with fp32 activations quantized at run time.

CPU decode at batch 1 is bound by memory bandwidth: every token reads all decoder weights. fbgemm's dynamic int8
linear (per-output-channel int8 weights, activations quantized per call) reads a quarter of fp32's bytes and was
measured at ~4x the fp32 speed on a decoder-sized matrix here, while torch's weight-only int8 kernel is slower than
fp32 on this kind of CPU. The vision tower keeps the compute dtype (fp32; bf16 on CPUs with bf16 matrix units, where
``runtime.devices`` picks bf16 for "fast"): it is compute-bound, and accuracy matters most there.
Activation scales are per call, so long prompts are fed in row chunks: one outlier row cannot coarsen the
quantization of a whole prefill.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import torch
from torch import nn

from ..checkpoint.loading import tensor_locations
from ..checkpoint.weight_cache import cache_file, cache_key, intact, store
from ..model.glm_ocr import GlmOcrModel

CHUNK_ROWS = 64  # rows that share one activation scale during prefill
SMOOTH_ALPHA = 0.5
SMOOTHED_NORMS = ("input_layernorm", "post_attention_layernorm")
FAST_CACHE_FORMAT = 2  # bump when the stored form or the recipe changes (2: keyed by the compute dtype too)
log = logging.getLogger(__name__)


class DynamicInt8Linear(nn.Module):
    """A frozen replacement for nn.Linear: per-output-channel int8 weights packed for fbgemm, fp32 activations
    quantized per call. ``from_linear`` quantizes an fp32 linear (whose weight is then released);
    the constructor rebuilds one from stored int8 values and scales (the fast-precision cache)."""

    def __init__(self, values: torch.Tensor, scales: torch.Tensor, bias: torch.Tensor | None):
        super().__init__()
        self.out_features, self.in_features = values.shape
        zero_points = torch.zeros(values.shape[0], dtype=torch.long)
        qweight = torch._make_per_channel_quantized_tensor(values, scales.double(), zero_points, 0)
        self._packed = torch.ops.quantized.linear_prepack(qweight, bias)

    @classmethod
    def from_linear(cls, linear: nn.Linear) -> "DynamicInt8Linear":
        weight = linear.weight.detach().float()
        scales = (weight.abs().amax(dim=1) / 127.0).clamp(min=1e-8).double()
        zero_points = torch.zeros(weight.shape[0], dtype=torch.long)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # quantized tensors are flagged for a future deprecation
            qweight = torch.quantize_per_channel(weight, scales, zero_points, 0, torch.qint8)
        bias = None if linear.bias is None else linear.bias.detach().float()
        return cls(qweight.int_repr(), scales, bias)

    def int8_parts(self) -> dict[str, torch.Tensor]:
        """The stored form: int8 values [out, in], fp64 scales [out] and the bias if any."""
        qweight, bias = torch.ops.quantized.linear_unpack(self._packed)
        parts = {"int8": qweight.int_repr(), "scales": qweight.q_per_channel_scales().double()}
        return parts | ({"bias": bias} if bias is not None else {})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.reshape(-1, self.in_features).float()
        # reduce_range=True keeps fbgemm's 16-bit accumulation from saturating on CPUs without VNNI
        parts = [torch.ops.quantized.linear_dynamic(chunk.contiguous(), self._packed, True)
                 for chunk in rows.split(CHUNK_ROWS)]
        return torch.cat(parts).reshape(*x.shape[:-1], self.out_features).to(x.dtype)


def int8_available() -> bool:
    return "fbgemm" in torch.backends.quantized.supported_engines or "x86" in torch.backends.quantized.supported_engines


def quantize_decoder(model: GlmOcrModel, include_lm_head: bool = True, mlp_only: bool = False) -> int:
    """Swap the decoder's (and optionally lm_head's) linears for int8 ones in place; returns how many."""
    if not int8_available():
        return 0
    targets = int8_targets(model, include_lm_head, mlp_only)
    for name in targets:
        owner, attr = _owner(model, name)
        setattr(owner, attr, DynamicInt8Linear.from_linear(getattr(owner, attr)))
    return len(targets)


def int8_targets(model: GlmOcrModel, include_lm_head: bool = True, mlp_only: bool = False) -> list[str]:
    """Qualified names of the linears that int8 replaces: the decoder layers' (not the MTP layer's), lm_head."""
    names = []
    for index in range(model.cfg.text.num_hidden_layers):
        prefix = f"model.language_model.layers.{index}"
        if not mlp_only:
            names += [f"{prefix}.self_attn.{n}" for n in ("q_proj", "k_proj", "v_proj", "o_proj")]
        names += [f"{prefix}.mlp.{n}" for n in ("gate_up_proj", "down_proj")]
    return names + (["lm_head"] if include_lm_head else [])


def _owner(model: nn.Module, name: str) -> tuple[nn.Module, str]:
    parent, _, attr = name.rpartition(".")
    return (model.get_submodule(parent) if parent else model), attr


def prepare_fast(model: GlmOcrModel, cache_path: Path | None = None) -> int:
    """The "fast" precision: data-free smoothing, then int8 decoder linears and lm_head. Measured on the real-size
    decoder (docs/quant-study.md): with outlier channels, as trained models have, smoothing lifts teacher-forced
    top-1 agreement with fp32 from 17% to 61%; on outlier-free random weights it costs 2 points (83% -> 81%).

    With ``cache_path`` the result (int8 values, scales, smoothed norms) is read from that file when it is there and
    written to it otherwise: quantizing takes ~13 s on a 2-core CPU, reading the result back about a tenth."""
    if not int8_available():
        return 0
    if cache_path is not None and cache_path.exists() and _apply_cached(model, cache_path):
        return len(int8_targets(model))
    smooth_decoder(model, alpha=SMOOTH_ALPHA)
    count = quantize_decoder(model)
    if cache_path is not None and count:
        store(_fast_state(model), cache_path)
    return count


def fast_cache_path(cache_dir: Path, model_dir: Path, dtype: torch.dtype) -> Path:
    """Where a checkpoint's fast-precision weights are cached: keyed like the converted-weight cache, plus this
    recipe and the compute dtype (smoothing in bf16 gives other norms than in fp32)."""
    locations = tensor_locations(model_dir)
    recipe = [f"fast-int8:format={FAST_CACHE_FORMAT}:smooth={SMOOTH_ALPHA}:lm_head=int8:compute={dtype}"]
    return cache_file(cache_dir, cache_key(list(locations.values()), torch.qint8, recipe))


def _smoothed_norms(model: GlmOcrModel) -> dict[str, torch.Tensor]:
    layers = range(model.cfg.text.num_hidden_layers)
    return {f"model.language_model.layers.{i}.{norm}.weight": model.get_parameter(
        f"model.language_model.layers.{i}.{norm}.weight") for i in layers for norm in SMOOTHED_NORMS}


def _fast_state(model: GlmOcrModel) -> dict[str, torch.Tensor]:
    state = {name: weight.detach() for name, weight in _smoothed_norms(model).items()}
    for name in int8_targets(model):
        owner, attr = _owner(model, name)
        state |= {f"{name}.{part}": t for part, t in getattr(owner, attr).int8_parts().items()}
    return state


def _apply_cached(model: GlmOcrModel, path: Path) -> bool:
    """Install the cached fast weights; False (model untouched, reason logged) when the file does not fit it."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not intact(path):
        log.warning("fast-precision cache %s was changed after it was written, quantizing again", path)
        return False
    try:
        stored = load_file(str(path))
    except (OSError, SafetensorError) as exc:
        log.warning("fast-precision cache %s is unreadable, quantizing again: %s", path, exc)
        return False
    norms, targets = _smoothed_norms(model), int8_targets(model)
    problem = _cache_mismatch(model, stored, norms, targets)
    if problem:
        log.warning("fast-precision cache %s does not fit this model (%s), quantizing again", path, problem)
        return False
    with torch.no_grad():
        for name, weight in norms.items():
            weight.copy_(stored[name])
    for name in targets:
        owner, attr = _owner(model, name)
        setattr(owner, attr, DynamicInt8Linear(stored[f"{name}.int8"], stored[f"{name}.scales"],
                                               stored.get(f"{name}.bias")))
    return True


def _cache_mismatch(model, stored: dict, norms: dict, targets: list[str]) -> str | None:
    for name, weight in norms.items():
        if name not in stored or stored[name].shape != weight.shape:
            return f"{name} missing or mis-shaped"
    for name in targets:
        owner, attr = _owner(model, name)
        values = stored.get(f"{name}.int8")
        if values is None or values.dtype != torch.int8 or values.shape != getattr(owner, attr).weight.shape:
            return f"{name} missing or mis-shaped"
        if f"{name}.scales" not in stored:
            return f"{name}.scales missing"
    return None


@torch.no_grad()
def smooth_decoder(model: GlmOcrModel, alpha: float = 0.5) -> None:
    """Data-free SmoothQuant: move per-channel scale from the activations into the weights (scales in fp32, applied
    in the weights' dtype).

    A channel that a norm's weight makes large is large in every token, which coarsens the per-call activation
    scale for all the others. Dividing the norm weight by s and multiplying the following linears' input columns by
    s leaves the product unchanged but flattens the activations. s_j = |gamma_j|^alpha / max|W[:, j]|^(1-alpha),
    with the norm weight standing in for the activation range (no calibration data is needed at load time).
    """
    for layer in model.language_model.layers[: model.cfg.text.num_hidden_layers]:
        attn = layer.self_attn
        _smooth(layer.input_layernorm.weight, [attn.q_proj.weight, attn.k_proj.weight, attn.v_proj.weight], alpha)
        _smooth(layer.post_attention_layernorm.weight, [layer.mlp.gate_up_proj.weight], alpha)


def _smooth(norm_weight: torch.Tensor, weights: list[torch.Tensor], alpha: float) -> None:
    activation_range = norm_weight.abs().float().clamp(min=1e-5)
    weight_range = torch.stack([w.abs().amax(dim=0) for w in weights]).amax(dim=0).float().clamp(min=1e-5)
    scale = (activation_range.pow(alpha) / weight_range.pow(1 - alpha)).clamp(1e-3, 1e3)
    norm_weight.div_(scale.to(norm_weight.dtype))
    for weight in weights:
        weight.mul_(scale.to(weight.dtype))
