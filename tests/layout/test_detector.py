"""The layout API for the rest of the core: LayoutDetector.load / detect / detect_raw on a tiny checkpoint."""

from __future__ import annotations

import pytest

from glmocr_core.layout.config import LayoutPreprocessorConfig
from glmocr_core.layout.detector import LayoutDetector
from glmocr_core.layout.postprocess import LayoutRegion, postprocess_page


@pytest.fixture(scope="module")
def detector(tiny_layout_checkpoint):
    """At a 320x320 input (the model takes any multiple of 32) to keep the tests quick; load() reads 800x800."""
    loaded = LayoutDetector.load(tiny_layout_checkpoint, device="cpu")
    assert (loaded.preprocessor.height, loaded.preprocessor.width) == (800, 800)
    return LayoutDetector(loaded.model, LayoutPreprocessorConfig(height=320, width=320), loaded.rules)


def test_detect_is_the_sdk_post_processing_of_detect_raw(detector, golden_pages):
    assert any(detector.detect(page) for page in golden_pages)
    for page in golden_pages:
        regions = detector.detect(page)
        raw = detector.detect_raw(page, detector.rules.pre_threshold)
        assert regions == postprocess_page(raw, page.size, detector.rules, detector.labels)
        assert all(isinstance(r, LayoutRegion) and r.task in ("text", "table", "formula", "skip") for r in regions)
        assert [r.order for r in regions] == list(range(len(regions)))
        assert all(0 <= r.bbox[0] < r.bbox[2] <= page.width and 0 <= r.bbox[1] < r.bbox[3] <= page.height
                   for r in regions)


def test_a_batch_gives_what_single_pages_give(detector, golden_pages):
    pages = golden_pages[:2]
    assert detector.detect_batch(pages) == [detector.detect(page) for page in pages]


def test_raw_boxes_are_in_the_pages_pixels(detector, golden_pages):
    page = golden_pages[1]
    raw = detector.detect_raw(page, 0.3)
    assert set(raw) == {"scores", "labels", "boxes", "order_seq"}
    assert len(raw["scores"]) and bool((raw["scores"] >= 0.3).all())
    assert raw["boxes"].shape[1] == 4 and float(raw["boxes"][:, 2].max()) <= page.width * 1.5
    assert raw["order_seq"].tolist() == sorted(raw["order_seq"].tolist())
