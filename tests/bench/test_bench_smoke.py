"""The benchmark harness (bench/) on a tiny checkpoint, so it cannot rot. Never asserts on time values."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from bench import metrics, report
from bench.machine import cpu_model_and_flags

REPO = Path(__file__).resolve().parents[2]
RATIO = re.compile(r"\d+\.\d\d× \(")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    doc = out / "performance.md"
    command = [sys.executable, "-m", "bench.run", "--size", "tiny", "--out", str(out), "--doc", str(doc),
               "--tokens", "4", "--batch-tokens", "4", "--rounds", "1", "--only", "load", "decode", "batch", "rss"]
    finished = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr[-3000:]
    return finished.stdout, json.loads((out / "results-tiny.json").read_text()), doc.read_text(encoding="utf-8")


def test_cli_prints_a_table_with_numeric_ratios(tiny_run):
    stdout, summary, _ = tiny_run
    assert [row["metric"] for row in summary["rows"]] == ["load", "decode", "batch", "rss"]
    for row in summary["rows"]:
        if row["metric"] == "batch" and row["status"] == metrics.NOT_IMPLEMENTED:
            continue
        assert row["ratio"] > 0, row
        assert report.ratio_text(metrics.Row(**row)) in stdout


def test_greedy_tokens_match_the_reference_and_fill_the_budget(tiny_run):
    _, summary, _ = tiny_run
    decode = next(row for row in summary["rows"] if row["metric"] == "decode")
    assert decode["check"] == "match: yes"
    jobs = summary["jobs"]
    assert jobs["ours_exact"]["runs"][0]["new_tokens"] == jobs["ref_single"]["runs"][0]["new_tokens"] == 4


def test_each_job_ran_in_its_own_process_with_its_own_peak_rss(tiny_run):
    _, summary, _ = tiny_run
    assert set(summary["jobs"]) == {"ref_single", "ours_exact", "ours_batch"}
    assert all(job["peak_rss_bytes"] > 10 * 2**20 for job in summary["jobs"].values())
    assert summary["checkpoint"]["parameters"] > 1_000_000


def test_markdown_has_machine_table_and_command(tiny_run):
    _, summary, doc = tiny_run
    assert "## Machine" in doc and "avx512_bf16" in doc and summary["machine"]["torch"] in doc
    assert "| Metric | Ours | Reference | Ratio |" in doc
    assert "Precision policy: auto →" in doc and "fp32 CPU kernels (" in doc
    assert "python -m bench.run --size tiny --tokens 4 --page-tokens 32 --batch-tokens 4 --rounds 1 --repeats 1 " \
           "--only load decode batch rss" in doc
    table = doc[doc.index("| Metric |"):].split("\n\n")[0].splitlines()
    assert len(table) == 2 + len(summary["rows"])


def _fake_results(fast_signature: list[str], batch: dict) -> dict:
    single = {"load_s": 2.0, "peak_rss_bytes": 4 * 2**30,
              "runs": [{"ttft_s": 4.0, "decode_tok_s": 10.0, "new_tokens": 8, "token_ids": [1, 2, 3]}]}
    ours = {**single, "load_s": 0.5, "peak_rss_bytes": 2 * 2**30, "signature": ["Linear", "torch.float32"]}
    fast = {**ours, "signature": fast_signature,
            "runs": [{"ttft_s": 3.0, "decode_tok_s": 25.0, "new_tokens": 8, "token_ids": [1, 2, 9]}]}
    page = {"load_s": 2.5, "wall_s": 80.0, "peak_rss_bytes": 5 * 2**30, "token_ids": [[1], [2]], "new_tokens": [1, 1],
            "mode": "one-by-one"}
    bf16 = {**single, "load_s": 3.0, "peak_rss_bytes": 3 * 2**30,
            "runs": [{"ttft_s": 6.0, "decode_tok_s": 12.5, "new_tokens": 8, "token_ids": [1, 2, 3, 4]}]}
    ceilings = {"load_s": 0.0, "runs": [], "gemm_fp32_gflops": 150.0, "gemm_bf16_gflops": 600.0, "read_gbs": 40.0,
                "bounds": {"first_token_s": {"region": 2.0, "snip": 0.45},
                           "prefill_tflop": {"region": 1.2, "snip": 0.27},
                           "decode_tok_s_int8": 61.0, "decode_mb_int8": 655.0}}
    return {"ceilings": ceilings, "ref_single": single, "ref_bf16": bf16, "ours_exact": ours, "ours_fast": fast,
            "ours_batch": {"load_s": 0.6, **batch},
            "ref_page": page, "ours_page": {**page, "load_s": 0.7, "wall_s": 40.0, "token_ids": [[1], [5]],
                                            "mode": "batch", "peak_rss_bytes": 3 * 2**30}}


def test_the_report_names_the_int8_crossover_the_fast_process_ran_with():
    results = _fake_results(["GroupQuantLinear"], {"decode_tok_s": 35.0, "new_tokens": [8] * 8})
    results["ours_fast"]["int8_rows"] = {"rows": 48, "source": "measured", "gemm": "bfloat16",
                                         "reason": "48 rows: 30.00 against 37.00 ms widened"}
    lines = report.policy_lines({}, results)
    assert ("- fast int8 groups (measured): the 4-bit kernel up to 48 rows, a widened bfloat16 GEMM beyond "
            "(48 rows: 30.00 against 37.00 ms widened)") in lines
    assert not any("int8 groups" in line for line in report.policy_lines({}, _fake_results([], {})))


def test_rows_for_every_metric_with_direction_of_each_ratio():
    results = _fake_results(["QuantizedLinear", "torch.int8"], {"decode_tok_s": 35.0, "new_tokens": [8] * 8})
    rows = {row.label: row for row in metrics.build_rows(results, [m for m in metrics.METRIC_JOBS
                                                                    if m not in ("snip", "llamacpp")])}
    by_metric = {row.metric: row for row in rows.values()}
    assert by_metric["load"].ratio == pytest.approx(2.0 / 0.5)  # best load over ours' exact processes
    assert by_metric["ttft"].ratio == pytest.approx(1.0) and by_metric["ttft"].met == "no"
    assert by_metric["fast"].ratio == pytest.approx(2.5) and by_metric["fast"].check.endswith("2/3")
    assert by_metric["batch"].ratio == pytest.approx(3.5) and by_metric["batch"].met == "yes"
    assert by_metric["page"].ratio == pytest.approx(2.0) and by_metric["page"].check.endswith("1/2")
    rss = [row for row in rows.values() if row.metric == "rss"]
    assert [row.ratio for row in rss] == pytest.approx([0.5, 0.6])
    bf16 = [row for row in rows.values() if row.metric == "bf16"]  # ours fast beside transformers bf16, no target
    assert [row.ratio for row in bf16] == pytest.approx([2.0, 2.0, 2 / 3])
    assert {row.met for row in bf16} == {"—"} and bf16[1].check.endswith("2/4")
    bounds = [row for row in rows.values() if row.metric == "ceilings"]  # no llama.cpp here: nothing to compare
    assert [row.ours for row in bounds] == ["600 / 150 / 40.0", "2.00", "0.45", "61.0"]
    assert bounds[1].reference == "—" and "1.20 TFLOP" in bounds[1].label


def test_missing_fast_mode_and_batch_api_are_reported_not_measured():
    results = _fake_results(["Linear", "torch.float32"], {"skipped": "Engine.recognize_batch is not implemented"})
    rows = metrics.build_rows(results, ["fast", "batch"])
    assert [row.ratio for row in rows] == [None, None]
    table = report.markdown_table(rows)
    assert table.count(metrics.NOT_IMPLEMENTED) >= 2 and not RATIO.search(table)


def test_the_cpu_generation_comes_from_the_first_processor_and_shows_in_the_machine_lines():
    from bench.machine import cpu_generation

    text = "processor\t: 0\ncpu family\t: 25\nmodel\t\t: 17\nmodel name\t: AMD EPYC\nstepping\t: 1\n" \
           "processor\t: 1\ncpu family\t: 26\n"
    assert cpu_generation(text) == "family 25, model 17, stepping 1"
    assert cpu_generation("model name\t: Apple M2\n") == ""
    machine_facts, _, doc = _documented_run({})
    assert "- CPU: AMD EPYC; 2 logical cores" in doc  # no generation recorded: nothing shown
    lines = report.machine_lines({**machine_facts, "cpu_generation": "family 25, model 17, stepping 1"}, 2)
    assert lines[0].startswith("- CPU: AMD EPYC (family 25, model 17, stepping 1); 2 logical cores")


def test_cpu_flags_come_from_the_first_processor():
    text = "processor\t: 0\nmodel name\t: Test CPU 9000\nflags\t\t: fpu avx2 avx512f avx512_vnni\n\n" \
           "processor\t: 1\nmodel name\t: Other\nflags\t\t: fpu\n"
    model, flags = cpu_model_and_flags(text)
    assert model == "Test CPU 9000" and {"avx512f", "avx512_vnni"} <= flags and "amx_tile" not in flags


def test_single_region_jobs_alternate_and_rounds_merge_to_the_best():
    assert metrics.jobs_for(["decode", "page"], rounds=2) == [
        "ref_single", "ours_exact", "ref_single", "ours_exact", "ref_page", "ours_page"]
    first = {"load_s": 3.0, "peak_rss_bytes": 5, "job_s": 10.0, "runs": [{"decode_tok_s": 1.0}]}
    later = {"load_s": 2.0, "peak_rss_bytes": 7, "job_s": 11.0, "runs": [{"decode_tok_s": 2.0}]}
    merged = metrics.merge_rounds(first, later)
    assert (merged["load_s"], merged["peak_rss_bytes"], metrics.best_rate(merged)) == (2.0, 7, 2.0)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown without a GPU")
def test_gpu_benchmark_says_it_needs_cuda(capsys):
    from bench import gpu_decode

    assert gpu_decode.main(["--tokens", "4"]) == 2
    assert "needs a CUDA GPU" in capsys.readouterr().err


def _llama_results() -> dict:
    results = _fake_results(["GroupQuantLinear"], {"decode_tok_s": 35.0, "new_tokens": [8] * 8})
    results["ours_fast"] |= {"peak_rss_bytes": int(1.8 * 2**30)}
    for job, (ttft, rate, gib) in {"llama_f16": (7.8, 14.7, 2.5), "llama_q8_0": (7.6, 20.9, 1.9),
                                   "llama_q4_k_m": (7.1, 28.7, 1.9)}.items():
        results[job] = {"peak_rss_bytes": int(gib * 2**30), "runs": [{"ttft_s": ttft, "decode_tok_s": rate}]}
    results["ours_snip"] = {"runs": [{"ttft_s": 0.7, "decode_tok_s": 30.0}, {"ttft_s": 0.45, "decode_tok_s": 31.0}]}
    return results


def test_llama_cpp_rows_compare_ours_fast_with_q8_0():
    rows = metrics.build_rows(_llama_results(), ["llamacpp"])
    decode, ttft, rss = rows[:3]
    assert decode.ratio == pytest.approx(25.0 / 20.9) and decode.met == "no"  # the target is 1.3x
    assert ttft.ratio == pytest.approx(7.6 / 3.0) and ttft.met == "no"
    assert rss.ratio == pytest.approx(1.8 / 1.9) and rss.met == "yes"
    assert [row.label.split(":")[0] for row in rows[3:]] == ["llama.cpp f16", "llama.cpp Q4_K_M"]
    assert "28.70" in rows[4].reference and "llama.cpp" in decode.ratio_kind
    bounds = metrics.build_rows(_llama_results(), ["ceilings"])  # each bound beside what its target needs
    assert bounds[1].reference == "2.53 (llama.cpp Q8_0 / 3)" and bounds[3].reference == "27.17 (llama.cpp Q8_0 × 1.3)"


@pytest.mark.parametrize("fast_bf16, met", [(True, "yes"), (False, "yes")])
def test_the_snip_target_depends_on_the_cpu(fast_bf16, met):
    row = metrics.build_rows(_llama_results(), ["snip"], fast_bf16)[0]
    assert row.ours == "0.45" and row.met == met and ("0.5" if fast_bf16 else "1.0") in row.target


def test_llama_cpp_timing_lines_are_parsed():
    from bench import llamacpp

    text = ("encoding image slice...\nimage slice encoded in 5900 ms\ndecoding image batch 1/1, n_tokens_batch = 256\n"
            "image decoded (batch 1/1) in 640 ms\n"
            "llama_perf_context_print: prompt eval time =     120.00 ms /    12 tokens\n"
            "llama_perf_context_print:        eval time =    6000.00 ms /   127 runs   (   47.24 ms per token)\n")
    parsed = llamacpp.parse_perf(text)
    assert parsed["ttft_s"] == pytest.approx(6.66) and parsed["decode_tok_s"] == pytest.approx(127 / 6.0)
    # llama.cpp 0.3.36's prompt timer spans the image encode and batch: counted once
    newer = ("mtmd batch encoding done in 3608 ms\ndecoding image batch 1/1, n_tokens_batch = 256\n"
             "image decoded (batch 1/1) in 1057 ms\nllama_perf_context_print: prompt eval time =    4839.04 ms /   270 "
             "tokens\nllama_perf_context_print:        eval time =     306.63 ms /    15 runs   (   20.44 ms)\n")
    assert llamacpp.parse_perf(newer)["ttft_s"] == pytest.approx(4.83904)
    assert llamacpp.first_token_ms(3000, 1000, 256, 1100, 270) == pytest.approx(4100)  # batch timed, encode not
    with pytest.raises(ValueError, match="eval time"):
        llamacpp.parse_perf("no timings here")


def test_llama_cpp_rows_join_only_when_its_build_exists(monkeypatch):
    from bench import llamacpp, run

    monkeypatch.setattr(llamacpp, "build_present", lambda: False)
    assert "llamacpp" not in run.default_metrics("real")
    with pytest.raises(SystemExit):
        run.parse_args(["--only", "llamacpp"])
    monkeypatch.setattr(llamacpp, "build_present", lambda: True)
    assert "llamacpp" in run.default_metrics("real") and "llamacpp" not in run.default_metrics("tiny")
    assert set(metrics.jobs_for(["llamacpp"])) == {"ours_fast", *metrics.LLAMA_JOBS}


def test_a_run_on_another_cpu_kind_keeps_the_other_sections():
    from types import SimpleNamespace

    settings = SimpleNamespace(threads=2, tokens=4, batch_tokens=4, page_tokens=4, rounds=1, repeats=1)
    checkpoint = {"size": "tiny", "parameters": 10**7, "bytes": 2 * 10**7, "seed": 1}
    rows = metrics.build_rows(_llama_results(), ["decode"])

    def machine(cpu, flags):
        return {"cpu": cpu, "flags": dict.fromkeys(flags, True), "logical_cores": 2, "memory_gib": 8, "os": "x",
                "python": "3", "torch": "t", "transformers": "5", "git": "g", "date": "d"}

    amd = report.document(rows, machine("AMD EPYC", ["avx2"]), checkpoint, "cmd-amd", settings, 60.0)
    both = report.document(rows, machine("Intel Xeon", ["avx2", "avx512f", "amx_bf16"]), checkpoint, "cmd-amx",
                           settings, 60.0, previous=amd)
    assert "## AMD, AVX2" in both and "## Intel, AMX" in both and "cmd-amd" in both and "cmd-amx" in both
    again = report.document(rows, machine("AMD EPYC", ["avx2"]), checkpoint, "cmd-amd-2", settings, 60.0,
                            previous=both)
    assert "cmd-amd-2" in again and "cmd-amd\n" not in again and "cmd-amx" in again
    assert again.count("## AMD, AVX2") == 1


def _documented_run(ceilings: dict, previous: str = "", cpu: str = "AMD EPYC") -> tuple[dict, dict, str]:
    """(machine, jobs, document) of a fake run whose machine peaks are ``ceilings``."""
    from types import SimpleNamespace

    results = _fake_results(["GroupQuantLinear"], {"decode_tok_s": 35.0, "new_tokens": [8] * 8})
    results["ceilings"] = {**results["ceilings"], **ceilings}
    machine_facts = {"cpu": cpu, "flags": {"avx2": True, "avx512f": True, "avx512_bf16": True}, "logical_cores": 2,
                     "memory_gib": 8, "os": "x", "python": "3", "torch": "t", "transformers": "5", "git": "g",
                     "date": "d"}
    settings = SimpleNamespace(threads=2, tokens=8, batch_tokens=8, page_tokens=4, rounds=1, repeats=1)
    rows = metrics.build_rows(results, ["decode", "ceilings"])
    doc = report.document(rows, machine_facts, {"size": "real", "parameters": 10**9, "bytes": 2 * 10**9, "seed": 1},
                          "cmd", settings, 60.0, results, previous)
    return machine_facts, results, doc


def test_a_run_on_a_throttled_host_does_not_replace_its_kinds_table():
    machine_facts, _, quiet = _documented_run({"gemm_bf16_gflops": 762.0, "gemm_fp32_gflops": 187.0})
    _, slow, _ = _documented_run({"gemm_bf16_gflops": 333.0, "gemm_fp32_gflops": 160.0})
    why = report.throttled(quiet, machine_facts, slow)
    assert why is not None and "bf16 44%" in why and "fp32" not in why
    _, same, _ = _documented_run({"gemm_bf16_gflops": 700.0, "gemm_fp32_gflops": 180.0})
    assert report.throttled(quiet, machine_facts, same) is None  # within the noise of one kind
    assert report.throttled("", machine_facts, slow) is None  # nothing to keep yet
    intel, _, _ = _documented_run({}, cpu="Intel Xeon")
    assert report.throttled(quiet, intel, slow) is None  # another kind's table is not this run's to keep


def test_save_writes_a_throttled_run_beside_the_table_unless_told_to_replace(tmp_path):
    from types import SimpleNamespace

    from bench import run

    machine_facts, quiet_jobs, quiet = _documented_run({"gemm_bf16_gflops": 762.0, "gemm_fp32_gflops": 187.0})
    _, slow_jobs, _ = _documented_run({"gemm_bf16_gflops": 300.0, "gemm_fp32_gflops": 100.0})
    doc = tmp_path / "performance.md"
    doc.write_text(quiet, encoding="utf-8")
    args = SimpleNamespace(out=tmp_path, doc=doc, size="real", replace=False, tokens=8, page_tokens=4,
                           batch_tokens=8, rounds=1, repeats=1, threads=2, only=None)
    rows = metrics.build_rows(slow_jobs, ["decode", "ceilings"])
    facts = {"size": "real", "parameters": 10**9, "bytes": 2 * 10**9, "seed": 1}
    run.save(args, rows, slow_jobs, facts, machine_facts, 60.0)
    assert doc.read_text(encoding="utf-8") == quiet
    assert "| 300 / 100 / " in (tmp_path / "performance-real-throttled.md").read_text(encoding="utf-8")
    args.replace = True
    run.save(args, rows, slow_jobs, facts, machine_facts, 60.0)
    assert "| 300 / 100 / " in doc.read_text(encoding="utf-8")


def test_refreshing_the_prose_keeps_the_tables_and_takes_the_new_findings(tmp_path, monkeypatch):
    _, _, doc = _documented_run({"gemm_bf16_gflops": 762.0, "gemm_fp32_gflops": 187.0})
    assert report.refreshed(doc) == doc
    findings = tmp_path / "findings.md"
    findings.write_text("**A new reading of the same table.**\n", encoding="utf-8")
    monkeypatch.setattr(report, "FINDINGS", findings)
    again = report.refreshed(doc)
    assert "A new reading of the same table." in again
    assert report.SECTION.findall(again) == report.SECTION.findall(doc)


def test_llama_cpp_is_built_for_the_cpus_own_isa_without_amx():
    from bench import llamacpp

    amx_xeon = llamacpp.cmake_flags({"avx2", "fma", "avx512f", "avx512_bf16", "amx_tile", "amx_int8", "amx_bf16"})
    assert "-DGGML_NATIVE=OFF" in amx_xeon and "-DGGML_AVX512=ON" in amx_xeon and "-DGGML_AVX512_BF16=ON" in amx_xeon
    assert {"-DGGML_AMX_TILE=OFF", "-DGGML_AMX_INT8=OFF", "-DGGML_AMX_BF16=OFF"} <= set(amx_xeon)
    avx2_only = llamacpp.cmake_flags({"avx", "avx2", "fma", "f16c"})
    assert "-DGGML_AVX2=ON" in avx2_only and "-DGGML_AVX512=OFF" in avx2_only and "-DGGML_AVX512_VNNI=OFF" in avx2_only
