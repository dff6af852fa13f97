"""Preprocessing and post-processing against golden data from transformers' torchvision-backed parts
(tests/layout/make_golden.py, run by hand in a separate venv): PPDocLayoutV3ImageProcessor's pixel values, and
post_process_object_detection's detections, alone on hand-made outputs and end to end with the tiny checkpoint."""

from __future__ import annotations

import hashlib
import json

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from glmocr_core.layout.config import LayoutPreprocessorConfig
from glmocr_core.layout.model import LayoutOutput
from glmocr_core.layout.postprocess_reference import post_process_object_detection
from glmocr_core.layout.preprocess import preprocess

from .conftest import GOLDEN

BOX_TOLERANCE_PX = 1e-3


def test_pixels_match_the_image_processor_at_a_small_size(golden_pages):
    expected = load_file(str(GOLDEN / "preprocess.safetensors"))["small"]
    got = preprocess(golden_pages, LayoutPreprocessorConfig(height=64, width=48))
    assert torch.equal(got, expected)  # same uint8 kernel, same fused float32 normalization: bit for bit


def test_pixels_match_the_image_processor_at_800(golden_pages):
    with safe_open(str(GOLDEN / "preprocess.safetensors"), "pt") as handle:
        digest, strided = handle.metadata()["full_sha256"], handle.get_tensor("full_strided")
    got = preprocess(golden_pages[:1], LayoutPreprocessorConfig())
    assert torch.equal(got[..., ::13, ::13], strided)
    assert hashlib.sha256(got.numpy().tobytes()).hexdigest() == digest


def _outputs(tensors: dict, seed: int) -> LayoutOutput:
    return LayoutOutput(logits=tensors[f"seed{seed}.logits"], pred_boxes=tensors[f"seed{seed}.pred_boxes"],
                        order_logits=tensors[f"seed{seed}.order_logits"], out_masks=None)


def _assert_same(got: dict, expected: dict) -> None:
    assert got["labels"].tolist() == list(expected["labels"])
    assert got["order_seq"].tolist() == list(expected["order_seq"])
    assert torch.allclose(got["scores"], torch.as_tensor(expected["scores"]), atol=1e-6, rtol=0)
    boxes = torch.as_tensor(expected["boxes"], dtype=torch.float32).reshape(-1, 4)
    assert (got["boxes"] - boxes).abs().max().item() <= BOX_TOLERANCE_PX if len(boxes) else len(got["boxes"]) == 0


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("threshold", [0.3, 0.5])
def test_post_processing_matches_on_hand_made_outputs(seed, threshold):
    tensors = load_file(str(GOLDEN / "postprocess.safetensors"))
    sizes = [tuple(size) for size in tensors["target_sizes"].tolist()]
    results = post_process_object_detection(_outputs(tensors, seed), threshold, sizes)
    for image, got in enumerate(results):
        prefix = f"seed{seed}.t{threshold}.image{image}."
        _assert_same(got, {key: tensors[prefix + key] for key in ("scores", "labels", "boxes", "order_seq")})


def _weights_digest(path) -> str:
    state, digest = load_file(str(path)), hashlib.sha256()
    for name in sorted(state):
        digest.update(name.encode() + state[name].numpy().tobytes())
    return digest.hexdigest()


def test_detections_match_end_to_end(tiny_layout_checkpoint, golden_pages):
    from glmocr_core.layout.detector import LayoutDetector

    golden = json.loads((GOLDEN / "end_to_end.json").read_text(encoding="utf-8"))
    assert _weights_digest(tiny_layout_checkpoint / "model.safetensors") == golden["weights_sha256"], \
        "the tiny checkpoint differs from the one the golden data was made with: rerun make_golden.py"
    detector = LayoutDetector.load(tiny_layout_checkpoint)
    assert detector.detect_raw(golden_pages[0], 0.3).keys() == golden["detections"]["0.3"][0].keys()
    outputs = detector.forward(golden_pages)  # one pass, post-processed at each threshold
    sizes = [(page.height, page.width) for page in golden_pages]
    for threshold, pages in golden["detections"].items():
        for got, expected in zip(post_process_object_detection(outputs, float(threshold), sizes), pages):
            _assert_same(got, expected)
