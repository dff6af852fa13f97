"""Which exact fp32 kernel runs each CPU product, chosen by timing the candidates on the machine at hand.

The fastest fp32 product kernel depends on the CPU: oneDNN won every row count on an AMD AVX2 machine, while on an
Intel AMX Xeon the same choice made exact decoding slower than the reference. So at the first model load on a CPU
the candidates of ``model.layers.FP32_KERNELS`` are timed on the model's own shapes (one-row decode, a batch of rows,
prefill), for at most ``BUDGET_S``, and the fastest one whose result is as exact as F.linear's wins each row class.
The choice is kept per CPU (model name and flags), torch version, thread count and model shapes in the user cache
folder, so later starts only read a small JSON file.

The selection (``choose``) is a pure function of timings and exactness, so tests inject both; ``measure`` is the only
part that reads a clock. ``start`` runs the whole thing on a background thread while the model loads; ``wait``
returns once the choice is installed (the runner calls it before its first prefill, so every request of a process
runs with one choice and results stay reproducible within it).
"""

from __future__ import annotations

import atexit
import hashlib
import json
import logging
import os
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch

from ..model import layers
from ..model.config import ModelConfig
from ..paths import weight_cache_dir
from .devices import CpuFeatures, host_cpu, last_level_cache_bytes

CHOICE_FORMAT = 2  # bump when the candidates, the shapes or the rule change: cached choices are then re-measured
BUDGET_S = 1.0  # timing budget; with the exactness probe and the set-up the whole choice stays under 2 s
MIN_ROUNDS = 2  # interleaved rounds every row class gets before the budget may stop the timing
MAX_ROUNDS = 7
MARGIN = 0.05  # a challenger must beat the default by 5%: timing noise alone must not flip a choice
EXACT_FACTOR = 4.0  # a candidate is exact when its error against fp64 is at most 4x F.linear's (bf16 or tf32 math
# inside a kernel would be hundreds of times larger; reordered fp32 sums are within 1-2x)
PREFILL_ROWS, BATCH_ROWS, VISION_ROWS = 64, 8, 128  # big enough to show each kernel's GEMM rate
# Decoding streams every decoder weight from memory once per step, so the decode classes are timed on a ring of
# weight copies twice the size of the last-level cache: timed on one copy, an AMX Xeon's 480 MB L3 held it and oneDNN
# looked as fast as F.linear at one row, while F.linear streams 10% faster from memory there.
STREAMED = ("one_row", "few_rows")
STREAM_CACHE_FACTOR = 2
STREAM_BYTES_CAP = 1 << 30  # transient probe memory at most (the real decoder's weights are ~1.9 GB of fp32)
DEFAULT_CACHE_BYTES = 32 << 20  # where the cache size is unknown
# which candidates compete in each row class ("transposed" only helps a few rows)
CANDIDATES = {"one_row": ("f_linear", "onednn"), "few_rows": ("f_linear", "onednn", "transposed"),
              "many_rows": ("f_linear", "onednn")}
REFERENCE = "f_linear"
REPEATS = {"one_row": 4, "few_rows": 2, "many_rows": 1}  # timings per round: cheap classes get more samples
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Shape:
    rows: int
    inputs: int
    outputs: int


@dataclass
class KernelChoice:
    """Plain data for ``glmocr-studio info`` and the benchmark report: what runs, why, and the timings."""

    kernels: dict[str, str]  # row class -> kernel name
    reasons: dict[str, str]  # row class -> one sentence
    source: str  # "measured", "cached" or "default"
    timings_ms: dict[str, dict[str, float]] = field(default_factory=dict)  # row class -> kernel -> best ms
    rejected: dict[str, str] = field(default_factory=dict)  # kernel -> why it was not exact
    key: dict = field(default_factory=dict)  # what the choice is valid for
    measured_s: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)

    def summary_lines(self) -> list[str]:
        lines = [f"CPU kernels ({self.source}" + (f", {self.measured_s:.1f} s" if self.source == "measured" else "")
                 + "):"]
        lines += [f"  {kind}: {self.kernels[kind]} ({self.reasons.get(kind, '')})" for kind in layers.ROW_CLASSES]
        lines += [f"  not exact: {name} ({why})" for name, why in self.rejected.items()]
        return lines


# ------------------------------------------------------------------------------------------------ the rule


def choose(timings_ms: dict[str, dict[str, float]], exact: dict[str, bool],
           default: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """(kernels, reasons) per row class: the fastest exact candidate, unless it beats the default by less than
    ``MARGIN`` (then the default stays). Classes without an exact timed candidate keep the default."""
    kernels, reasons = {}, {}
    for kind in layers.ROW_CLASSES:
        timed = {name: ms for name, ms in timings_ms.get(kind, {}).items() if exact.get(name, False)}
        kernels[kind], reasons[kind] = _choose_one(timed, default[kind])
    return kernels, reasons


def _choose_one(timed: dict[str, float], default: str) -> tuple[str, str]:
    if not timed:
        return default, "not measured: the default"
    fastest = min(timed, key=timed.get)
    others = ", ".join(f"{name} {ms:.2f} ms" for name, ms in sorted(timed.items(), key=lambda kv: kv[1])
                       if name != fastest)
    if fastest != default and default in timed and timed[fastest] > (1 - MARGIN) * timed[default]:
        return default, (f"{default} {timed[default]:.2f} ms kept: {fastest} {timed[fastest]:.2f} ms is within "
                         f"{MARGIN:.0%}")
    return fastest, f"fastest exact, {timed[fastest]:.2f} ms" + (f"; {others}" if others else "")


# ------------------------------------------------------------------------------------------------ measuring


def probe_shapes(cfg: ModelConfig) -> dict[str, list[Shape]]:
    """The model's own product shapes per row class: the decoder's gate/up and down projections, plus the head for
    the decode classes and a vision MLP product for prefill (the vision tower is most of a first token)."""
    rows = {"one_row": 1, "few_rows": BATCH_ROWS, "many_rows": PREFILL_ROWS}
    shapes = {kind: [Shape(n, i, o) for i, o in decoder_products(cfg)] for kind, n in rows.items()}
    for kind in STREAMED:  # every decode step also runs the head: its biggest single product
        shapes[kind].append(Shape(rows[kind], cfg.text.hidden_size, cfg.text.vocab_size))
    shapes["many_rows"].append(Shape(VISION_ROWS, cfg.vision.hidden_size, cfg.vision.intermediate_size))
    return shapes


def decoder_products(cfg: ModelConfig) -> list[tuple[int, int]]:
    """(inputs, outputs) of the decoder's gate/up and down projections: most of its weights."""
    t = cfg.text
    return [(t.hidden_size, 2 * t.intermediate_size), (t.intermediate_size, t.hidden_size)]


def candidates(kind: str) -> tuple[str, ...]:
    return tuple(name for name in CANDIDATES[kind] if name in layers.available_cpu_kernels())


def exactness(shapes: dict[str, list[Shape]]) -> tuple[dict[str, bool], dict[str, str]]:
    """(kernel -> exact, kernel -> why not) from small products with the model's longest sums, against fp64."""
    generator = torch.Generator().manual_seed(0)
    inputs = max(s.inputs for group in shapes.values() for s in group)
    exact, rejected = {}, {}
    for kind, rows in (("one_row", 1), ("few_rows", BATCH_ROWS), ("many_rows", 64)):
        x = torch.empty(rows, inputs).uniform_(-1, 1, generator=generator)
        weight = torch.empty(64, inputs).uniform_(-0.05, 0.05, generator=generator)
        truth = x.double() @ weight.double().t()
        allowed = EXACT_FACTOR * _error(layers.FP32_KERNELS[REFERENCE](x, weight, None), truth)
        for name in candidates(kind):
            error = _error(layers.FP32_KERNELS[name](x, weight, None), truth)
            if error > allowed + 1e-7 * float(truth.abs().max()):
                exact[name] = False
                rejected[name] = f"{kind}: error {error:.2e} against fp64, F.linear's {allowed / EXACT_FACTOR:.2e}"
            exact.setdefault(name, True)
    return exact, rejected


def _error(out: torch.Tensor, truth: torch.Tensor) -> float:
    return float((out.double() - truth).abs().max())


def measure(shapes: dict[str, list[Shape]], budget_s: float = BUDGET_S,
            clock: Callable[[], float] = time.perf_counter,
            cache_bytes: int | None = None) -> dict[str, dict[str, float]]:
    """Best time (ms) of each candidate per row class, summed over the class's shapes. Candidates are interleaved
    round by round and the best round is kept: on a shared machine the other load slows a call, never speeds it.
    The ``STREAMED`` classes take their weights from a ring of copies beyond ``cache_bytes`` (the CPU's
    last-level cache by default), as decoding does."""
    weights = _probe_weights(shapes)
    ring = _weight_ring(shapes, weights, cache_bytes)
    generator = torch.Generator().manual_seed(1)
    xs = {s: torch.empty(s.rows, s.inputs).uniform_(-1, 1, generator=generator) for g in shapes.values() for s in g}
    best: dict[str, dict[str, float]] = {kind: {} for kind in shapes}
    started, turn = clock(), 0
    for round_index in range(MAX_ROUNDS):
        if round_index >= MIN_ROUNDS and clock() - started > budget_s:
            break
        for kind, group in shapes.items():
            for name in candidates(kind):
                for _ in range(REPEATS[kind]):
                    copy = weights
                    if kind in STREAMED:  # the next copy of the ring: the one read longest ago
                        copy, turn = ring[turn % len(ring)], turn + 1
                    ms = _time_group(layers.FP32_KERNELS[name], group, xs, copy, clock)
                    best[kind][name] = min(ms, best[kind].get(name, float("inf")))
    return best


def _probe_weights(shapes: dict[str, list[Shape]]) -> dict[tuple[int, int], torch.Tensor]:
    # constant values: no product kernel has a fast path for them, and filling 100 MB this way costs milliseconds
    sizes = {(s.outputs, s.inputs) for group in shapes.values() for s in group}
    return {size: torch.full(size, 0.01) for size in sorted(sizes)}


def _weight_ring(shapes: dict[str, list[Shape]], weights: dict, cache_bytes: int | None) -> list[dict]:
    """Copies of the decode classes' weights, together at least ``STREAM_CACHE_FACTOR`` times the cache (within
    ``STREAM_BYTES_CAP``), so that each timed call reads its weights from memory, not from the cache."""
    sizes = {(s.outputs, s.inputs) for kind in STREAMED for s in shapes.get(kind, [])}
    copy_bytes = sum(out * inp * 4 for out, inp in sizes) or 1
    cache = cache_bytes if cache_bytes is not None else last_level_cache_bytes() or DEFAULT_CACHE_BYTES
    target = min(STREAM_CACHE_FACTOR * cache, STREAM_BYTES_CAP)
    count = max(2, min(-(-target // copy_bytes), STREAM_BYTES_CAP // copy_bytes))
    return [weights] + [{size: torch.full(size, 0.01) for size in sizes} for _ in range(count - 1)]


def _time_group(kernel, group: list[Shape], xs: dict, weights: dict, clock) -> float:
    start = clock()
    for shape in group:
        kernel(xs[shape], weights[(shape.outputs, shape.inputs)], None)
    return (clock() - start) * 1e3


# ------------------------------------------------------------------------------------------------ caching


def machine_key(cpu: CpuFeatures, threads: int) -> dict:
    """What any timing on this machine is valid for."""
    return {"cpu": cpu.model, "flags": sorted(cpu.flags), "torch": torch.__version__, "threads": threads}


def choice_key(cfg: ModelConfig, cpu: CpuFeatures, threads: int) -> dict:
    shapes = probe_shapes(cfg)
    return {"format": CHOICE_FORMAT, **machine_key(cpu, threads), "kernels": list(layers.available_cpu_kernels()),
            "shapes": {kind: [list(asdict(s).values()) for s in group] for kind, group in shapes.items()}}


def default_cache_dir() -> Path | None:
    """Next to the converted-weight cache, and switched off with it."""
    weights = weight_cache_dir()
    return None if weights is None else weights.parent / "cpu-kernels"


def cache_path(cache_dir: Path, key: dict, prefix: str = "kernels") -> Path:
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
    return cache_dir / f"{prefix}-{digest}.json"


def read_stored(path: Path, key: dict, kind: type):
    """The ``kind`` choice stored at ``path`` for exactly ``key``, marked cached; None if absent, damaged or foreign."""
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
        if stored.get("key") != key:
            return None
        return kind(**{**stored, "source": "cached"})
    except (OSError, ValueError, TypeError):
        return None


def read_cached(path: Path, key: dict) -> KernelChoice | None:
    choice = read_stored(path, key, KernelChoice)
    if choice is None:
        return None
    known = set(layers.available_cpu_kernels())
    if set(choice.kernels) != set(layers.ROW_CLASSES) or not set(choice.kernels.values()) <= known:
        return None
    return choice


def write_cached(path: Path, choice, key: dict) -> None:
    """Keep a measured choice (anything with ``as_dict``) for later starts; a failure only costs a new measurement."""
    temporary = path.with_suffix(f".tmp{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        stored = {**choice.as_dict(), "source": "measured", "key": key}
        temporary.write_text(json.dumps(stored, indent=1), encoding="utf-8")
        os.replace(temporary, path)
    except OSError as exc:  # a read-only or full disk only means measuring again next start
        log.info("could not keep the CPU kernel choice in %s: %s", path.parent, exc)
        temporary.unlink(missing_ok=True)


# ------------------------------------------------------------------------------------------------ one per process


def settle(cfg: ModelConfig, cpu: CpuFeatures | None = None, cache_dir: Path | None = None,
           budget_s: float = BUDGET_S) -> KernelChoice:
    """The cached choice for this machine and model, or a new measurement (then cached); installed in
    ``model.layers`` either way."""
    key = choice_key(cfg, cpu or host_cpu(), torch.get_num_threads())
    path = cache_path(cache_dir, key) if cache_dir is not None else None
    choice = read_cached(path, key) if path is not None else None
    if choice is None:
        choice = measured_choice(cfg, key, budget_s)
        if path is not None:
            write_cached(path, choice, key)
    layers.use_cpu_kernels(choice.kernels)
    return choice


def measured_choice(cfg: ModelConfig, key: dict, budget_s: float = BUDGET_S) -> KernelChoice:
    started = time.perf_counter()
    shapes = probe_shapes(cfg)
    with torch.inference_mode():
        exact, rejected = exactness(shapes)
        timings = measure(shapes, budget_s)
    kernels, reasons = choose(timings, exact, layers.default_cpu_kernels())
    return KernelChoice(kernels, reasons, "measured", _rounded(timings), rejected, key,
                        time.perf_counter() - started)


def _rounded(timings: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    return {kind: {name: round(ms, 3) for name, ms in by_name.items()} for kind, by_name in timings.items()}


class BackgroundChoice:
    """One background choice per process: started once, waited for before the first prefill. ``fallback(why)`` is
    the choice when the measurement fails (a failed measurement must never fail a model load); ``label`` names
    the thread and the log line."""

    def __init__(self, fallback: Callable[[str], object], label: str = "CPU kernel"):
        self.fallback, self.label = fallback, label
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.choice = None

    def start(self, work: Callable[[], object]) -> None:
        with self.lock:
            if self.thread is not None:
                return
            thread = threading.Thread(target=self._run, args=(work, torch.get_num_threads()),
                                      name=f"{self.label.replace(' ', '-').lower()}-timing", daemon=True)
            thread.start()
            self.thread = thread  # published started: wait() may join it from any thread at once
            # An interpreter that exits while torch ops run on this (daemon) thread aborts the process
            # (SIGABRT from the C++ runtime), so exit waits for the timing to end: about a second.
            atexit.register(self.wait)

    def _run(self, work: Callable[[], object], threads: int) -> None:
        torch.set_num_threads(threads)  # time with the threads inference will use
        try:
            self.choice = work()
        except Exception as exc:  # noqa: BLE001 - see the class docstring
            log.warning("%s timing failed, keeping the default: %s", self.label, exc)
            self.choice = self.fallback(f"timing failed: {exc}")

    def wait(self):
        thread = self.thread
        if thread is not None:
            thread.join()
        return self.choice


_UNSET = object()


def start(cfg: ModelConfig, cpu: CpuFeatures | None = None, cache_dir=_UNSET) -> None:
    """Choose this process's CPU kernels in the background (once; later calls do nothing)."""
    cache_dir = default_cache_dir() if cache_dir is _UNSET else cache_dir
    _PROCESS.start(lambda: settle(cfg, cpu, cache_dir))


def wait() -> KernelChoice | None:
    """The installed choice once the background choice is done; None when none was started."""
    return _PROCESS.wait()


def default_choice(why: str = "not measured yet: it is measured at the first model load") -> KernelChoice:
    kernels = layers.default_cpu_kernels()
    return KernelChoice(dict(kernels), dict.fromkeys(kernels, why), "default")


_PROCESS = BackgroundChoice(default_choice)


def describe(cfg: ModelConfig | None, cpu: CpuFeatures | None = None, cache_dir=_UNSET) -> KernelChoice:
    """What this process runs, else what a model load would run (the cached choice for ``cfg``), else the default;
    measures nothing (``glmocr-studio info``)."""
    if _PROCESS.choice is not None:
        return _PROCESS.choice
    cache_dir = default_cache_dir() if cache_dir is _UNSET else cache_dir
    if cfg is not None and cache_dir is not None:
        key = choice_key(cfg, cpu or host_cpu(), torch.get_num_threads())
        cached = read_cached(cache_path(cache_dir, key), key)
        if cached is not None:
            return cached
    return default_choice()
