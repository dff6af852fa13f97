"""Up to how many rows the fast precision's int8 groups run on the 4-bit kernel, timed on the machine at hand.

A product of a few rows is fastest on the 4-bit kernel, which reads int8's bytes once; one of many rows is fastest
as a GEMM on the weight widened to bf16, because the kernel widens its weights again for every block of rows. Where
one overtakes the other depends on the CPU: 32-64 rows on an AMD EPYC with AVX512-BF16 (both ways cost about the
same in that range, so timing noise moves it there), where the fixed 16 used before sent a one-word snip's 26-row
prompt the slow way. So the first fast-precision load on a CPU times both ways on the decoder's own shapes up a
ladder of row counts (in the background, like ``kernel_choice``, whose cache folder and per-process handling it
shares), and keeps the crossover per CPU, torch version, thread count, shapes and GEMM dtype.

``choose`` is a pure function of timings, so tests inject them; ``measure`` is the only part that reads a clock.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

import torch

from ..model.config import ModelConfig
from . import kernel_choice, quantize
from .devices import CpuFeatures, host_cpu

FORMAT = 1  # bump when the ladder, the shapes or the rule change
ROW_LADDER = (16, 32, 48, 64, 96, 128, 192)  # prompt rows: a word snip ~26-36, a text line ~77
MIN_ROWS = 8  # decode steps (one region, a batch of regions, an MTP check) stay on the kernel whatever the timing:
# widening every weight for a few rows costs more than the kernel's whole product
BUDGET_S = 0.5  # after kernel_choice's; counts past the first loss are not timed, so a round stays short
MIN_ROUNDS, MAX_ROUNDS = 2, 5
WAYS = ("planes", "widened")  # the 4-bit kernel, a widened GEMM
PREFIX = "int8-rows"
NO_WIDENING = "this CPU's packed layout is not the known one: every product runs on the 4-bit kernel"


@dataclass
class PlaneRowsChoice:
    """Plain data for ``glmocr-studio info`` and the benchmark report."""

    rows: int  # products of at most this many rows run on the 4-bit kernel
    reason: str
    source: str  # "measured", "cached", "default" or "fixed"
    gemm: str = ""  # the widened GEMM's dtype
    timings_ms: dict[str, dict[str, float]] = field(default_factory=dict)  # rows (as text) -> way -> best ms
    key: dict = field(default_factory=dict)
    measured_s: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)

    def summary_line(self) -> str:
        beyond = f", a widened {self.gemm} GEMM beyond" if self.gemm else ""
        return f"  int8 groups: the 4-bit kernel up to {self.rows} rows{beyond} ({self.source}: {self.reason})"


def choose(timings_ms: dict[int, dict[str, float]], default: int = quantize.DEFAULT_PLANE_ROWS) -> tuple[int, str]:
    """(rows, reason): the largest count of the ladder up to which the 4-bit kernel won at every timed count. Counts
    are read in order and the first one where the widened GEMM won ends the search (beyond it the kernel only falls
    further behind); without a complete timing the default stays."""
    timed = [rows for rows in sorted(timings_ms) if set(WAYS) <= set(timings_ms[rows])]
    if not timed:
        return default, "not measured: the default"
    won = MIN_ROWS
    for rows in timed:
        planes, widened = (timings_ms[rows][way] for way in WAYS)
        if widened < planes:
            if won == MIN_ROWS:
                return MIN_ROWS, (f"the widened GEMM won from {rows} rows ({widened:.2f} against {planes:.2f} ms); "
                                  f"decode steps of up to {MIN_ROWS} rows stay on the kernel")
            best = timings_ms[won]
            return won, (f"{won} rows: {best['planes']:.2f} against {best['widened']:.2f} ms widened; {rows} rows: "
                         f"widened {widened:.2f} against {planes:.2f} ms")
        won = rows
    return won, f"the 4-bit kernel won at every count timed, up to {won} rows"


def measure(cfg: ModelConfig, gemm_dtype: torch.dtype, budget_s: float = BUDGET_S,
            clock: Callable[[], float] = time.perf_counter) -> dict[int, dict[str, float]]:
    """Best time (ms) of both ways per row count, summed over the decoder's gate/up and down products; empty when
    this CPU's packed layout has no widened GEMM. Both ways alternate within each count, every round climbs the
    ladder until the widened GEMM wins, and the best of the rounds is kept (other load only slows a call)."""
    probes = [quantize.GroupQuantLinear.probe(outputs, inputs, gemm_dtype)
              for inputs, outputs in kernel_choice.decoder_products(cfg)]
    if any(probe.block is None for probe in probes):
        return {}
    generator = torch.Generator().manual_seed(2)
    inputs = {probe.in_features for probe in probes}
    best: dict[int, dict[str, float]] = {}
    started = clock()
    for round_index in range(MAX_ROUNDS):
        if round_index >= MIN_ROUNDS and clock() - started > budget_s:
            break
        for rows in ROW_LADDER:
            xs = {k: torch.empty(rows, k).uniform_(-1, 1, generator=generator) for k in inputs}
            timed = best.setdefault(rows, {})
            for way in WAYS:
                timed[way] = min(_time_way(probes, way, xs, gemm_dtype, clock), timed.get(way, float("inf")))
            if timed["widened"] < timed["planes"]:
                break
    return best


def _time_way(probes, way: str, xs: dict[int, torch.Tensor], gemm_dtype: torch.dtype, clock) -> float:
    narrow = {k: x.to(quantize.ACTIVATIONS if way == "planes" else gemm_dtype) for k, x in xs.items()}
    start = clock()
    for probe in probes:
        x = narrow[probe.in_features]
        probe.planes_product(x) if way == "planes" else probe.widened_product(x)
    return (clock() - start) * 1e3


# ------------------------------------------------------------------------------------------------ one per process


def choice_key(cfg: ModelConfig, gemm_dtype: torch.dtype, cpu: CpuFeatures, threads: int) -> dict:
    return {"format": FORMAT, **kernel_choice.machine_key(cpu, threads), "gemm": _dtype_name(gemm_dtype),
            "shapes": [list(shape) for shape in kernel_choice.decoder_products(cfg)], "ladder": list(ROW_LADDER),
            "block": quantize.pack_block(), "slice": quantize.DEQUANT_ELEMENTS,
            "activations": _dtype_name(quantize.ACTIVATIONS)}


def settle(cfg: ModelConfig, gemm_dtype: torch.dtype, cpu: CpuFeatures | None = None,
           cache_dir: Path | None = None, budget_s: float = BUDGET_S) -> PlaneRowsChoice:
    """The cached crossover for this machine and model, or a new measurement (then cached); installed either way."""
    key = choice_key(cfg, gemm_dtype, cpu or host_cpu(), torch.get_num_threads())
    path = kernel_choice.cache_path(cache_dir, key, PREFIX) if cache_dir is not None else None
    choice = read_cached(path, key) if path is not None else None
    if choice is None:
        choice = measured_choice(cfg, gemm_dtype, key, budget_s)
        if path is not None:
            kernel_choice.write_cached(path, choice, key)
    quantize.use_plane_rows(choice.rows)
    return choice


def measured_choice(cfg: ModelConfig, gemm_dtype: torch.dtype, key: dict,
                    budget_s: float = BUDGET_S) -> PlaneRowsChoice:
    started = time.perf_counter()
    with torch.inference_mode():
        timings = measure(cfg, gemm_dtype, budget_s)
    if not timings:
        return PlaneRowsChoice(quantize.DEFAULT_PLANE_ROWS, NO_WIDENING, "default", "", {}, key)
    rows, reason = choose(timings)
    stored = {str(count): {way: round(ms, 3) for way, ms in by_way.items()} for count, by_way in timings.items()}
    return PlaneRowsChoice(rows, reason, "measured", _dtype_name(gemm_dtype), stored, key,
                           time.perf_counter() - started)


def read_cached(path: Path, key: dict) -> PlaneRowsChoice | None:
    choice = kernel_choice.read_stored(path, key, PlaneRowsChoice)
    if choice is None or not isinstance(choice.rows, int) or choice.rows < 1:
        return None
    return choice


def default_choice(why: str = "not measured yet: it is measured at the first fast-precision load") -> PlaneRowsChoice:
    return PlaneRowsChoice(quantize.DEFAULT_PLANE_ROWS, why, "default")


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


_PROCESS = kernel_choice.BackgroundChoice(default_choice, "int8 crossover")
_UNSET = object()


def start(cfg: ModelConfig, gemm_dtype: torch.dtype, cpu: CpuFeatures | None = None, cache_dir=_UNSET) -> None:
    """Time this process's crossover in the background (once; later calls do nothing); cached in the kernel
    choice's folder unless ``cache_dir`` says otherwise (None: not kept)."""
    folder = kernel_choice.default_cache_dir() if cache_dir is _UNSET else cache_dir

    def work() -> PlaneRowsChoice:
        kernel_choice.wait()  # one timing at a time: two at once would each slow the other's
        return settle(cfg, gemm_dtype, cpu, folder)

    _PROCESS.start(work)


def wait() -> PlaneRowsChoice | None:
    return _PROCESS.wait()


def fix(rows: int, why: str) -> None:
    """Run this process with ``rows`` as the crossover and time nothing (the test suite: numerics that do not
    depend on the machine); a no-op when a choice was already started."""
    choice = PlaneRowsChoice(rows, why, "fixed")
    _PROCESS.start(lambda: choice)
    if wait() is choice:
        quantize.use_plane_rows(rows)


def describe(cfg: ModelConfig | None, gemm_dtype: torch.dtype, cpu: CpuFeatures | None = None) -> PlaneRowsChoice:
    """What this process runs, else the cached crossover a fast load would use, else the default; measures nothing."""
    key = choice_key(cfg, gemm_dtype, cpu or host_cpu(), torch.get_num_threads()) if cfg is not None else None
    running = _PROCESS.choice
    if running is not None and (cfg is None or running.key == key):
        return running
    folder = kernel_choice.default_cache_dir()
    if key is not None and folder is not None:
        cached = read_cached(kernel_choice.cache_path(folder, key, PREFIX), key)
        if cached is not None:
            return cached
    if quantize.pack_block() is None:
        return default_choice(NO_WIDENING)
    return replace(default_choice(), gemm=_dtype_name(gemm_dtype))
