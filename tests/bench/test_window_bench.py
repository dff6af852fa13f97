"""The window-against-CLI benchmark (bench/window_bench.py) on the tiny checkpoint, so it cannot rot. It drives the
real host, worker and (with --ui studio) the whole composed window offscreen, each path in its own process. Never
asserts on time values."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run_bench(tmp_path: Path, ui: str) -> tuple[str, dict]:
    out = tmp_path / "out"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "XDG_CACHE_HOME": str(tmp_path / "cache"), "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "bench.window_bench", "--size", "tiny", "--tokens", "6", "--pairs", "1",
               "--rounds", "1", "--ui", ui, "--cards", "1", "--out", str(out)]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout, json.loads((out / f"window-bench-tiny-{ui}.json").read_text())


@pytest.mark.parametrize("ui", ["studio", "text"])
def test_both_paths_decode_the_same_tokens_and_the_report_gives_ratios(tmp_path, ui):
    stdout, result = run_bench(tmp_path, ui)
    summary, rounds = result["summary"], result["measured"]["rounds"]
    assert [r["path"] for r in rounds] == ["cli", "window"]  # one process of each, taking turns
    assert [r["path"] for r in result["measured"]["warmup"]] == ["cli", "window"]
    assert [p["path"] for p in result["measured"]["processes"]] == ["cli", "window"]
    assert all(r["tokens"] == 6 for r in rounds)  # the checkpoint never picks a stop token
    assert summary["same_tokens"] is True
    assert summary["decode_ratio"] > 0 and summary["first_token_ratio"] > 0
    for path in ("cli", "window"):
        row = summary["rows"][path]
        assert row["decode_tok_s"] > 0 and row["first_token_s"] > 0 and row["process_ms_per_token"] > 0
    assert f"window / CLI decode: {summary['decode_ratio']:.2f}x" in stdout
    assert result["machine"]["cpu"] in stdout and "logical cores" in stdout
    assert f"--ui {ui}" in stdout and result["measured"]["qt_platform"] == "offscreen"
