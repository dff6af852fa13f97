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
import resource
import subprocess
import sys
import time
from pathlib import Path

from . import checkpoint as ckpt
from . import llamacpp, machine, metrics, report

REPO = Path(__file__).resolve().parents[1]
SNIP_TOKENS = 8  # the snip row times the first token; a few more make its decode state realistic


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=ckpt.SIZES, default="real")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    parser.add_argument("--only", nargs="+", choices=list(metrics.METRIC_JOBS), metavar="METRIC",
                        help=f"metrics to measure (default: all): {', '.join(metrics.METRIC_JOBS)}")
    parser.add_argument("--tokens", type=int, default=128, help="tokens decoded per region (default 128)")
    parser.add_argument("--page-tokens", type=int, default=32,
                        help="tokens decoded per strip of the full page (default 32, to bound the run time)")
    parser.add_argument("--batch-tokens", type=int, default=64,
                        help="tokens per region of the batch-of-8 decode (default 64: a steady-state rate)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="alternating rounds of the single-region processes, ours and reference (best kept)")
    parser.add_argument("--repeats", type=int, default=1, help="measured runs per single-region process")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads (default: all cores)")
    parser.add_argument("--render-only", action="store_true",
                        help="measure nothing: rebuild the table and the report from <out>/results-<size>.json")
    parser.add_argument("--doc", type=Path, default=None,
                        help="Markdown report path (default: docs/performance.md for real size)")
    parser.add_argument("--refresh-text", action="store_true",
                        help="measure nothing: rewrite the report's prose (findings, notes) around its tables")
    parser.add_argument("--replace", action="store_true",
                        help="replace this CPU kind's table even when this run's GEMM peaks are far below its own")
    args = parser.parse_args(argv)
    if args.only and "llamacpp" in args.only and not llamacpp.build_present():
        parser.error("the llamacpp metric needs a llama.cpp build: python -m bench.llamacpp build && "
                     "python -m bench.llamacpp convert")
    if min(args.tokens, args.page_tokens, args.batch_tokens) < 2:
        parser.error("--tokens, --page-tokens and --batch-tokens must be at least 2")
    if min(args.rounds, args.repeats, args.threads) < 1:
        parser.error("--rounds, --repeats and --threads must be at least 1")
    return args


def run_jobs(schedule: list[str], folder: Path, args: argparse.Namespace) -> dict:
    results: dict = {}
    for job in schedule:
        result = run_job(job, folder, args)
        results[job] = metrics.merge_rounds(results[job], result) if job in results else result
    return results


def run_job(job: str, folder: Path, args: argparse.Namespace) -> dict:
    result_path = args.out / f"job-{args.size}-{job}.json"
    result_path.unlink(missing_ok=True)
    tokens = {"ref_page": args.page_tokens, "ours_page": args.page_tokens, "ours_batch": args.batch_tokens,
              "ours_snip": SNIP_TOKENS}.get(job, args.tokens)
    command = [sys.executable, "-m", "bench.jobs", job, str(folder), str(tokens), str(args.repeats),
               str(args.threads), str(result_path)]
    print(f"[bench] {job} ...", flush=True)
    before, started = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    subprocess.run(command, cwd=REPO, check=True)
    result = json.loads(result_path.read_text())
    usage = contention(before, time.perf_counter() - started, args.threads)
    return {**result, "contention": [{**usage, "code": machine.git_revision(REPO)}]}


def contention(before, wall_s: float, threads: int) -> dict:
    """How much CPU the child got: on a shared machine, a job that got less of its cores ran slower for reasons
    that have nothing to do with its code; the report shows this next to the ratios."""
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": wall_s, "cpu_s": cpu_s, "cpu_share": cpu_s / (wall_s * threads) if wall_s > 0 else 0.0,
            "loadavg_1m": os.getloadavg()[0]}


def default_metrics(size: str) -> list[str]:
    """Every metric; llama.cpp's rows only where its build and the converted real-size models exist."""
    with_llama = size == "real" and llamacpp.build_present()
    return [name for name in metrics.METRIC_JOBS if name != "llamacpp" or with_llama]


def checkpoint_facts(size: str, folder: Path) -> dict:
    files = list(folder.glob("*.safetensors"))
    return {"size": size, "seed": ckpt.SEED, "parameters": ckpt.parameter_count(folder),
            "bytes": sum(f.stat().st_size for f in files)}


def default_doc(args: argparse.Namespace) -> Path:
    return REPO / "docs" / "performance.md" if args.size == "real" else args.out / f"performance-{args.size}.md"


def reproduce_command(args: argparse.Namespace) -> str:
    parts = ["python -m bench.run", f"--size {args.size}", f"--tokens {args.tokens}",
             f"--page-tokens {args.page_tokens}", f"--batch-tokens {args.batch_tokens}", f"--rounds {args.rounds}",
             f"--repeats {args.repeats}"]
    if args.only:
        parts.append("--only " + " ".join(args.only))
    return " ".join(parts)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.render_only:
        return render_only(args)
    if args.refresh_text:
        doc = args.doc or default_doc(args)
        doc.write_text(report.refreshed(doc.read_text(encoding="utf-8")), encoding="utf-8")
        print(f"[bench] rewrote the prose of {doc}")
        return 0
    started = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    folder = ckpt.ensure_checkpoint(args.size, args.out / f"ckpt-{args.size}")
    ckpt.warm_page_cache(folder)
    description = machine.describe(REPO)  # before the jobs: the code revision they measure
    chosen = args.only or default_metrics(args.size)
    results = run_jobs(metrics.jobs_for(chosen, args.rounds), folder, args)
    rows = metrics.build_rows(results, chosen, machine.fast_bf16(description))
    total_s = time.perf_counter() - started
    print(report.text_table(rows))
    facts = checkpoint_facts(args.size, folder)
    save(args, rows, results, facts, description, total_s)
    return 0


def save(args, rows, results, facts, description, total_s) -> None:
    summary = {"rows": [row.as_dict() for row in rows], "jobs": results, "checkpoint": facts,
               "machine": description, "tokens": args.tokens, "page_tokens": args.page_tokens,
               "batch_tokens": args.batch_tokens,
               "rounds": args.rounds, "repeats": args.repeats, "threads": args.threads,
               "only": args.only, "total_s": total_s, "command": reproduce_command(args)}
    (args.out / f"results-{args.size}.json").write_text(json.dumps(summary, indent=1))
    doc = args.doc or default_doc(args)
    doc.parent.mkdir(parents=True, exist_ok=True)
    previous = doc.read_text(encoding="utf-8") if doc.exists() else ""
    why_not = None if args.replace else report.throttled(previous, description, results)
    if "ceilings" not in results and not args.replace:
        print("[bench] this run measured no ceilings, so nothing checked whether its host was throttled")
    if why_not:
        doc = args.out / f"performance-{args.size}-throttled.md"
        print(f"[bench] not replacing the table: {why_not}; this run's report is {doc} (--replace to force)")
    doc.write_text(report.document(rows, description, facts, reproduce_command(args), args, total_s, results,
                                   previous), encoding="utf-8")
    print(f"[bench] wrote {doc} and {args.out / f'results-{args.size}.json'} ({total_s / 60:.1f} min)")


def render_only(args: argparse.Namespace) -> int:
    """Re-render from saved results (after a change to the report's text), keeping the measured run's settings."""
    summary = json.loads((args.out / f"results-{args.size}.json").read_text())
    for name in ("tokens", "page_tokens", "batch_tokens", "rounds", "repeats", "threads"):
        setattr(args, name, summary.get(name, getattr(args, name)))
    args.only = summary.get("only")
    chosen = args.only or [name for name in metrics.METRIC_JOBS
                           if all(job in summary["jobs"] for job in metrics.METRIC_JOBS[name])]
    rows = metrics.build_rows(summary["jobs"], chosen, machine.fast_bf16(summary["machine"]))
    print(report.text_table(rows))
    save(args, rows, summary["jobs"], summary["checkpoint"], summary["machine"], summary["total_s"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
