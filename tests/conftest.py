"""Fixtures shared by every test folder: the session's environment, the small test tokenizer and a tiny
checkpoint in the official layout."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from glmocr_core.paths import NO_WEIGHT_CACHE_ENV
from glmocr_core.runtime.devices import CPU_FLAGS_ENV

# Engines loaded by tests must not write converted-weight caches into the real user cache folder; the cache has its
# own tests with explicit temporary folders.
os.environ.setdefault(NO_WEIGHT_CACHE_ENV, "1")
# The precision policies ("auto" = fast or exact, the fast recipe's bf16 parts) read the CPU's flags; the suite sees
# a CPU without any (children too), so what "auto" loads never depends on the machine. Tests of the policies inject
# their CPU.
os.environ.setdefault(CPU_FLAGS_ENV, "")


@pytest.fixture(scope="session", autouse=True)
def fixed_int8_crossover():
    """Fast-precision products switch from the 4-bit kernel to a widened GEMM at the default row count in every
    test, instead of where a timing on this machine would put it; the timing has its own tests."""
    from glmocr_core.runtime import plane_rows, quantize

    plane_rows.fix(quantize.DEFAULT_PLANE_ROWS, "fixed by the test suite")


@pytest.fixture(scope="session", autouse=True)
def made_up_cache_size():
    """CPU kernel timings stream their decode weights beyond a made-up 8 MiB last-level cache, not this machine's
    (read from sysfs, 480 MB on some Xeons): what a test does never depends on the CPU it runs on."""
    from glmocr_core.runtime import kernel_choice

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(kernel_choice, "last_level_cache_bytes", lambda: 8 << 20)
        yield


@pytest.fixture(scope="session")
def synthetic_tokenizer_dir(tmp_path_factory) -> Path:
    """A folder with the small test tokenizer (specials at the real ids), tokenizer_config and chat template."""
    from glmocr_core.testing.tokenizer import write_test_tokenizer

    return write_test_tokenizer(tmp_path_factory.mktemp("synthetic-tokenizer"))


@pytest.fixture(scope="session")
def glm_tokenizer(synthetic_tokenizer_dir):
    from glmocr_core.processing.tokenizer import GlmTokenizer

    return GlmTokenizer.from_dir(synthetic_tokenizer_dir)


@pytest.fixture(scope="session")
def hf_tokenizer(synthetic_tokenizer_dir):
    """The same folder loaded by transformers: the oracle for prompt and decode parity."""
    transformers = pytest.importorskip("transformers")
    return transformers.AutoTokenizer.from_pretrained(str(synthetic_tokenizer_dir))


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    from glmocr_core.testing.checkpoints import build_tiny_checkpoint

    return build_tiny_checkpoint(tmp_path_factory.mktemp("tiny-ckpt"), seed=0)
