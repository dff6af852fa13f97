"""The "fast" CPU precision: decoder linears as int8 weights with fp32 activations quantized at run time.

CPU decode at batch 1 is bound by memory bandwidth: every token reads all decoder weights. fbgemm's dynamic int8
linear (per-output-channel int8 weights, activations quantized per call) reads a quarter of fp32's bytes and was
measured at ~4x the fp32 speed on a decoder-sized matrix here, while torch's weight-only int8 kernel is slower than
fp32 on this kind of CPU. The vision tower stays in fp32 (compute-bound, and accuracy matters most there).
Activation scales are per call, so long prompts are fed in row chunks: one outlier row cannot coarsen the
quantization of a whole prefill.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from .model import GlmOcrModel

CHUNK_ROWS = 64  # rows that share one activation scale during prefill


class DynamicInt8Linear(nn.Module):
    """A frozen replacement for nn.Linear; the fp32 weight is released once packed."""

    def __init__(self, linear: nn.Linear):
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        weight = linear.weight.detach().float()
        scales = (weight.abs().amax(dim=1) / 127.0).clamp(min=1e-8).double()
        zero_points = torch.zeros(weight.shape[0], dtype=torch.long)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # quantized tensors are flagged for a future deprecation
            qweight = torch.quantize_per_channel(weight, scales, zero_points, 0, torch.qint8)
        bias = None if linear.bias is None else linear.bias.detach().float()
        self._packed = torch.ops.quantized.linear_prepack(qweight, bias)

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
    layers = model.language_model.layers[: model.cfg.text.num_hidden_layers]
    targets = [] if mlp_only else [(layer.self_attn, name) for layer in layers
                                   for name in ("q_proj", "k_proj", "v_proj", "o_proj")]
    targets += [(layer.mlp, name) for layer in layers for name in ("gate_up_proj", "down_proj")]
    if include_lm_head:
        targets.append((model, "lm_head"))
    for owner, name in targets:
        setattr(owner, name, DynamicInt8Linear(getattr(owner, name)))
    return len(targets)


SMOOTH_ALPHA = 0.5


def prepare_fast(model: GlmOcrModel) -> int:
    """The "fast" precision: data-free smoothing, then int8 decoder linears and lm_head. Measured on the real-size
    decoder (docs/quant-study.md): with outlier channels, as trained models have, smoothing lifts teacher-forced
    top-1 agreement with fp32 from 17% to 61%; on outlier-free random weights it costs 2 points (83% -> 81%)."""
    smooth_decoder(model, alpha=SMOOTH_ALPHA)
    return quantize_decoder(model)


@torch.no_grad()
def smooth_decoder(model: GlmOcrModel, alpha: float = 0.5) -> None:
    """Data-free SmoothQuant: move per-channel scale from the activations into the weights, exactly in fp32.

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
