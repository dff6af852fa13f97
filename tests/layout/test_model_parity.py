"""PP-DocLayoutV3 forward parity with transformers 5.23.0 (its model imports without torchvision, so it is the
live oracle), on tiny random checkpoints that our writer puts in the published layout and that transformers loads
without a missing, unexpected or resized tensor."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from glmocr_core.layout.config import LayoutPreprocessorConfig
from glmocr_core.layout.loading import load_layout_model
from glmocr_core.layout.preprocess import preprocess
from glmocr_core.testing.layout_checkpoints import random_model, tiny_config, write_checkpoint

transformers = pytest.importorskip("transformers")
pytestmark = pytest.mark.reference

OUTPUTS = ("logits", "pred_boxes", "order_logits", "out_masks")
TOLERANCE = 1e-4


def _reference(checkpoint):
    model, info = transformers.PPDocLayoutV3ForObjectDetection.from_pretrained(
        checkpoint, dtype=torch.float32, output_loading_info=True)
    assert not any(info.values()), info  # the file is exactly what transformers expects
    return model.eval()


def _inputs(pages) -> torch.Tensor:
    torch.manual_seed(3)
    return torch.cat([preprocess(pages[:1], LayoutPreprocessorConfig()), torch.rand(1, 3, 800, 800)])


def _max_diffs(reference, ours, pixels) -> dict[str, float]:
    with torch.no_grad():
        expected, got = reference(pixel_values=pixels), ours(pixels)
    for name in OUTPUTS:
        assert getattr(got, name).shape == getattr(expected, name).shape, name
    return {name: (getattr(got, name) - getattr(expected, name)).abs().max().item() for name in OUTPUTS}


def test_forward_matches_reference(tiny_layout_checkpoint, golden_pages):
    diffs = _max_diffs(_reference(tiny_layout_checkpoint), load_layout_model(tiny_layout_checkpoint),
                       _inputs(golden_pages))
    assert max(diffs.values()) <= TOLERANCE, diffs


VARIANTS = {
    "untied-heads": {"tie_word_embeddings": False},
    "pre-norm-no-mask-boxes": {"normalize_before": True, "mask_enhanced": False},
    "extra-level-expansion": {"num_feature_levels": 4, "hidden_expansion": 0.5},
    "affine-blocks-unfrozen": {"freeze_backbone_batch_norms": False},
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_config_variants_match_reference(tmp_path, variant):
    cfg = dataclasses.replace(tiny_config(num_queries=30, decoder_layers=1), **VARIANTS[variant])
    if variant == "affine-blocks-unfrozen":
        cfg.backbone = dataclasses.replace(cfg.backbone, use_learnable_affine_block=True)
    checkpoint = write_checkpoint(random_model(cfg, seed=5), tmp_path / variant)
    torch.manual_seed(4)
    pixels = torch.rand(1, 3, 256, 320)  # the model itself takes any size divisible by 32
    diffs = _max_diffs(_reference(checkpoint), load_layout_model(checkpoint), pixels)
    assert max(diffs.values()) <= TOLERANCE, diffs
