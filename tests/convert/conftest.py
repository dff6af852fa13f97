"""Fixtures for the conversion tests: a layout checkpoint whose detections the tests choose (PLAN, on every page),
a 3-page PDF, and the tiny GLM-OCR checkpoint (tests/conftest.py) loaded once."""

from __future__ import annotations

from pathlib import Path

import pytest

from glmocr_core.testing.layout_checkpoints import PlannedRegion

# One page of a paper, in reading order: a running head (abandoned), the title, a paragraph, a numbered formula,
# a table, a figure beside a section title and its paragraph, and a page footer (abandoned).
PLAN = [
    PlannedRegion("header", (0.10, 0.02, 0.90, 0.065), 0.8),
    PlannedRegion("doc_title", (0.10, 0.08, 0.90, 0.145), 0.95),
    PlannedRegion("text", (0.10, 0.16, 0.90, 0.305)),
    PlannedRegion("display_formula", (0.20, 0.32, 0.80, 0.405)),
    PlannedRegion("formula_number", (0.85, 0.33, 0.955, 0.395)),
    PlannedRegion("table", (0.10, 0.42, 0.90, 0.605)),
    PlannedRegion("image", (0.10, 0.62, 0.505, 0.855)),
    PlannedRegion("paragraph_title", (0.55, 0.62, 0.905, 0.665)),
    PlannedRegion("text", (0.55, 0.68, 0.905, 0.855)),
    PlannedRegion("footer", (0.10, 0.93, 0.90, 0.975), 0.7),
]
KEPT_LABELS = [r.label for r in PLAN if r.label not in ("header", "footer")]
MAX_NEW = 4
DPI = 72  # the test PDF's 300x200-point pages become 300x200-pixel images


@pytest.fixture(scope="session")
def planned_layout(tmp_path_factory) -> Path:
    from glmocr_core.testing.layout_checkpoints import build_planned_layout_checkpoint

    return build_planned_layout_checkpoint(tmp_path_factory.mktemp("planned-layout"), PLAN)


@pytest.fixture(scope="session")
def three_page_pdf(tmp_path_factory) -> Path:
    from glmocr_core.testing.images import write_test_pdf

    return write_test_pdf(tmp_path_factory.mktemp("pdf") / "paper.pdf", pages=3)


@pytest.fixture(scope="session")
def tiny_engine(tiny_checkpoint):
    from glmocr_core.engine import Engine

    engine = Engine.load(tiny_checkpoint, device="cpu")
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def planned_detector(planned_layout):
    from glmocr_core.convert.loading import open_layout_detector

    return open_layout_detector(planned_layout, "cpu")
