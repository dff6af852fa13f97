"""Benchmark our engine against transformers on a random-weight checkpoint and report ratios.

    python -m bench.run [--size real|tiny] [--out bench/out] [--only METRIC ...] [--tokens 128]

The real-size checkpoint (1.1 B parameters, bf16, ~2.2 GB) is built on first use and cached in the output folder.
Each measurement runs in its own process; results go to ``<out>/results-<size>.json``, the table to the terminal
and, with the machine description, to ``docs/performance.md`` (``<out>/performance-tiny.md`` for tiny runs).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

from . import checkpoint as ckpt
from . import machine, metrics, report

REPO = Path(__file__).resolve().parents[1]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=ckpt.SIZES, default="real")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    parser.add_argument("--only", nargs="+", choices=list(metrics.METRIC_JOBS), metavar="METRIC",
                        help=f"metrics to measure (default: all): {', '.join(metrics.METRIC_JOBS)}")
    parser.add_argument("--tokens", type=int, default=128, help="tokens decoded per region (default 128)")
    parser.add_argument("--repeats", type=int, default=2, help="runs of the single-region measurements (best kept)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads (default: all cores)")
    parser.add_argument("--doc", type=Path, default=None,
                        help="Markdown report path (default: docs/performance.md for real size)")
    args = parser.parse_args(argv)
    if args.tokens < 2 or args.repeats < 1 or args.threads < 1:
        parser.error("--tokens must be at least 2, --repeats and --threads at least 1")
    return args


def run_job(job: str, folder: Path, args: argparse.Namespace) -> dict:
    result_path = args.out / f"job-{args.size}-{job}.json"
    result_path.unlink(missing_ok=True)
    command = [sys.executable, "-m", "bench.jobs", job, str(folder), str(args.tokens), str(args.repeats),
               str(args.threads), str(result_path)]
    print(f"[bench] {job} ...", flush=True)
    subprocess.run(command, cwd=REPO, check=True)
    return json.loads(result_path.read_text())


def checkpoint_facts(size: str, folder: Path) -> dict:
    files = list(folder.glob("*.safetensors"))
    return {"size": size, "seed": ckpt.SEED, "parameters": ckpt.parameter_count(folder),
            "bytes": sum(f.stat().st_size for f in files)}


def default_doc(args: argparse.Namespace) -> Path:
    return REPO / "docs" / "performance.md" if args.size == "real" else args.out / f"performance-{args.size}.md"


def reproduce_command(args: argparse.Namespace) -> str:
    parts = ["python -m bench.run", f"--size {args.size}", f"--tokens {args.tokens}", f"--repeats {args.repeats}"]
    if args.only:
        parts.append("--only " + " ".join(args.only))
    return " ".join(parts)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    folder = ckpt.ensure_checkpoint(args.size, args.out / f"ckpt-{args.size}")
    ckpt.warm_page_cache(folder)
    chosen = args.only or list(metrics.METRIC_JOBS)
    results = {job: run_job(job, folder, args) for job in metrics.jobs_for(chosen)}
    rows = metrics.build_rows(results, chosen, args.tokens)
    total_s = time.perf_counter() - started
    print(report.text_table(rows))
    facts = checkpoint_facts(args.size, folder)
    description = machine.describe(REPO)
    save(args, rows, results, facts, description, total_s)
    return 0


def save(args, rows, results, facts, description, total_s) -> None:
    summary = {"rows": [row.as_dict() for row in rows], "jobs": results, "checkpoint": facts,
               "machine": description, "tokens": args.tokens, "repeats": args.repeats, "threads": args.threads,
               "total_s": total_s, "command": reproduce_command(args)}
    (args.out / f"results-{args.size}.json").write_text(json.dumps(summary, indent=1))
    doc = args.doc or default_doc(args)
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(report.document(rows, description, facts, reproduce_command(args), args.threads, args.tokens,
                                   args.repeats, total_s), encoding="utf-8")
    print(f"[bench] wrote {doc} and {args.out / f'results-{args.size}.json'} ({total_s / 60:.1f} min)")


if __name__ == "__main__":
    sys.exit(main())
