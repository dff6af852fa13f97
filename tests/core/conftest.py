"""Fixtures for the core tests: tiny random checkpoints in the official layout, built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "glm-ocr"


@pytest.fixture(scope="session")
def tiny_checkpoint_mtp(tmp_path_factory) -> Path:
    from glmocr_core.testing.checkpoints import build_tiny_checkpoint

    return build_tiny_checkpoint(tmp_path_factory.mktemp("tiny-ckpt-mtp"), seed=1, with_mtp=True)


@pytest.fixture(scope="session")
def shared_reference() -> Path:
    if not (SHARED_REFERENCE / "config.json").exists():
        pytest.skip(f"the shared reference folder {SHARED_REFERENCE} is absent")
    return SHARED_REFERENCE
