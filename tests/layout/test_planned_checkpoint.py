"""The planned layout checkpoint (glmocr_core.testing.layout_checkpoints.build_planned_layout_checkpoint): it detects
what a test asks for, whatever the page shows, through our model and the SDK's post-processing; and the abandoned
regions that post-processing drops come back on request."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from glmocr_core.layout.detector import LayoutDetector
from glmocr_core.testing.layout_checkpoints import PlannedRegion, build_planned_layout_checkpoint

PLAN = [PlannedRegion("header", (0.1, 0.02, 0.9, 0.05), 0.6), PlannedRegion("paragraph_title", (0.1, 0.1, 0.6, 0.15)),
        PlannedRegion("table", (0.05, 0.2, 0.95, 0.55), 0.99), PlannedRegion("text", (0.55, 0.6, 0.95, 0.9), 0.45),
        PlannedRegion("chart", (0.05, 0.6, 0.5, 0.9)), PlannedRegion("number", (0.45, 0.95, 0.55, 0.98), 0.7)]


@pytest.fixture(scope="module")
def detector(tmp_path_factory) -> LayoutDetector:
    return LayoutDetector.load(build_planned_layout_checkpoint(tmp_path_factory.mktemp("planned"), PLAN))


def pages():
    rng = np.random.default_rng(0)
    yield Image.new("RGB", (640, 900), "white")
    yield Image.fromarray(rng.integers(0, 256, (300, 1200, 3), dtype=np.uint8))


@pytest.mark.parametrize("page", list(pages()), ids=["white portrait", "noisy landscape"])
def test_the_raw_detections_are_the_plan_on_any_page(detector, page):
    raw = detector.detect_raw(page, 0.3)
    assert [detector.labels[i] for i in raw["labels"].tolist()] == [p.label for p in PLAN]
    assert raw["scores"].tolist() == pytest.approx([p.score for p in PLAN], abs=1e-5)
    scale = np.array([page.width, page.height, page.width, page.height])
    assert np.abs(raw["boxes"].numpy() - np.array([p.box for p in PLAN]) * scale).max() < 0.05
    assert raw["order_seq"].tolist() == sorted(raw["order_seq"].tolist())


def test_the_sdk_regions_drop_the_abandoned_ones_unless_asked(detector):
    page = Image.new("RGB", (640, 900), "white")
    kept = detector.detect(page)
    assert [(r.label, r.task, r.order) for r in kept] == [
        ("paragraph_title", "text", 0), ("table", "table", 1), ("text", "text", 2), ("chart", "skip", 3)]
    everything = detector.detect(page, keep_abandoned=True)
    assert [(r.label, r.task) for r in everything] == [
        ("header", "abandon"), ("paragraph_title", "text"), ("table", "table"), ("text", "text"), ("chart", "skip"),
        ("number", "abandon")]
    assert [r.order for r in everything] == list(range(6))
    assert [r for r in everything if r.task != "abandon"] == [
        r.__class__(r.label, r.task, r.score, r.bbox, o, r.bbox_2d) for o, r in zip(range(1, 5), kept)]


def test_a_threshold_above_a_planned_score_drops_that_region(detector):
    page = Image.new("RGB", (640, 900), "white")
    assert "text" not in [detector.labels[i] for i in detector.detect_raw(page, 0.5)["labels"].tolist()]


def test_the_folded_fast_model_plans_the_same(tmp_path):
    folder = build_planned_layout_checkpoint(tmp_path, PLAN)
    page = Image.new("RGB", (640, 900), "white")
    exact, fast = LayoutDetector.load(folder), LayoutDetector.load(folder, fast=True)
    assert [(r.label, r.bbox) for r in fast.detect(page)] == [(r.label, r.bbox) for r in exact.detect(page)]


def test_unknown_labels_are_refused(tmp_path):
    with pytest.raises(ValueError, match="poem"):
        build_planned_layout_checkpoint(tmp_path, [PlannedRegion("poem", (0.1, 0.1, 0.5, 0.5))])
