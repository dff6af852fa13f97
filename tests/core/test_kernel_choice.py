"""The CPU kernel choice: the rule on injected timings, the exactness check, the cache per CPU and torch version,
and the one background choice per process. No test here depends on how fast anything runs."""

from __future__ import annotations

import json

import pytest
import torch

from glmocr_core.model import layers
from glmocr_core.runtime import kernel_choice as kc
from glmocr_core.runtime.devices import CpuFeatures
from glmocr_core.testing.checkpoints import tiny_config

AMX = CpuFeatures(frozenset({"avx512f", "amx_bf16", "amx_tile"}), "Intel Xeon Test")
AVX2 = CpuFeatures(frozenset({"avx2", "fma"}), "AMD EPYC Test")
DEFAULT = {"one_row": "onednn", "few_rows": "onednn", "many_rows": "onednn"}
ALL_EXACT = {"f_linear": True, "onednn": True, "transposed": True}


@pytest.fixture(autouse=True)
def restore_choice(monkeypatch):
    """Each test gets the process state of a fresh start, and the suite's own choice back afterwards."""
    monkeypatch.setattr(layers, "_chosen", layers._chosen)
    monkeypatch.setattr(kc, "_PROCESS", kc.BackgroundChoice(kc.default_choice))


def test_the_fastest_exact_kernel_wins_each_row_class():
    timings = {"one_row": {"f_linear": 4.0, "onednn": 6.0}, "few_rows": {"f_linear": 9.0, "onednn": 5.0,
               "transposed": 3.0}, "many_rows": {"f_linear": 50.0, "onednn": 40.0}}
    kernels, reasons = kc.choose(timings, ALL_EXACT, DEFAULT)
    assert kernels == {"one_row": "f_linear", "few_rows": "transposed", "many_rows": "onednn"}
    assert "fastest exact, 4.00 ms" in reasons["one_row"] and "onednn 6.00 ms" in reasons["one_row"]


def test_an_inexact_kernel_never_wins_however_fast():
    timings = {"one_row": {"f_linear": 4.0, "onednn": 1.0}}
    kernels, _ = kc.choose(timings, {**ALL_EXACT, "onednn": False}, DEFAULT)
    assert kernels["one_row"] == "f_linear"


def test_a_win_within_the_noise_margin_keeps_the_default():
    timings = {"one_row": {"f_linear": 9.8, "onednn": 10.0}, "few_rows": {"f_linear": 8.0, "onednn": 10.0}}
    kernels, reasons = kc.choose(timings, ALL_EXACT, DEFAULT)
    assert kernels["one_row"] == "onednn" and "within 5%" in reasons["one_row"]
    assert kernels["few_rows"] == "f_linear"


def test_classes_without_timings_keep_the_default():
    kernels, reasons = kc.choose({}, ALL_EXACT, DEFAULT)
    assert kernels == DEFAULT and all("default" in why for why in reasons.values())


def test_the_probe_shapes_are_the_models_own():
    cfg = tiny_config()
    shapes = kc.probe_shapes(cfg)
    t, v = cfg.text, cfg.vision
    assert kc.Shape(1, t.hidden_size, 2 * t.intermediate_size) in shapes["one_row"]
    assert kc.Shape(1, t.intermediate_size, t.hidden_size) in shapes["one_row"]
    assert {s.rows for s in shapes["few_rows"]} == {kc.BATCH_ROWS}
    assert kc.Shape(kc.VISION_ROWS, v.hidden_size, v.intermediate_size) in shapes["many_rows"]


def test_every_real_kernel_is_exact_and_a_bf16_one_is_not(monkeypatch):
    def bf16_kernel(x, weight, bias):
        return torch.nn.functional.linear(x.bfloat16(), weight.bfloat16()).float()

    monkeypatch.setattr(layers, "FP32_KERNELS", {**layers.FP32_KERNELS, "onednn": bf16_kernel})
    monkeypatch.setattr(layers, "available_cpu_kernels", lambda: tuple(layers.FP32_KERNELS))
    exact, rejected = kc.exactness(kc.probe_shapes(tiny_config()))
    assert exact == {"f_linear": True, "onednn": False, "transposed": True}
    assert "against fp64" in rejected["onednn"]


def test_measure_times_every_candidate_of_every_class_with_a_fake_clock(monkeypatch):
    ticks = iter(range(10**6))
    timings = kc.measure(kc.probe_shapes(tiny_config()), budget_s=1e9, clock=lambda: next(ticks) * 1e-3)
    assert set(timings) == set(layers.ROW_CLASSES)
    for kind, by_name in timings.items():
        assert set(by_name) == set(kc.candidates(kind))
        assert all(ms == pytest.approx(1.0) for ms in by_name.values())  # one tick per timed group


def test_the_budget_stops_timing_after_the_minimum_rounds():
    calls = []
    now = [0.0]

    def clock():
        now[0] += 10.0  # every reading is 10 s later: the budget is spent at once
        calls.append(now[0])
        return now[0]

    kc.measure(kc.probe_shapes(tiny_config()), budget_s=1.0, clock=clock)
    groups = sum(len(kc.candidates(kind)) * kc.REPEATS[kind] for kind in layers.ROW_CLASSES)
    # the start, two readings per timed group in the minimum rounds, then the one check that stops
    assert len(calls) == 1 + kc.MIN_ROUNDS * 2 * groups + 1


def _measured(kernels: dict[str, str]) -> kc.KernelChoice:
    return kc.KernelChoice(kernels, dict.fromkeys(kernels, "test"), "measured", {"one_row": {"f_linear": 1.0}})


def test_a_choice_is_cached_per_cpu_and_torch_version(tmp_path, monkeypatch):
    cfg = tiny_config()
    choice = dict.fromkeys(layers.ROW_CLASSES, "f_linear")
    monkeypatch.setattr(kc, "measured_choice", lambda cfg, key, budget_s=kc.BUDGET_S: _measured(choice))
    first = kc.settle(cfg, AMX, tmp_path)
    assert first.source == "measured" and layers.cpu_kernels() == choice
    assert len(list(tmp_path.glob("kernels-*.json"))) == 1

    def refuse(*args, **kwargs):
        raise AssertionError("measured again although a cached choice fits")

    monkeypatch.setattr(kc, "measured_choice", refuse)
    again = kc.settle(cfg, AMX, tmp_path)
    assert again.source == "cached" and again.kernels == choice and again.timings_ms == {"one_row": {"f_linear": 1.0}}
    assert kc.describe(cfg, AMX, tmp_path).source == "cached"
    # another CPU or another torch is another key
    monkeypatch.setattr(kc, "measured_choice", lambda cfg, key, budget_s=kc.BUDGET_S: _measured(choice))
    assert kc.settle(cfg, AVX2, tmp_path).source == "measured"
    monkeypatch.setattr(torch, "__version__", "0.0-test")
    assert kc.settle(cfg, AMX, tmp_path).source == "measured"
    assert len(list(tmp_path.glob("kernels-*.json"))) == 3


def test_a_damaged_or_foreign_cache_file_is_measured_again(tmp_path):
    cfg = tiny_config()
    key = kc.choice_key(cfg, AMX, 2)
    path = kc.cache_path(tmp_path, key)
    path.write_text("{not json")
    assert kc.read_cached(path, key) is None
    path.write_text(json.dumps({**_measured(dict.fromkeys(layers.ROW_CLASSES, "f_linear")).as_dict(),
                                "key": {**key, "torch": "other"}}))
    assert kc.read_cached(path, key) is None
    path.write_text(json.dumps({**_measured(dict.fromkeys(layers.ROW_CLASSES, "gone")).as_dict(), "key": key}))
    assert kc.read_cached(path, key) is None  # a kernel this torch no longer has


def test_without_a_cache_folder_the_choice_is_measured_and_kept_in_memory(monkeypatch):
    monkeypatch.setattr(kc, "measured_choice", lambda cfg, key, budget_s=kc.BUDGET_S: _measured(
        dict.fromkeys(layers.ROW_CLASSES, "f_linear")))
    assert kc.settle(tiny_config(), AMX, None).source == "measured"
    assert kc.describe(None, AMX, None).source == "default"


def test_one_background_choice_per_process(monkeypatch):
    runs = []
    monkeypatch.setattr(kc, "settle", lambda cfg, cpu, cache_dir: runs.append(cfg) or _measured(
        dict.fromkeys(layers.ROW_CLASSES, "f_linear")))
    kc.start(tiny_config(), AMX, None)
    kc.start(tiny_config(), AMX, None)
    assert kc.wait().kernels["one_row"] == "f_linear"
    assert len(runs) == 1 and kc.describe(None).source == "measured"


def test_a_failing_measurement_keeps_the_default_and_says_why(monkeypatch, caplog):
    def broken(*args):
        raise RuntimeError("no oneDNN today")

    monkeypatch.setattr(kc, "settle", broken)
    kc.start(tiny_config(), AMX, None)
    choice = kc.wait()
    assert choice.source == "default" and "no oneDNN today" in choice.reasons["one_row"]
    assert "keeping the default" in caplog.text


def test_the_description_is_plain_data_with_readable_lines():
    choice = kc.KernelChoice(dict(DEFAULT), dict.fromkeys(DEFAULT, "fastest exact, 1.00 ms"), "measured",
                             {"one_row": {"onednn": 1.0}}, {"transposed": "few_rows: error 1e-2"}, {}, 1.2)
    data = choice.as_dict()
    assert json.loads(json.dumps(data)) == data
    lines = choice.summary_lines()
    assert lines[0] == "CPU kernels (measured, 1.2 s):" and "  one_row: onednn (fastest exact, 1.00 ms)" in lines
    assert any("not exact: transposed" in line for line in lines)


def test_a_real_measurement_of_the_tiny_shapes_installs_exact_kernels():
    """The whole path once, on tiny shapes: whatever wins on this machine must be a kernel that exists."""
    choice = kc.measured_choice(tiny_config(), {}, budget_s=0.2)
    assert set(choice.kernels) == set(layers.ROW_CLASSES)
    assert set(choice.kernels.values()) <= set(layers.available_cpu_kernels())
    assert set(choice.timings_ms) == set(layers.ROW_CLASSES)


EXIT_DURING_TIMING = """
import sys, time, torch
from glmocr_core.runtime.kernel_choice import BackgroundChoice

def work():
    deadline, a = time.perf_counter() + 1.0, torch.randn(256, 256)
    while time.perf_counter() < deadline:
        a @ a
    open(sys.argv[1], "w").write("finished")

BackgroundChoice(lambda why: why, "test").start(work)
"""  # the main thread ends at once, while torch ops run on the timing thread


def test_a_process_that_exits_during_a_timing_waits_for_it_instead_of_aborting(tmp_path):
    import subprocess
    import sys

    marker = tmp_path / "finished"
    done = subprocess.run([sys.executable, "-c", EXIT_DURING_TIMING, str(marker)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert marker.read_text() == "finished"


def test_decode_classes_read_their_weights_from_copies_beyond_the_cache(monkeypatch):
    seen: dict[str, set[int]] = {}
    current = {"kind": ""}

    def recording(x, weight, bias):
        seen.setdefault(current["kind"], set()).add(weight.data_ptr())
        return torch.nn.functional.linear(x, weight)

    shapes = kc.probe_shapes(tiny_config())
    monkeypatch.setattr(layers, "FP32_KERNELS", dict.fromkeys(layers.FP32_KERNELS, recording))
    real_time_group = kc._time_group

    def time_group(kernel, group, xs, weights, clock):
        current["kind"] = next(kind for kind, g in shapes.items() if g is group)
        return real_time_group(kernel, group, xs, weights, clock)

    monkeypatch.setattr(kc, "_time_group", time_group)
    one_copy = sum(s.inputs * s.outputs * 4 for s in shapes["one_row"])
    kc.measure(shapes, budget_s=0.0, cache_bytes=3 * one_copy)
    copies_needed = 2 * 3 * one_copy  # twice the cache
    decode_bytes = len(seen["one_row"] | seen["few_rows"]) // len(shapes["one_row"]) * one_copy
    assert decode_bytes >= copies_needed  # the decode classes cycled through more weight than the cache holds
    assert len(seen["many_rows"]) == len(shapes["many_rows"])  # prefill is compute-bound: one copy, hot

