"""Fixtures for the layout tests: tiny random PP-DocLayoutV3 checkpoints in the published layout, built once per
session, and the golden data that tests/layout/make_golden.py made with transformers' torchvision-backed parts."""

from __future__ import annotations

from pathlib import Path

import pytest

GOLDEN = Path(__file__).resolve().parent / "golden"
SHARED_REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "pp-doclayout-v3"


@pytest.fixture(scope="session")
def tiny_layout_checkpoint(tmp_path_factory) -> Path:
    from glmocr_core.testing.layout_checkpoints import build_tiny_layout_checkpoint

    return build_tiny_layout_checkpoint(tmp_path_factory.mktemp("tiny-layout"), seed=0)


@pytest.fixture(scope="session")
def golden_pages():
    from PIL import Image

    return [Image.open(GOLDEN / f"page_{index}.png") for index in range(3)]


@pytest.fixture(scope="session")
def layout_reference_dir() -> Path:
    if not (SHARED_REFERENCE / "config.json").exists():
        pytest.skip(f"the shared reference folder {SHARED_REFERENCE} is absent")
    return SHARED_REFERENCE
