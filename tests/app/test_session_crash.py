"""The autosave/restore proof: edit in a real app process, kill -9 it, start again, restore, find every edit.

Both runs are the real app in a subprocess (offscreen, no model, data and settings in tmp_path), started by
tests/app/run_with_driver.py with a driver script that plays the user: it opens an image, adds finished regions of
all four kinds, edits each one through its real result view, and reports once the autosave holds every edit. The
second driver accepts the restore prompt and writes down what the restored views show.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
LAUNCHER = Path(__file__).resolve().parent / "run_with_driver.py"
DEADLINE_S = 120  # generous bound for a loaded CI machine; the runs normally take a few seconds each

EDITS = {"formula": "\\frac{a}{b}+1", "text": "Edited *text* with $x^2$", "table": "EDITED", "extract": "Grace"}

FIRST_RUN = r'''
import json
from pathlib import Path
from app.document.model import DONE

OUT = Path(OUT_DIR)
studio.settings.set("autosave_interval_s", 2)  # the user's setting; keeps the proof short
SPECS = [
    ("formula", (10, 10, 300, 60), "$$x$$", "x"),
    ("text", (10, 80, 300, 140), "Original text", None),
    ("table", (10, 160, 300, 260), "<table><tr><td>a</td><td>b</td></tr><tr><td>c</td><td>d</td></tr></table>", None),
    ("extract", (10, 280, 300, 390), '{"name": "Ada", "total": 3}', {"name": "Ada", "total": 3}),
]
assert studio.documents.open_path(IMAGE)
regions = {}
for task, box, text, parsed in SPECS:
    region = studio.regions.add_region(0, box, task=task, run=False)
    region.state, region.text = DONE, text
    region.result = {"task": task, "text": text, "parsed": parsed, "parse_error": None}
    if task == "extract":
        region.schema = '{"name": "", "total": 0}'  # an Extract region runs with a template
    regions[task] = region
studio.workspace.mark_changed()
studio.regions.sync_views()
views = {task: studio.results.card(r.id).view for task, r in regions.items()}
views["formula"].set_latex(EDITS["formula"])
views["text"].source.setPlainText(EDITS["text"])
views["table"].editor.set_cell(0, 0, EDITS["table"])
views["extract"].tree.topLevelItem(0).setText(1, EDITS["extract"])


def on_saved(path):
    saved = json.loads(Path(path).read_text())["documents"][0]["document"]["regions"]
    edits = [r["edited_text"] or "" for r in saved]
    if all(any(want in e for e in edits) for want in EDITS.values()):
        (OUT / "autosaved.json").write_text(json.dumps({"path": path, "ids": {t: r.id for t, r in regions.items()}}))


studio.file_actions.autosaver.saved.connect(on_saved)
'''

SECOND_RUN = r'''
import json
from pathlib import Path
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

OUT = Path(OUT_DIR)


def report():
    session = studio.workspace.session
    if session is None or len(session.regions) < 4:
        return False
    cards = {r.task: studio.results.card(r.id) for r in session.regions}
    if any(card is None or card.view is None for card in cards.values()):
        return False
    views = {task: card.view for task, card in cards.items()}
    shown = {
        "formula": views["formula"].latex(),
        "text": views["text"].markdown(),
        "table": views["table"].editor.grid.to_matrix()[0][0],
        "extract": views["extract"].tree.data()["name"],
    }
    stored = {r.task: r.edited_text for r in session.regions}
    ids = {r.task: r.id for r in session.regions}
    (OUT / "restored.json").write_text(json.dumps({"shown": shown, "stored": stored, "ids": ids,
                                                   "document": session.path}))
    QApplication.quit()
    return True


def poll():
    box = studio.file_actions.restore_box
    if box is not None and box.isVisible():
        next(b for b in box.buttons() if b.text() == "Restore").click()
    if not report():
        QTimer.singleShot(50, poll)


poll()
'''


def app_env(tmp_path: Path) -> dict:
    env = dict(os.environ)
    env.update({
        "QT_QPA_PLATFORM": "offscreen",
        "QTWEBENGINE_DISABLE_SANDBOX": "1",  # test environment only: Chromium refuses root with its sandbox
        "GLMOCR_DATA_DIR": str(tmp_path / "data"),
        "GLMOCR_MODEL_DIR": str(tmp_path / "no-model"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "xdg-data"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "PYTHONPATH": str(REPO) + os.pathsep + env.get("PYTHONPATH", ""),
    })
    return env


def write_driver(tmp_path: Path, name: str, body: str, image: Path) -> Path:
    header = f"OUT_DIR = {str(tmp_path)!r}\nIMAGE = {str(image)!r}\nEDITS = {EDITS!r}\n"
    path = tmp_path / name
    path.write_text(header + body)
    return path


def start_app(tmp_path: Path, driver: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(LAUNCHER), str(driver)], cwd=REPO, env=app_env(tmp_path),
                            stdout=subprocess.DEVNULL, stderr=open(tmp_path / f"{driver.stem}.log", "wb"))


def wait_for_file(path: Path, process: subprocess.Popen) -> dict:
    deadline = time.monotonic() + DEADLINE_S
    while not path.exists():
        if process.poll() is not None:
            pytest.fail(f"the app exited ({process.returncode}) before writing {path.name}")
        if time.monotonic() > deadline:
            pytest.fail(f"no {path.name} within {DEADLINE_S} s")
        time.sleep(0.1)
    return json.loads(path.read_text())


@pytest.mark.slow
@pytest.mark.gui
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="kill -9 needs POSIX")
def test_kill_minus_9_then_restore_finds_every_edit(tmp_path):
    image = tmp_path / "page.png"
    Image.new("RGB", (400, 400), "white").save(image)
    first = start_app(tmp_path, write_driver(tmp_path, "first_run.py", FIRST_RUN, image))
    try:
        before = wait_for_file(tmp_path / "autosaved.json", first)
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        first.kill()
    assert first.returncode == -signal.SIGKILL

    second = start_app(tmp_path, write_driver(tmp_path, "second_run.py", SECOND_RUN, image))
    try:
        after = wait_for_file(tmp_path / "restored.json", second)
        second.wait(timeout=60)
    finally:
        second.kill()
    assert after["document"] == str(image) and after["ids"] == before["ids"]
    assert after["shown"] == {"formula": EDITS["formula"], "text": EDITS["text"], "table": EDITS["table"],
                              "extract": EDITS["extract"]}
    assert after["stored"]["formula"] == EDITS["formula"] and EDITS["table"] in after["stored"]["table"]
    assert json.loads(after["stored"]["extract"]) == {"name": EDITS["extract"], "total": 3}
    # The clean quit of the second run keeps the work as "last session" and leaves nothing to recover.
    autosaves = sorted(p.name for p in (tmp_path / "data" / "autosave").iterdir())
    assert autosaves == [] and (tmp_path / "data" / "last-session.glmocr-session").is_file()
