"""layers.linear picks a kernel by row count; every choice must give F.linear's fp32 result."""

from __future__ import annotations

import platform

import pytest
import torch
import torch.nn.functional as F

from glmocr_core.model import layers


@pytest.fixture(params=["onednn", "without-onednn"])
def kernel_choice(request, monkeypatch):
    """Both the x86 path and the one other CPUs take (skinny products, F.linear)."""
    if request.param == "without-onednn":
        monkeypatch.setattr(layers, "onednn_linear_available", lambda: False)
    return request.param


@pytest.mark.parametrize("rows", [1, 2, 7, 16, 17, 64, 300])
@pytest.mark.parametrize("with_bias", [True, False])
def test_every_row_count_matches_f_linear(rows, with_bias, kernel_choice):
    gen = torch.Generator().manual_seed(rows)
    x = torch.randn(rows, 96, generator=gen)
    weight = torch.randn(80, 96, generator=gen) * 0.1
    bias = torch.randn(80, generator=gen) if with_bias else None
    out = layers.linear(x, weight, bias)
    assert out.shape == (rows, 80)
    torch.testing.assert_close(out, F.linear(x, weight, bias), atol=1e-5, rtol=1e-5)


def test_leading_dimensions_are_kept_and_views_are_accepted(kernel_choice):
    x = torch.randn(3, 40, 64).transpose(0, 1)  # [40, 3, 64], not contiguous
    weight = torch.randn(32, 64)
    out = layers.linear(x, weight)
    assert out.shape == (40, 3, 32)
    torch.testing.assert_close(out, F.linear(x, weight), atol=1e-5, rtol=1e-5)


def test_other_dtypes_use_f_linear_exactly():
    x = torch.randn(50, 32, dtype=torch.float64)
    weight = torch.randn(16, 32, dtype=torch.float64)
    assert torch.equal(layers.linear(x, weight), F.linear(x, weight))


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"), reason="oneDNN path is x86-only")
def test_onednn_path_is_taken_on_x86(monkeypatch):
    """The prefill speed-up depends on this path really running: a torch without it must be noticed here."""
    assert layers.onednn_linear_available()
    calls = []
    original = torch.ops.mkldnn._linear_pointwise

    class Spy:
        def __call__(self, *args):
            calls.append(args[0].shape)
            return original(*args)

    monkeypatch.setattr(torch.ops.mkldnn, "_linear_pointwise", Spy())
    layers.linear(torch.randn(33, 8), torch.randn(4, 8))
    layers.linear(torch.randn(5, 8), torch.randn(4, 8))
    layers.linear(torch.randn(1, 8), torch.randn(4, 8))
    assert calls == [(33, 8), (5, 8), (1, 8)]
