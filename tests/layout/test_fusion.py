"""The fast paths: batch norms folded into convolutions (and channels-last) give the exact model's features up to
float rounding; the exact model's outputs without masks are its outputs with masks, less the masks; bfloat16
weights run without NaNs."""

from __future__ import annotations

import torch

from glmocr_core.layout.fusion import fuse_batch_norms
from glmocr_core.layout.layers import BatchNorm2d
from glmocr_core.layout.loading import load_layout_model


def _features(model, pixels):
    """Everything before the first discrete choice (query selection): backbone maps, PAN maps, mask prototypes."""
    inner = model.model
    x4, *maps = inner.backbone(pixels)
    pan, prototypes = inner.encoder([proj(m) for proj, m in zip(inner.encoder_input_proj, maps)], x4)
    return [x4, *maps, *pan, prototypes]


@torch.no_grad()
def test_folded_norms_keep_the_features(tiny_layout_checkpoint):
    exact, fast = load_layout_model(tiny_layout_checkpoint), load_layout_model(tiny_layout_checkpoint)
    norms = sum(isinstance(m, BatchNorm2d) for m in fast.modules())
    assert fuse_batch_norms(fast) == norms and not any(isinstance(m, BatchNorm2d) for m in fast.modules())
    fast.to(memory_format=torch.channels_last)
    torch.manual_seed(0)
    pixels = torch.rand(1, 3, 320, 256)
    for want, got in zip(_features(exact, pixels), _features(fast, pixels.contiguous(memory_format=torch.channels_last))):
        assert torch.allclose(got, want, rtol=1e-4, atol=1e-4 * want.abs().max().item())


@torch.no_grad()
def test_outputs_without_masks(tiny_layout_checkpoint):
    model = load_layout_model(tiny_layout_checkpoint)
    pixels = torch.rand(1, 3, 256, 256)
    full, light = model(pixels), model(pixels, masks=False)
    assert light.out_masks is None and full.out_masks.shape == (1, 60, 64, 64)
    for name in ("logits", "pred_boxes", "order_logits"):
        assert torch.equal(getattr(full, name), getattr(light, name))


@torch.no_grad()
def test_bfloat16_weights_give_finite_outputs(tiny_layout_checkpoint):
    model = load_layout_model(tiny_layout_checkpoint, dtype=torch.bfloat16)
    out = model(torch.rand(1, 3, 256, 256, dtype=torch.bfloat16))
    assert all(bool(getattr(out, name).isfinite().all()) for name in ("logits", "pred_boxes", "order_logits"))
