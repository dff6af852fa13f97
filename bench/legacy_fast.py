"""The previous "fast" recipe, kept for the accuracy study only: data-free smoothing, then per-output-channel int8
weights with activations quantized to int8 per call (fbgemm's dynamic linear). Outlier channels set the per-call
activation scale, which is why the runtime moved to int8 groups with bf16 activations (glmocr_core.runtime.quantize).
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

SMOOTH_ALPHA = 0.5


class DynamicInt8Linear(nn.Module):
    def __init__(self, linear: nn.Linear):
        super().__init__()
        weight = linear.weight.detach().float()
        self.out_features, self.in_features = weight.shape
        scales = (weight.abs().amax(dim=1) / 127.0).clamp(min=1e-8).double()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # quantized tensors are flagged for a future deprecation
            qweight = torch.quantize_per_channel(weight, scales, torch.zeros(len(scales), dtype=torch.long), 0,
                                                 torch.qint8)
        bias = None if linear.bias is None else linear.bias.detach().float()
        self._packed = torch.ops.quantized.linear_prepack(qweight, bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.reshape(-1, self.in_features).float()
        # 64 rows share one activation scale; reduce_range keeps 16-bit accumulation from saturating without VNNI
        parts = [torch.ops.quantized.linear_dynamic(chunk.contiguous(), self._packed, True) for chunk in rows.split(64)]
        return torch.cat(parts).reshape(*x.shape[:-1], self.out_features).to(x.dtype)


@torch.no_grad()
def apply(model, targets: list[str]) -> None:
    """Smooth the decoder (norm scale moved into the next linears' input columns), then quantize ``targets``."""
    for layer in model.language_model.layers[: model.cfg.text.num_hidden_layers]:
        attn = layer.self_attn
        _smooth(layer.input_layernorm.weight, [attn.q_proj.weight, attn.k_proj.weight, attn.v_proj.weight])
        _smooth(layer.post_attention_layernorm.weight, [layer.mlp.gate_up_proj.weight])
    for name in targets:
        parent, _, attr = name.rpartition(".")
        owner = model.get_submodule(parent) if parent else model
        setattr(owner, attr, DynamicInt8Linear(getattr(owner, attr)))


def _smooth(norm_weight: torch.Tensor, weights: list[torch.Tensor]) -> None:
    # s_j = |gamma_j|^a / max|W[:, j]|^(1-a): the norm weight stands in for the activation range (no data needed)
    activation_range = norm_weight.abs().float().clamp(min=1e-5)
    weight_range = torch.stack([w.abs().amax(dim=0) for w in weights]).amax(dim=0).float().clamp(min=1e-5)
    scale = (activation_range.pow(SMOOTH_ALPHA) / weight_range.pow(1 - SMOOTH_ALPHA)).clamp(1e-3, 1e3)
    norm_weight.div_(scale.to(norm_weight.dtype))
    for weight in weights:
        weight.mul_(scale.to(weight.dtype))
