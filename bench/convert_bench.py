"""Benchmark a whole page converted end to end (layout, every region recognized, Markdown and JSON written), and the
layout pass's share of it.

    python -m bench.convert_bench [--size real|tiny] [--tokens 32] [--threads N] [--precision auto] [--out bench/out]

The GLM-OCR checkpoint is the benchmark's random-weight one (``bench/checkpoint.py``: real size 1.1 B parameters,
its stop tokens unreachable, so every region decodes exactly ``--tokens`` tokens). The layout checkpoint is
PP-DocLayoutV3 at the published size (33.2 M parameters, 800x800 input) with random backbone and encoder weights
and planned heads (``testing.layout_checkpoints``), so that it finds a realistic page layout (PAGE_PLAN: a title,
an abstract, two columns, a numbered formula, a table, a figure with its caption, a running head, a footer and a
page number) and the run does the work a real page does. The page is ``bench.inputs.page_image`` (an A4 page at
150 DPI). The layout model is run once before the timed page (its first call chooses kernels); that first call is
reported on its own. The CPU is described in the report (``bench/machine.py``).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# (label, (x0, y0, x1, y1) as fractions of the page), in reading order
PAGE_PLAN = [
    ("header", (0.08, 0.02, 0.92, 0.04)),
    ("doc_title", (0.15, 0.06, 0.85, 0.10)),
    ("abstract", (0.12, 0.12, 0.88, 0.24)),
    ("paragraph_title", (0.08, 0.26, 0.48, 0.28)),
    ("text", (0.08, 0.29, 0.48, 0.52)),
    ("display_formula", (0.10, 0.53, 0.42, 0.58)),
    ("formula_number", (0.43, 0.54, 0.48, 0.57)),
    ("text", (0.08, 0.59, 0.48, 0.90)),
    ("table", (0.52, 0.26, 0.92, 0.50)),
    ("image", (0.52, 0.52, 0.92, 0.78)),
    ("figure_title", (0.52, 0.79, 0.92, 0.83)),
    ("text", (0.52, 0.84, 0.92, 0.90)),
    ("footer", (0.08, 0.94, 0.80, 0.96)),
    ("number", (0.88, 0.94, 0.92, 0.96)),
]
PLAN_VERSION = 1  # bump when the plan or the recipe changes, so a cached layout checkpoint is rebuilt


def layout_checkpoint(size: str, out: Path) -> Path:
    from glmocr_core.testing.layout_checkpoints import (PlannedRegion, build_planned_layout_checkpoint, real_config,
                                                        tiny_config)

    folder = out / f"layout-planned-{size}"
    stamp = folder / "plan.json"
    recipe = {"version": PLAN_VERSION, "size": size, "plan": PAGE_PLAN}
    if stamp.exists() and json.loads(stamp.read_text()) == json.loads(json.dumps(recipe)):
        return folder
    regions = [PlannedRegion(label, box) for label, box in PAGE_PLAN]
    base, size_px = (real_config(), 800) if size == "real" else (tiny_config(), 320)
    build_planned_layout_checkpoint(folder, regions, seed=0, base=base, input_size=size_px)
    stamp.write_text(json.dumps(recipe))
    return folder


def load(size: str, out: Path, args):
    from bench import checkpoint as ckpt
    from glmocr_core.convert.loading import open_layout_detector
    from glmocr_core.engine import Engine

    folder = ckpt.ensure_checkpoint(size, out / f"ckpt-{size}")
    ckpt.warm_page_cache(folder)
    layout = layout_checkpoint(size, out)
    started = time.perf_counter()
    detector = open_layout_detector(layout, "cpu", fast=args.fast_layout)
    layout_load_s = time.perf_counter() - started
    engine = Engine.load(folder, device="cpu", precision=args.precision, weight_cache=False)
    return engine, detector, {"glm_ocr_s": engine.load_s, "layout_s": layout_load_s}


def convert_page(engine, detector, page_path: Path, out: Path, tokens: int):
    from glmocr_core.api import RecognizeOptions
    from glmocr_core.convert.converter import ConvertSettings, DocumentConverter

    settings = ConvertSettings(options=RecognizeOptions(max_new_tokens=tokens), resume=False)
    return DocumentConverter(engine, detector, settings).convert(page_path, out)


def measure(args) -> dict:
    import torch
    from PIL import Image

    from bench import machine
    from bench.inputs import page_image

    if args.threads:
        torch.set_num_threads(args.threads)
    engine, detector, load_s = load(args.size, args.out, args)
    page_path = args.out / "convert-page.png"
    page_image().save(page_path)
    started = time.perf_counter()
    detector.detect(Image.open(page_path).convert("RGB"))  # the first call chooses kernels: not the page's cost
    first_call_s = time.perf_counter() - started
    result = convert_page(engine, detector, page_path, args.out / f"convert-{args.size}", args.tokens)
    record = json.loads(result.outputs["json"].read_text(encoding="utf-8"))["pages"][0]
    return summary(result.timings, record, first_call_s, load_s, engine, args) | {
        "machine": machine.describe(REPO), "threads": torch.get_num_threads(),
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}


def summary(timings: dict, page: dict, first_call_s: float, load_s: dict, engine, args) -> dict:
    tasks: dict[str, int] = {}
    for region in page["regions"]:
        tasks[region["task"]] = tasks.get(region["task"], 0) + 1
    page_s = timings["render_s"] + timings["layout_s"] + timings["recognize_s"]
    return {"size": args.size, "page": [page["width"], page["height"]], "regions": len(page["regions"]),
            "regions_by_task": tasks, "tokens_per_region": args.tokens,
            "new_tokens": sum(r["timings"].get("new_tokens", 0) for r in page["regions"]),
            "engine": {"dtype": engine.info.dtype, "precision": engine.info.precision,
                       "parameters": engine.info.parameters},
            "layout_fast": args.fast_layout, "load_s": load_s, "layout_first_call_s": first_call_s,
            "render_s": timings["render_s"], "layout_s": timings["layout_s"], "recognize_s": timings["recognize_s"],
            "page_s": page_s, "total_s": timings["total_s"], "layout_share": timings["layout_s"] / page_s,
            "recognize_per_layout": timings["recognize_s"] / timings["layout_s"]}


def report_line(report: dict) -> str:
    return (f"one page ({report['page'][0]}x{report['page'][1]} px, {report['regions']} regions, "
            f"{report['tokens_per_region']} tokens each) converted in {report['page_s']:.2f} s: layout "
            f"{report['layout_s']:.2f} s ({report['layout_share']:.1%} of the page), recognition "
            f"{report['recognize_s']:.2f} s ({report['recognize_per_layout']:.1f}x the layout pass); "
            f"{report['engine']['dtype']}, {report['threads']} threads, {report['machine']['cpu']}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.convert_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=("real", "tiny"), default="real")
    parser.add_argument("--tokens", type=int, default=32, help="tokens decoded per region (default 32)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--precision", default="auto", help="GLM-OCR precision: auto, exact or fast")
    parser.add_argument("--fast-layout", action="store_true", help="the layout model with folded batch norms")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    args = parser.parse_args(argv)
    if args.tokens < 1:
        parser.error("--tokens must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    report = measure(args)
    (args.out / f"convert-bench-{args.size}.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))
    print(report_line(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
