"""Turn the job results into table rows: ours, the reference, and a ratio where > 1 means "we are better",
except peak RSS, where the ratio is ours/reference and lower is better (the target is a ceiling)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

GIB = 2**30
NOT_IMPLEMENTED = "n/a (not implemented)"
NOT_RUN = "n/a (not run)"

# metric name -> the jobs it needs (--only picks metrics; the union of their jobs runs)
METRIC_JOBS = {
    "load": ("ref_single", "ours_exact"),
    "ttft": ("ref_single", "ours_exact"),
    "decode": ("ref_single", "ours_exact"),
    "fast": ("ref_single", "ours_exact", "ours_fast"),
    "batch": ("ours_exact", "ours_batch"),
    "page": ("ref_page", "ours_page"),
    "rss": ("ref_single", "ours_exact"),
    "snip": ("ours_snip",),
    "bf16": ("ref_bf16", "ours_fast"),  # transformers at the model authors' precision, beside ours fast
    "llamacpp": ("ours_fast", "llama_f16", "llama_q8_0", "llama_q4_k_m"),  # only with a llama.cpp build
    "ceilings": ("ceilings",),  # what this CPU allows at best: bounds beside the targets
}
LLAMA_JOBS = ("llama_f16", "llama_q8_0", "llama_q4_k_m")
JOB_ORDER = ("ceilings", "ref_single", "ours_exact", "ref_bf16", "ours_fast", "ours_snip", "ours_batch", "ref_page",
             "ours_page", *LLAMA_JOBS)
ROUND_JOBS = ("ref_single", "ours_exact")  # run in alternating rounds (ABAB) so load noise hits both sides


def jobs_for(metrics: list[str], rounds: int = 1) -> list[str]:
    """The job schedule: the single-region pair alternating for ``rounds`` rounds, then the others once."""
    wanted = {job for metric in metrics for job in METRIC_JOBS[metric]}
    paired = [job for job in ROUND_JOBS if job in wanted] * rounds
    return paired + [job for job in JOB_ORDER if job in wanted and job not in ROUND_JOBS]


def merge_rounds(first: dict, later: dict) -> dict:
    """One result from two rounds of the same job: best load, all runs, the higher peak RSS."""
    merged = {**first, "runs": first["runs"] + later["runs"], "job_s": first["job_s"] + later["job_s"]}
    merged["load_s"] = min(first["load_s"], later["load_s"])
    merged["peak_rss_bytes"] = max(first["peak_rss_bytes"], later["peak_rss_bytes"])
    merged["contention"] = first.get("contention", []) + later.get("contention", [])
    return merged


@dataclass
class Row:
    metric: str
    label: str
    ours: str
    reference: str
    ratio: float | None  # None when not measured; `status` then says why
    ratio_kind: str  # "reference/ours", "ours/reference", ...
    target: str
    met: str  # "yes", "no" or "—"
    check: str = ""  # correctness note, e.g. "match: yes"
    status: str = "ok"

    def as_dict(self) -> dict:
        return asdict(self)


def build_rows(results: dict, metrics: list[str], fast_bf16: bool = False) -> list[Row]:
    """``fast_bf16``: the CPU has bf16 matrix units (the snip's first-token target is tighter there)."""
    makers = {"load": _load_row, "ttft": _ttft_row, "decode": _decode_row, "fast": _fast_row,
              "batch": _batch_row, "page": _page_row, "rss": _rss_rows, "llamacpp": _llama_rows, "bf16": _bf16_rows,
              "ceilings": _ceiling_rows,
              "snip": lambda results: _snip_row(results, fast_bf16)}
    rows: list[Row] = []
    for metric in metrics:
        made = makers[metric](results)
        rows.extend(made if isinstance(made, list) else [made])
    return rows


# ------------------------------------------------------------------------------------------------- rows


def _load_row(results: dict) -> Row:
    # Every job loads a model, so the best over all exact-precision processes of each side is free to take.
    ours = min(r["load_s"] for name, r in results.items() if name in ("ours_exact", "ours_batch", "ours_page"))
    ref = min(r["load_s"] for name, r in results.items() if name.startswith("ref_"))
    return _timed("load", "Model load (s)", ours, ref, "≥ 3×", 3.0)


def _ttft_row(results: dict) -> Row:
    ours = min(run["ttft_s"] for run in results["ours_exact"]["runs"])
    ref = min(run["ttft_s"] for run in results["ref_single"]["runs"])
    return _timed("ttft", "Time to first token, 448×448 region, exact (s)", ours, ref, "≥ 1.3×", 1.3)


def _decode_row(results: dict) -> Row:
    ours, ref = results["ours_exact"], results["ref_single"]
    row = _rate("decode", f"Decode tok/s, 1 region, exact fp32 ({_tokens(ours)} tokens)", best_rate(ours),
                best_rate(ref), "≥ 1.0×", 1.0)
    row.check = "match: " + ("yes" if _first_ids(ours) == _first_ids(ref) else "no")
    return row


def _fast_row(results: dict) -> Row:
    fast, exact, ref = results["ours_fast"], results["ours_exact"], results["ref_single"]
    label = f"Decode tok/s, 1 region, fast vs reference fp32 ({_tokens(fast)} tokens)"
    if fast["signature"] == exact["signature"]:
        return _missing("fast", label, f"{best_rate(ref):.2f}", "≥ 2.0×", NOT_IMPLEMENTED)
    row = _rate("fast", label, best_rate(fast), best_rate(ref), "≥ 2.0×", 2.0)
    same, total = agreement(_first_ids(fast), _first_ids(ref))
    row.check = f"same tokens as reference: {same}/{total}"
    return row


def _batch_row(results: dict) -> Row:
    batch, single = results["ours_batch"], results["ours_exact"]
    label = "Aggregate decode tok/s, batch of 8 regions vs our 1 region, exact"
    if "skipped" in batch:
        return _missing("batch", label, f"{best_rate(single):.2f} (ours, 1 region)", "≥ 3×", NOT_IMPLEMENTED)
    label += f" ({max(batch['new_tokens'])} tokens each)"
    row = _rate("batch", label, batch["decode_tok_s"], best_rate(single), "≥ 3×", 3.0)
    row.reference = f"{best_rate(single):.2f} (ours, 1 region)"
    row.ratio_kind = "batch/single"
    return row


def _page_row(results: dict) -> Row:
    ours, ref = results["ours_page"], results["ref_page"]
    label = (f"Full page 1240×1754 as {len(ref['token_ids'])} strips × {max(ref['new_tokens'])} tokens, "
             f"end to end (s); ours: {ours['mode']}")
    row = _timed("page", label, ours["wall_s"], ref["wall_s"], "none set", 1.0)
    row.met = "—"
    matching = sum(a == b for a, b in zip(ours["token_ids"], ref["token_ids"]))
    row.check = f"strips matching reference: {matching}/{len(ref['token_ids'])}"
    return row


def _rss_rows(results: dict) -> list[Row]:
    pairs = [("1 region", "ours_exact", "ref_single"), ("full page", "ours_page", "ref_page")]
    rows = []
    for what, ours, ref in pairs:
        if ours in results and ref in results:
            ours_gib, ref_gib = results[ours]["peak_rss_bytes"] / GIB, results[ref]["peak_rss_bytes"] / GIB
            rows.append(Row("rss", f"Peak RSS, {what} (GiB)", f"{ours_gib:.2f}", f"{ref_gib:.2f}",
                            ours_gib / ref_gib, "ours/reference", "≤ 0.7×", _yes(ours_gib / ref_gib <= 0.7)))
    return rows


def _snip_row(results: dict, fast_bf16: bool) -> Row:
    ttft = min(run["ttft_s"] for run in results["ours_snip"]["runs"])
    limit = 0.5 if fast_bf16 else 1.0
    return Row("snip", "Time to first token, 600×80 text-line snip, fast (s)", f"{ttft:.2f}", "—", None, "",
               f"≤ {limit} s ({'bf16 matrix units' if fast_bf16 else 'no bf16 matrix units'})",
               _yes(ttft <= limit), status="—")


def _bf16_rows(results: dict) -> list[Row]:
    """Ours fast beside transformers bf16 (no target: the issue's targets are against fp32 and llama.cpp; this is
    the reference's best setting where the CPU has bf16 matrix units, and the precision fast's accuracy is held to)."""
    fast, bf16 = results["ours_fast"], results["ref_bf16"]
    first = _timed("bf16", "Time to first token (s), ours fast vs transformers bf16",
                   min(r["ttft_s"] for r in fast["runs"]), min(r["ttft_s"] for r in bf16["runs"]), "none set", 1.0)
    decode = _rate("bf16", "Decode tok/s, ours fast vs transformers bf16", best_rate(fast), best_rate(bf16),
                   "none set", 1.0)
    ours_gib, ref_gib = fast["peak_rss_bytes"] / GIB, bf16["peak_rss_bytes"] / GIB
    rss = Row("bf16", "Peak RSS (GiB), ours fast vs transformers bf16", f"{ours_gib:.2f}", f"{ref_gib:.2f}",
              ours_gib / ref_gib, "ours/reference", "none set", "—")
    for row in (first, decode):
        row.met = "—"
    decode.check = "same tokens as transformers bf16: {}/{}".format(*agreement(_first_ids(fast), _first_ids(bf16)))
    return [first, decode, rss]


CEILINGS_LABEL = "This CPU at best: bf16 GEMM / fp32 GEMM GFLOP/s / read GB/s"  # report.py reads it back


def _ceiling_rows(results: dict) -> list[Row]:
    """The machine's peaks and the bounds they put on first tokens and int8 decoding (bench/ceilings.py), each
    beside what its target asks for; no targets of their own."""
    c, bounds = results["ceilings"], results["ceilings"]["bounds"]
    q8 = results.get("llama_q8_0")
    needs_first = f"{q8['runs'][0]['ttft_s'] / 3:.2f} (llama.cpp Q8_0 / 3)" if q8 else "—"
    needs_decode = f"{best_rate(q8) * 1.3:.2f} (llama.cpp Q8_0 × 1.3)" if q8 else "—"
    tflop = bounds["prefill_tflop"]
    rows = [(CEILINGS_LABEL,
             f"{c['gemm_bf16_gflops']:.0f} / {c['gemm_fp32_gflops']:.0f} / {c['read_gbs']:.1f}", "—"),
            (f"Fastest possible first token, 448×448 region (s): {tflop['region']:.2f} TFLOP at the bf16 peak",
             f"{bounds['first_token_s']['region']:.2f}", needs_first),
            (f"Fastest possible first token, 600×80 snip (s): {tflop['snip']:.2f} TFLOP at the bf16 peak",
             f"{bounds['first_token_s']['snip']:.2f}", "0.5 with bf16 matrix units, else 1.0 (the target)"),
            (f"Fastest possible int8 decode (tok/s): {bounds['decode_mb_int8']:.0f} MB per token at the read "
             "bandwidth", f"{bounds['decode_tok_s_int8']:.1f}", needs_decode)]
    return [Row("ceilings", label, ours, needs, None, "", "none set", "—", status="—")
            for label, ours, needs in rows]


LLAMA_LABELS = {"llama_f16": "f16", "llama_q8_0": "Q8_0", "llama_q4_k_m": "Q4_K_M"}


def _llama_rows(results: dict) -> list[Row]:
    """Ours fast against llama.cpp Q8_0 (the targets), and llama.cpp's f16 and Q4_K_M figures beside them; the
    reference column holds llama.cpp's numbers in these rows."""
    fast, q8 = results["ours_fast"], results["llama_q8_0"]
    ours_ttft, ours_rate = min(r["ttft_s"] for r in fast["runs"]), best_rate(fast)
    rows = [_rate("llamacpp", "Decode tok/s, ours fast vs llama.cpp Q8_0", ours_rate, best_rate(q8), "≥ 1.3×", 1.3),
            _timed("llamacpp", "Time to first token (s), ours fast vs llama.cpp Q8_0", ours_ttft,
                   q8["runs"][0]["ttft_s"], "≥ 3×", 3.0)]
    ours_gib, q8_gib = fast["peak_rss_bytes"] / GIB, q8["peak_rss_bytes"] / GIB
    rows.append(Row("llamacpp", "Peak RSS (GiB), ours fast vs llama.cpp Q8_0", f"{ours_gib:.2f}", f"{q8_gib:.2f}",
                    ours_gib / q8_gib, "ours/llama.cpp", "≤ 1.0×", _yes(ours_gib <= q8_gib)))
    for job in ("llama_f16", "llama_q4_k_m"):
        if job in results:
            run, name = results[job]["runs"][0], LLAMA_LABELS[job]
            rows.append(Row("llamacpp", f"llama.cpp {name}: first token (s) / decode tok/s / peak RSS (GiB)",
                            f"{ours_ttft:.2f} / {ours_rate:.2f} / {ours_gib:.2f} (ours fast)",
                            f"{run['ttft_s']:.2f} / {run['decode_tok_s']:.2f} / "
                            f"{results[job]['peak_rss_bytes'] / GIB:.2f}", None, "", "none set", "—", status="—"))
    for row in rows[:2]:
        row.ratio_kind = row.ratio_kind.replace("reference", "llama.cpp")
    return rows


# ------------------------------------------------------------------------------------------------- helpers


def best_rate(result: dict) -> float:
    return max(run["decode_tok_s"] for run in result["runs"])


def agreement(ours: list[int], ref: list[int]) -> tuple[int, int]:
    """Positions where the two greedy sequences agree, over the reference's length."""
    return sum(a == b for a, b in zip(ours, ref)), len(ref)


def _first_ids(result: dict) -> list[int]:
    return result["runs"][0]["token_ids"]


def _tokens(result: dict) -> int:
    return result["runs"][0]["new_tokens"]


def _timed(metric, label, ours_s, ref_s, target, needed) -> Row:
    ratio = ref_s / ours_s if ours_s > 0 else None
    return Row(metric, label, f"{ours_s:.2f}", f"{ref_s:.2f}", ratio, "reference/ours", target,
               _yes(ratio is not None and ratio >= needed))


def _rate(metric, label, ours, ref, target, needed) -> Row:
    ratio = ours / ref if ref > 0 else None
    return Row(metric, label, f"{ours:.2f}", f"{ref:.2f}", ratio, "ours/reference", target,
               _yes(ratio is not None and ratio >= needed))


def _missing(metric, label, reference, target, status) -> Row:
    return Row(metric, label, status, reference, None, "", target, "—", status=status)


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"
