"""Where fast precision's int8 groups leave the 4-bit kernel for a widened GEMM: the rule on injected timings, the
ladder climbed only up to the first loss, the cache per CPU and GEMM dtype, and the model runner that starts it.
No test here depends on how fast anything runs."""

from __future__ import annotations

import pytest
import torch

from glmocr_core.checkpoint.loading import load_model
from glmocr_core.runtime import kernel_choice, plane_rows as pr
from glmocr_core.runtime import quantize as qz
from glmocr_core.runtime.decoding import ModelRunner
from glmocr_core.runtime.devices import CpuFeatures
from glmocr_core.testing.checkpoints import tiny_config

pytestmark = pytest.mark.skipif(not qz.group_kernel_available(), reason="this PyTorch has no 4-bit group kernel")
KNOWN_LAYOUT = pytest.mark.skipif(qz.pack_block() is None, reason="no widened GEMM without the known packed layout")
BF16_CPU = CpuFeatures(frozenset({"avx512f", "avx512_bf16"}), "AMD EPYC Test")
OTHER_CPU = CpuFeatures(frozenset({"avx2", "fma"}), "Intel Core Test")


@pytest.fixture(autouse=True)
def fresh_process(monkeypatch):
    """Each test starts as a fresh process would, and leaves the suite's crossover as it found it."""
    monkeypatch.setattr(pr, "_PROCESS", kernel_choice.BackgroundChoice(pr.default_choice))
    monkeypatch.setattr(qz, "_plane_rows", qz.DEFAULT_PLANE_ROWS)


def _timings(crossing: int, counts=pr.ROW_LADDER) -> dict[int, dict[str, float]]:
    """The 4-bit kernel costs 1 ms a row, the widened GEMM a flat ``crossing`` ms."""
    return {rows: {"planes": float(rows), "widened": float(crossing)} for rows in counts}


def test_the_crossover_is_the_last_count_the_kernel_won_before_the_first_loss():
    rows, reason = pr.choose(_timings(40))
    assert rows == 32
    assert "32 rows: 32.00 against 40.00 ms widened" in reason and "48 rows: widened 40.00 against 48.00" in reason


def test_a_later_win_does_not_undo_the_first_loss():
    timings = _timings(40)
    timings[128] = {"planes": 1.0, "widened": 50.0}  # noise far up the ladder
    assert pr.choose(timings)[0] == 32


def test_a_kernel_that_wins_everywhere_runs_up_to_the_last_count_timed():
    rows, reason = pr.choose(_timings(10_000))
    assert rows == pr.ROW_LADDER[-1] and "every count timed" in reason


def test_a_widened_gemm_that_wins_from_the_first_count_still_leaves_decode_steps_on_the_kernel():
    rows, reason = pr.choose(_timings(1))
    assert rows == pr.MIN_ROWS and "from 16 rows" in reason and f"up to {pr.MIN_ROWS} rows stay" in reason


def test_without_complete_timings_the_default_stays():
    assert pr.choose({}) == (qz.DEFAULT_PLANE_ROWS, "not measured: the default")
    assert pr.choose({16: {"planes": 1.0}})[0] == qz.DEFAULT_PLANE_ROWS


@KNOWN_LAYOUT
def test_each_round_climbs_the_ladder_only_up_to_the_first_loss(monkeypatch):
    timed = []

    def fake_time(probes, way, xs, gemm_dtype, clock):
        rows = next(iter(xs.values())).shape[0]
        timed.append((rows, way))
        return float(rows) if way == "planes" else 40.0

    monkeypatch.setattr(pr, "_time_way", fake_time)
    ticks = iter(range(10**6))
    best = pr.measure(tiny_config(), torch.bfloat16, budget_s=1e9, clock=lambda: float(next(ticks)))
    assert sorted(best) == [16, 32, 48]  # 48 rows lost: 64 and beyond are never timed
    assert len(timed) == pr.MAX_ROUNDS * 3 * len(pr.WAYS)
    assert best[48] == {"planes": 48.0, "widened": 40.0}


@KNOWN_LAYOUT
def test_the_budget_stops_after_the_minimum_rounds(monkeypatch):
    rounds = []
    monkeypatch.setattr(pr, "_time_way", lambda probes, way, xs, gemm_dtype, clock: rounds.append(1) or 1.0)
    now = iter(float(t) * 100 for t in range(10**6))  # every reading 100 s later: the budget is spent at once
    pr.measure(tiny_config(), torch.bfloat16, budget_s=1.0, clock=lambda: next(now))
    assert len(rounds) == pr.MIN_ROUNDS * len(pr.ROW_LADDER) * len(pr.WAYS)  # the kernel "tied" all the way up


@KNOWN_LAYOUT
@pytest.mark.parametrize("gemm_dtype", [torch.bfloat16, torch.float32])
def test_a_real_measurement_on_the_tiny_shapes_picks_a_count_of_the_ladder(gemm_dtype):
    choice = pr.measured_choice(tiny_config(), gemm_dtype, {}, budget_s=0.05)  # the minimum rounds
    assert choice.rows in (1, *pr.ROW_LADDER) and choice.source == "measured"
    assert choice.gemm == str(gemm_dtype).removeprefix("torch.")
    assert set(choice.timings_ms[str(pr.ROW_LADDER[0])]) == set(pr.WAYS)


def _measured(rows: int) -> pr.PlaneRowsChoice:
    return pr.PlaneRowsChoice(rows, "test", "measured", "bfloat16", {"16": {"planes": 1.0, "widened": 2.0}})


def test_the_crossover_is_cached_per_cpu_and_gemm_dtype_and_installed(tmp_path, monkeypatch):
    cfg = tiny_config()
    monkeypatch.setattr(pr, "measured_choice", lambda cfg, dtype, key, budget_s=pr.BUDGET_S: _measured(48))
    first = pr.settle(cfg, torch.bfloat16, BF16_CPU, tmp_path)
    assert first.source == "measured" and qz.plane_rows() == 48
    assert len(list(tmp_path.glob(f"{pr.PREFIX}-*.json"))) == 1

    def refuse(*args, **kwargs):
        raise AssertionError("measured again although a cached crossover fits")

    monkeypatch.setattr(pr, "measured_choice", refuse)
    qz.use_plane_rows(qz.DEFAULT_PLANE_ROWS)
    again = pr.settle(cfg, torch.bfloat16, BF16_CPU, tmp_path)
    assert again.source == "cached" and again.rows == 48 and qz.plane_rows() == 48
    monkeypatch.setattr(pr, "measured_choice", lambda cfg, dtype, key, budget_s=pr.BUDGET_S: _measured(96))
    assert pr.settle(cfg, torch.float32, BF16_CPU, tmp_path).source == "measured"  # another GEMM dtype
    assert pr.settle(cfg, torch.bfloat16, OTHER_CPU, tmp_path).source == "measured"  # another CPU
    assert len(list(tmp_path.glob(f"{pr.PREFIX}-*.json"))) == 3


def test_a_damaged_or_nonsense_cache_file_is_measured_again(tmp_path):
    key = pr.choice_key(tiny_config(), torch.bfloat16, BF16_CPU, 2)
    path = kernel_choice.cache_path(tmp_path, key, pr.PREFIX)
    path.write_text("{not json")
    assert pr.read_cached(path, key) is None
    kernel_choice.write_cached(path, _measured(0), key)
    assert pr.read_cached(path, key) is None  # no product may skip the kernel at one row
    kernel_choice.write_cached(path, _measured(32), key)
    assert pr.read_cached(path, key).rows == 32


@KNOWN_LAYOUT
def test_products_take_the_way_the_crossover_says():
    torch.manual_seed(3)
    quantized = qz.GroupQuantLinear.from_linear(torch.nn.Linear(256, 128), gemm_dtype=torch.bfloat16)
    x = torch.randn(30, 256)
    on_kernel = quantized.planes_product(x.bfloat16()) + quantized.bias
    widened = quantized.widened_product(x.bfloat16()).float() + quantized.bias
    assert not torch.equal(on_kernel, widened)  # the two ways round differently, so the test can tell them apart
    qz.use_plane_rows(32)
    assert torch.equal(quantized(x), on_kernel)
    qz.use_plane_rows(16)
    assert torch.equal(quantized(x), widened)
    with pytest.raises(ValueError, match="one-row"):
        qz.use_plane_rows(0)


def test_a_fast_model_runner_times_the_crossover_once_and_an_exact_one_does_not(tiny_checkpoint, monkeypatch):
    started = []
    monkeypatch.setattr(pr, "settle", lambda cfg, dtype, cpu, folder: started.append(dtype) or _measured(48))
    model = load_model(tiny_checkpoint)
    ModelRunner(model)
    assert started == [] and pr.wait() is None
    runner = ModelRunner(model)
    qz.quantize_decoder(model, gemm_dtype=torch.bfloat16)  # as the engine does: quantized after the runner exists
    runner.start_cpu_timings()
    ModelRunner(model)
    assert pr.wait().rows == 48 and started == [torch.bfloat16]


def test_a_fast_engine_on_a_bf16_cpu_times_the_crossover(tiny_checkpoint, monkeypatch):
    from glmocr_core.engine import Engine

    started = []
    monkeypatch.setattr(pr, "settle", lambda cfg, dtype, cpu, folder: started.append(dtype) or _measured(32))
    Engine.load(tiny_checkpoint, device="cpu", precision="fast", weight_cache=False, cpu=BF16_CPU)
    assert pr.wait().rows == 32 and started == [torch.bfloat16]


def test_without_the_known_packed_layout_nothing_is_timed_and_no_widened_gemm_is_claimed(monkeypatch):
    monkeypatch.setattr(qz, "pack_block", lambda: None)
    choice = pr.measured_choice(tiny_config(), torch.bfloat16, {})
    assert choice.source == "default" and choice.reason == pr.NO_WIDENING and choice.timings_ms == {}
    assert "widened" not in choice.summary_line().split("(")[0]
    assert pr.describe(tiny_config(), torch.bfloat16, BF16_CPU).reason == pr.NO_WIDENING


def test_the_description_is_the_running_choice_only_for_its_own_model_and_dtype(monkeypatch):
    cfg = tiny_config()
    monkeypatch.setattr(kernel_choice, "default_cache_dir", lambda: None)
    running = _measured(48)
    running.key = pr.choice_key(cfg, torch.bfloat16, BF16_CPU, torch.get_num_threads())
    pr._PROCESS.start(lambda: running)
    pr.wait()
    assert pr.describe(cfg, torch.bfloat16, BF16_CPU) is running
    other = pr.describe(cfg, torch.float32, BF16_CPU)  # what a load with fp32 GEMMs would run: not measured yet
    assert other.source == "default" and (other.gemm == "float32" or other.reason == pr.NO_WIDENING)


def test_a_fixed_crossover_is_installed_and_no_timing_follows(monkeypatch):
    monkeypatch.setattr(pr, "settle", lambda *args: pytest.fail("timed although the crossover is fixed"))
    pr.fix(40, "fixed for this test")
    assert qz.plane_rows() == 40 and pr.wait().source == "fixed"
    pr.start(tiny_config(), torch.bfloat16)
    assert pr.wait().rows == 40
