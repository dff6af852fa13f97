"""Benchmark our PP-DocLayoutV3 layout pass against transformers' in the same run, and print the ratio.

    python -m bench.layout_bench [--size real|tiny] [--repeats 5] [--threads N] [--out bench/out]

Both models load the same random-weight checkpoint in the published layout (real size: 33.2 M parameters at the
reference config, fp32, built once into ``<out>/layout-<size>``) and run on the same pixel values of one A4 page.
transformers' image processor needs torchvision, which does not import beside the pinned CPU torch, so both models'
inputs come from our preprocessing (tested bit-exact against that processor, tests/layout/test_golden_reference.py);
the timed model pass is the forward only. Ours runs twice: bit-exact (the default) and ``fast`` (batch norms folded
into the convolutions, channels-last). Passes alternate (ours, ours fast, theirs, ...) so that noise from a shared
machine falls on all; the medians and their ratios are reported (and the fastest passes and the median of the
per-round ratios, steadier on a busy machine), with our full fast ``detect`` per page
(preprocessing, model, post-processing as the SDK does it) for scale, and the largest output differences (the fast
model's can be large on random weights: rounding reorders near-tied query scores, so outputs compare query for query
against a different query).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from . import machine
from .inputs import page_image

REPO = Path(__file__).resolve().parents[1]
OUTPUTS = ("logits", "pred_boxes", "order_logits", "out_masks")


def checkpoint(size: str, out: Path) -> Path:
    from glmocr_core.testing.layout_checkpoints import random_model, real_config, tiny_config, write_checkpoint

    folder = out / f"layout-{size}"
    if not (folder / "model.safetensors").exists():
        write_checkpoint(random_model(real_config() if size == "real" else tiny_config(), seed=0), folder)
    return folder


def load_both(folder: Path):
    from transformers import PPDocLayoutV3ForObjectDetection

    from glmocr_core.layout.detector import LayoutDetector

    exact, fast = LayoutDetector.load(folder), LayoutDetector.load(folder, fast=True)
    reference = PPDocLayoutV3ForObjectDetection.from_pretrained(folder, dtype=torch.float32).eval()
    return exact, fast, reference


def timed(run) -> float:
    start = time.perf_counter()
    with torch.inference_mode():
        run()
    return time.perf_counter() - start


def measure(exact, fast, reference, pixels: torch.Tensor, repeats: int) -> dict:
    last = pixels.contiguous(memory_format=torch.channels_last)
    passes = {"ours": lambda: exact.model(pixels), "ours_fast": lambda: fast.model(last),
              "transformers": lambda: reference(pixel_values=pixels)}
    for run in passes.values():  # warm-up: kernel selection, first-touch of the weights
        timed(run)
    times = {name: [] for name in passes}
    for _ in range(repeats):
        for name, run in passes.items():
            times[name].append(timed(run))
    return {name: statistics.median(values) for name, values in times.items()} | {
        "all_s": times, "min_s": {name: min(values) for name, values in times.items()},
        "round_ratio": {name: statistics.median(r / v for r, v in zip(times["transformers"], values))
                        for name, values in times.items() if name != "transformers"}}


def max_differences(ours, reference, pixels: torch.Tensor) -> dict[str, float]:
    if ours.fast:
        pixels = pixels.contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        got, expected = ours.model(pixels), reference(pixel_values=pixels)
    return {name: (getattr(got, name) - getattr(expected, name)).abs().max().item() for name in OUTPUTS}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.layout_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=("real", "tiny"), default="real")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    exact, fast, reference = load_both(checkpoint(args.size, args.out))
    page = page_image()
    pixels = _pixels(exact, page)
    result = measure(exact, fast, reference, pixels, args.repeats)
    detect = statistics.median(timed(lambda: fast.detect(page)) for _ in range(max(1, args.repeats // 2)))
    ref_s = result["transformers"]
    report = {"machine": machine.describe(REPO), "threads": torch.get_num_threads(), "size": args.size,
              "page": list(page.size), "transformers_s": ref_s, "ours_s": result["ours"],
              "ours_fast_s": result["ours_fast"], "speedup": ref_s / result["ours"],
              "speedup_fast": ref_s / result["ours_fast"], "ours_fast_detect_s": detect,
              "max_abs_diff": max_differences(exact, reference, pixels),
              "max_abs_diff_fast": max_differences(fast, reference, pixels), "min_s": result["min_s"],
              "median_round_ratio": result["round_ratio"], "all_s": result["all_s"]}
    print(json.dumps(report, indent=1))
    low, rounds = result["min_s"], result["round_ratio"]
    print(f"layout pass per page (median): transformers {ref_s:.3f} s; ours exact {result['ours']:.3f} s "
          f"({report['speedup']:.2f}x), fast {result['ours_fast']:.3f} s ({report['speedup_fast']:.2f}x) "
          f"[{report['machine']['cpu']}, {report['threads']} threads]")
    print(f"  fastest pass: transformers {low['transformers']:.3f} s, exact {low['ours']:.3f} s "
          f"({low['transformers'] / low['ours']:.2f}x), fast {low['ours_fast']:.3f} s "
          f"({low['transformers'] / low['ours_fast']:.2f}x); median per-round ratio: exact {rounds['ours']:.2f}x, "
          f"fast {rounds['ours_fast']:.2f}x")
    return 0


def _pixels(ours, page) -> torch.Tensor:
    from glmocr_core.layout.preprocess import preprocess

    return preprocess([page], ours.preprocessor)


if __name__ == "__main__":
    raise SystemExit(main())
