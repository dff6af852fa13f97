"""layers.linear runs the kernel chosen for each row class; every candidate must give F.linear's fp32 result."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from glmocr_core.model import layers


@pytest.fixture(params=sorted(layers.FP32_KERNELS))
def kernel(request, monkeypatch):
    """Every candidate installed for every row class in turn (those this torch build lacks are skipped)."""
    if request.param not in layers.available_cpu_kernels():
        pytest.skip(f"{request.param} is not available in this torch build")
    monkeypatch.setattr(layers, "_chosen", layers._chosen)  # restored after the test
    layers.use_cpu_kernels(dict.fromkeys(layers.ROW_CLASSES, request.param))
    return request.param


@pytest.mark.parametrize("rows", [1, 2, 7, 16, 17, 64, 300])
@pytest.mark.parametrize("with_bias", [True, False])
def test_every_row_count_matches_f_linear(rows, with_bias, kernel):
    gen = torch.Generator().manual_seed(rows)
    x = torch.randn(rows, 96, generator=gen)
    weight = torch.randn(80, 96, generator=gen) * 0.1
    bias = torch.randn(80, generator=gen) if with_bias else None
    out = layers.linear(x, weight, bias)
    assert out.shape == (rows, 80)
    torch.testing.assert_close(out, F.linear(x, weight, bias), atol=1e-5, rtol=1e-5)


def test_leading_dimensions_are_kept_and_views_are_accepted(kernel):
    x = torch.randn(3, 40, 64).transpose(0, 1)  # [40, 3, 64], not contiguous
    weight = torch.randn(32, 64)
    out = layers.linear(x, weight)
    assert out.shape == (40, 3, 32)
    torch.testing.assert_close(out, F.linear(x, weight), atol=1e-5, rtol=1e-5)


def test_other_dtypes_use_f_linear_exactly():
    x = torch.randn(50, 32, dtype=torch.float64)
    weight = torch.randn(16, 32, dtype=torch.float64)
    assert torch.equal(layers.linear(x, weight), F.linear(x, weight))


def test_the_installed_choice_is_what_runs_per_row_class(monkeypatch):
    """A choice that is not really used would make every measurement pointless: spy on the kernel table."""
    calls = []

    def spy(name):
        original = layers.FP32_KERNELS[name]
        return lambda x, w, b: calls.append((name, x.shape[0])) or original(x, w, b)

    monkeypatch.setattr(layers, "FP32_KERNELS", {name: spy(name) for name in layers.FP32_KERNELS})
    monkeypatch.setattr(layers, "_chosen", {})
    layers.use_cpu_kernels({"one_row": "f_linear", "few_rows": "transposed", "many_rows": "f_linear"})
    for rows in (1, 5, 16, 17, 33):
        layers.linear(torch.randn(rows, 8), torch.randn(4, 8))
    assert calls == [("f_linear", 1), ("transposed", 5), ("transposed", 16), ("f_linear", 17), ("f_linear", 33)]
    assert layers.cpu_kernels()["few_rows"] == "transposed"


def test_a_partial_choice_keeps_the_default_for_the_other_classes(monkeypatch):
    monkeypatch.setattr(layers, "_chosen", {})
    layers.use_cpu_kernels({"few_rows": "transposed"})
    assert layers.cpu_kernels() == {**layers.default_cpu_kernels(), "few_rows": "transposed"}


def test_unknown_kernels_and_row_classes_are_refused(monkeypatch):
    monkeypatch.setattr(layers, "_chosen", {})
    with pytest.raises(ValueError):
        layers.use_cpu_kernels({"one_row": "magic"})
    with pytest.raises(ValueError):
        layers.use_cpu_kernels({"two_rows": "f_linear"})
    assert layers._chosen == {}


def test_row_classes():
    assert [layers.row_class(n) for n in (1, 2, 16, 17, 1024)] == [
        "one_row", "few_rows", "few_rows", "many_rows", "many_rows"]
