"""bench/serve_bench.py on a tiny checkpoint with a tiny workload, so it cannot rot. Never asserts on times."""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_serve_benchmark_runs_and_checks_tokens(tmp_path):
    command = [sys.executable, "-m", "bench.serve_bench", "--size", "tiny", "--requests", "3", "--tokens", "3",
               "--clients", "1", "2", "--rounds", "1", "--image-size", "64", "--out", str(tmp_path)]
    finished = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert "serve, 2 clients at once" in finished.stdout and "| yes |" in finished.stdout
    result = json.loads((tmp_path / "serve-bench-tiny.json").read_text())
    assert [run["clients"] for run in result["runs"]] == [1, 1, 2]
    assert all(run["same_tokens"] and run["tokens"] == 9 for run in result["runs"])
