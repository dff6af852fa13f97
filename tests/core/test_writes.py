"""An offline app writes only into its own folders: a whole command-line run (model load with the weight cache, a
PDF page, recognition) with HOME in a temporary folder, then a list of every file written there."""

import os
import subprocess
import sys

import pymupdf

ALLOWED = (".cache/glmocr-studio/", ".local/share/glmocr-studio/")


def _pdf(path):
    document = pymupdf.open()
    page = document.new_page(width=200, height=120)
    page.insert_text((20, 60), "Invoice 2024-0117", fontsize=14)
    document.save(path)
    return path


def test_a_command_line_run_writes_only_into_the_apps_folders(tiny_checkpoint, tmp_path):
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir(), work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "GLMOCR_", "HF_"))}
    env.update(HOME=str(home), PYTHONPATH=os.getcwd())
    command = [sys.executable, "-m", "glmocr_core", "ocr", str(_pdf(work / "page.pdf")), "--model",
               str(tiny_checkpoint), "--max-new-tokens", "3", "--device", "cpu", "--precision", "exact"]
    finished = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr[-2000:]
    written = sorted(str(p.relative_to(home)) for p in home.rglob("*") if p.is_file())
    assert any(name.startswith(ALLOWED[0]) for name in written), written  # the weight cache was used
    assert [name for name in written if not name.startswith(ALLOWED)] == []
    assert sorted(p.name for p in work.iterdir()) == ["page.pdf"]
