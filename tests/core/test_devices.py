"""The device and dtype policy, with the CPU's features injected: every machine checks every policy."""

import pytest
import torch

from glmocr_core.errors import UsageError
from glmocr_core.runtime.devices import CpuFeatures, parse_cpuinfo, precision_summary, resolve_dtype

AVX2 = CpuFeatures(frozenset({"avx2", "fma"}))
BF16 = CpuFeatures(frozenset({"avx2", "avx512f", "avx512_bf16"}))
AMX = CpuFeatures(frozenset({"avx512f", "amx_tile", "amx_bf16"}))


@pytest.mark.parametrize("device", ["cpu", "cuda", "cuda:1", "mps"])
def test_exact_is_fp32_on_every_device(device):
    assert resolve_dtype("auto", device, "exact", AVX2) == torch.float32


@pytest.mark.parametrize("cpu, expected", [(AVX2, torch.float32), (BF16, torch.bfloat16), (AMX, torch.bfloat16)])
def test_fast_computes_in_bf16_only_where_the_cpu_has_bf16_matrix_units(cpu, expected):
    assert resolve_dtype("auto", "cpu", "fast", cpu) == expected
    assert resolve_dtype("auto", "cpu", "auto", cpu) == torch.float32  # auto stays exact on CPUs


def test_an_explicit_dtype_wins_and_an_unknown_one_is_refused():
    assert resolve_dtype("bfloat16", "cpu", "exact", AVX2) == torch.bfloat16
    with pytest.raises(UsageError, match="unknown dtype"):
        resolve_dtype("float8", "cpu", "auto", AVX2)


def test_the_fast_label_says_what_it_does_on_this_cpu():
    assert "bf16 compute" in precision_summary("fast", BF16) and "int8" in precision_summary("fast", BF16)
    assert "fp32 compute" in precision_summary("fast", AVX2)
    assert "reference" in precision_summary("exact", AVX2)


def test_cpu_flags_come_from_the_first_processor_and_arm_says_features():
    text = "processor: 0\nmodel name: Test CPU\nflags: fpu avx2 avx512_bf16\n\nprocessor: 1\nflags: fpu\n"
    cpu = parse_cpuinfo(text)
    assert cpu.model == "Test CPU" and cpu.fast_bf16 and "avx2" in cpu.flags
    assert parse_cpuinfo("Features: fp asimd bf16\n").flags == frozenset({"fp", "asimd", "bf16"})
