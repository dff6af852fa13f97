"""The whole-page conversion benchmark (bench/convert_bench.py) at tiny sizes, so it cannot rot. Never asserts on
time values: only on what was measured and how it is reported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.convert_bench import PAGE_PLAN

REPO = Path(__file__).resolve().parents[2]
TOKENS = 3
ABANDONED = {"header", "footer", "number"}


@pytest.fixture(scope="module")
def tiny_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("convert-bench")
    command = [sys.executable, "-m", "bench.convert_bench", "--size", "tiny", "--tokens", str(TOKENS), "--out",
               str(out)]
    finished = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr[-3000:]
    return finished.stdout, json.loads((out / "convert-bench-tiny.json").read_text()), out


def test_the_planned_page_is_converted_with_every_region_at_the_token_budget(tiny_report):
    _, report, out = tiny_report
    kept = [label for label, _ in PAGE_PLAN if label not in ABANDONED]
    assert report["regions"] == len(kept)
    assert report["regions_by_task"] == {"text": 8, "formula": 1, "table": 1, "skip": 1}
    # the benchmark checkpoint cannot stop early: every recognized region decodes the whole budget
    assert report["new_tokens"] == TOKENS * (len(kept) - 1)
    assert (out / "convert-tiny" / "convert-page.md").is_file()


def test_the_layout_share_and_the_machine_are_reported(tiny_report):
    stdout, report, _ = tiny_report
    assert report["page_s"] == pytest.approx(report["render_s"] + report["layout_s"] + report["recognize_s"])
    assert report["layout_share"] == pytest.approx(report["layout_s"] / report["page_s"])
    assert 0 < report["layout_share"] < 1 and report["layout_first_call_s"] > 0
    assert report["machine"]["cpu"] and report["threads"] >= 1 and report["peak_rss_bytes"] > 10 * 2**20
    assert set(report["load_s"]) == {"glm_ocr_s", "layout_s"}
    last = stdout.strip().splitlines()[-1]
    assert last.startswith("one page (1240x1754 px, 11 regions, 3 tokens each) converted in ")
    assert "of the page" in last and report["machine"]["cpu"] in last
