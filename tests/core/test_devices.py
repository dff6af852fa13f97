"""The device and dtype policy, with the CPU's features injected: every machine checks every policy."""

import pytest
import torch

from glmocr_core.errors import UsageError
from glmocr_core.runtime import devices
from glmocr_core.runtime.devices import (CpuFeatures, fast_recipe, parse_cpuinfo, precision_summary, resolve_dtype,
                                         resolve_precision)

AVX2 = CpuFeatures(frozenset({"avx2", "fma"}))
BF16 = CpuFeatures(frozenset({"avx2", "avx512f", "avx512_bf16"}))
AMX = CpuFeatures(frozenset({"avx512f", "amx_tile", "amx_bf16"}))
ARM = CpuFeatures(frozenset({"fp", "asimd", "bf16"}))
OLD_X86 = CpuFeatures(frozenset({"sse4_2", "avx"}))


def _verdict(fast: bool, vision: bool = True) -> dict:
    entry = {"top1": 0.9, "kl": 0.01, "bar_top1": 0.88, "bar_kl": 0.012}
    return {"recipes": {devices.FAST_RECIPE: {**entry, "meets_bar": fast},
                        devices.VISION_BF16_RECIPE: {**entry, "meets_bar": vision}}}


@pytest.mark.parametrize("device", ["cpu", "cuda", "cuda:1", "mps"])
def test_exact_is_fp32_on_every_device(device):
    assert resolve_dtype("auto", device, "exact", AVX2) == torch.float32


@pytest.mark.parametrize("cpu", [AVX2, BF16, AMX, ARM])
def test_cpu_models_stay_fp32_in_every_precision(cpu):
    for precision in ("auto", "exact", "fast"):
        assert resolve_dtype("auto", "cpu", precision, cpu) == torch.float32


@pytest.mark.parametrize("cpu, bf16", [(AVX2, False), (BF16, True), (AMX, True), (ARM, False)])
def test_fast_narrows_to_bf16_only_where_the_cpu_has_bf16_matrix_units(cpu, bf16):
    recipe = fast_recipe(cpu, _verdict(True))
    assert recipe.bf16_gemms == bf16 and recipe.vision_bf16 == bf16
    assert not fast_recipe(cpu, _verdict(True, vision=False)).vision_bf16  # vision bf16 needs its own verdict


@pytest.mark.parametrize("cpu, expected", [(AVX2, "fast"), (BF16, "fast"), (AMX, "fast"), (ARM, "exact"),
                                           (OLD_X86, "exact")])
def test_auto_picks_fast_where_its_kernel_runs_fast_and_it_meets_the_bar(cpu, expected):
    assert resolve_precision("auto", "cpu", cpu, _verdict(True)) == expected
    assert resolve_precision("auto", "cpu", cpu, _verdict(False)) == "exact"
    assert resolve_precision("auto", "cpu", cpu, {}) == "exact"  # no verdict yet: exact


def test_exact_and_fast_are_one_switch_away_and_gpus_keep_auto():
    for cpu in (AVX2, ARM):
        assert resolve_precision("exact", "cpu", cpu, _verdict(True)) == "exact"
        assert resolve_precision("fast", "cpu", cpu, _verdict(False)) == "fast"
    assert resolve_precision("auto", "cuda:0", AMX, _verdict(True)) == "auto"
    with pytest.raises(UsageError, match="unknown precision"):
        resolve_precision("turbo", "cpu", AVX2)


def test_the_committed_verdict_is_well_formed():
    verdict = devices.load_verdict()
    for name in (devices.FAST_RECIPE, devices.VISION_BF16_RECIPE):
        entry = verdict["recipes"][name]
        assert {"top1", "kl", "bar_top1", "bar_kl", "meets_bar"} <= set(entry)
        assert entry["meets_bar"] == (entry["top1"] >= entry["bar_top1"] and entry["kl"] <= entry["bar_kl"])


def test_an_explicit_dtype_wins_and_an_unknown_one_is_refused():
    assert resolve_dtype("bfloat16", "cpu", "exact", AVX2) == torch.bfloat16
    with pytest.raises(UsageError, match="unknown dtype"):
        resolve_dtype("float8", "cpu", "auto", AVX2)


def test_the_labels_say_what_each_precision_does_on_this_cpu(monkeypatch):
    monkeypatch.setattr(devices, "load_verdict", lambda: _verdict(True))
    assert "bf16 vision" in precision_summary("fast", BF16) and "int8" in precision_summary("fast", BF16)
    assert "fp32 vision" in precision_summary("fast", AVX2)
    assert "reference" in precision_summary("exact", AVX2)
    assert precision_summary("auto", AVX2).startswith("Fast on this CPU: it meets the accuracy bar")
    assert precision_summary("auto", ARM).startswith("Exact on this CPU: its vector units have no fast")


def test_cpu_flags_come_from_the_first_processor_and_arm_says_features():
    text = "processor: 0\nmodel name: Test CPU\nflags: fpu avx2 avx512_bf16\n\nprocessor: 1\nflags: fpu\n"
    cpu = parse_cpuinfo(text)
    assert cpu.model == "Test CPU" and cpu.fast_bf16 and "avx2" in cpu.flags
    assert parse_cpuinfo("Features: fp asimd bf16\n").flags == frozenset({"fp", "asimd", "bf16"})


CPUINFO = "processor: 0\nmodel name: Test EPYC\nflags: fpu avx2 avx512f avx512_bf16\n"


def made_up_cpu(cpuinfo: str | None, torch=None) -> CpuFeatures:
    """current_cpu on injected sources: ``cpuinfo`` as /proc/cpuinfo's text (None: no such file, as on Windows and
    macOS), a made-up processor name, ``torch`` as the loaded module: nothing of this machine's CPU is read."""
    return devices.current_cpu(read_cpuinfo=lambda: cpuinfo, processor=lambda: "Test Processor",
                               loaded_torch=lambda: torch)


def test_cpu_flags_from_the_environment_stand_in_for_the_machines(monkeypatch):
    monkeypatch.setenv(devices.CPU_FLAGS_ENV, "avx2 fma")
    assert made_up_cpu(CPUINFO).flags == {"avx2", "fma"}
    monkeypatch.setenv(devices.CPU_FLAGS_ENV, "")
    assert made_up_cpu(CPUINFO) == CpuFeatures(frozenset(), "Test EPYC (flags from GLMOCR_CPU_FLAGS)")
    monkeypatch.delenv(devices.CPU_FLAGS_ENV)
    assert made_up_cpu(CPUINFO) == CpuFeatures(frozenset({"fpu", "avx2", "avx512f", "avx512_bf16"}), "Test EPYC")


class _FakeTorchCpu:
    """torch.cpu's probes as a Windows build on an AVX-512 + BF16 CPU answers them."""

    _is_avx2_supported = _is_avx512_supported = _is_avx512_bf16_supported = staticmethod(lambda: True)
    _is_amx_tile_supported = staticmethod(lambda: False)


def test_without_proc_cpuinfo_the_flags_come_from_torchs_probes_once_torch_is_loaded(monkeypatch):
    """Windows and macOS have no /proc/cpuinfo: before torch is loaded the CPU is not known (and nothing imports
    torch for it); afterwards its probes give the flags, and "auto" on an x86 CPU with AVX2 is fast there too."""
    import types

    monkeypatch.delenv(devices.CPU_FLAGS_ENV)
    before = made_up_cpu(None, torch=None)
    assert not before.known and before.flags == frozenset() and before.model == "Test Processor"
    assert precision_summary("auto", before).startswith("Chosen when the model loads: fast where the CPU has AVX2")
    after = made_up_cpu(None, torch=types.SimpleNamespace(cpu=_FakeTorchCpu))
    assert after.known and after.flags == {"avx2", "avx512f", "avx512_bf16"} and after.fast_bf16
    assert after.model == "Test Processor"
    assert resolve_precision("auto", "cpu", after, _verdict(True)) == "fast"


def test_this_machines_sources_are_the_default_ones(monkeypatch):
    """What current_cpu reads when a caller gives nothing, checked by swapping the readers, not by reading them."""
    monkeypatch.delenv(devices.CPU_FLAGS_ENV)
    monkeypatch.setattr(devices, "read_proc_cpuinfo", lambda: CPUINFO)
    cpu = devices.current_cpu(processor=lambda: "Test Processor", loaded_torch=lambda: None)
    assert cpu.model == "Test EPYC"  # the cpuinfo reader is used


def test_the_cpu_is_remembered_only_once_it_is_known(monkeypatch):
    answers = iter([CpuFeatures(known=False), AVX2, BF16])
    monkeypatch.setattr(devices, "current_cpu", lambda: next(answers))
    monkeypatch.setattr(devices, "_HOST_CPU", [])
    assert not devices.host_cpu().known
    assert devices.host_cpu() == AVX2 and devices.host_cpu() == AVX2  # known: kept, not read again


def test_the_last_level_cache_size_is_read_from_sysfs(tmp_path):
    for index, size in (("index0", "48K"), ("index2", "2048K"), ("index3", "480M")):
        (tmp_path / index).mkdir()
        (tmp_path / index / "size").write_text(size + "\n")
    assert devices.last_level_cache_bytes(tmp_path) == 480 << 20
    assert devices.last_level_cache_bytes(tmp_path / "missing") is None
