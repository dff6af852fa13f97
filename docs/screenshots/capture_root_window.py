"""The window as root, started the way ``glmocr-studio`` starts (``app.launch.main``), with no sandbox variable set:
it shows its result views and stays alive. Writes root-window.png and prints the app's log line about the sandbox.

    env -u QTWEBENGINE_DISABLE_SANDBOX xvfb-run -a -s "-screen 0 1400x900x24" python docs/screenshots/capture_root_window.py
"""

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
SCRATCH = Path(tempfile.mkdtemp())
os.environ.update({"GLMOCR_DATA_DIR": str(SCRATCH / "data"), "GLMOCR_MODEL_DIR": str(SCRATCH / "no-model"),
                   "XDG_CONFIG_HOME": str(SCRATCH / "config")})
OUT = Path(__file__).resolve().parent / "root-window.png"
SETTLE_MS = 4000  # the pages load, KaTeX renders, a renderer that would die has died

from PySide6.QtCore import QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

import app.launch  # noqa: E402
import app.main  # noqa: E402
from app.dialogs.sample_page import ensure_sample  # noqa: E402
from app.document.model import DONE  # noqa: E402

RESULTS = [("text", (100, 215, 1130, 495), "The reading room was open on **61 days** this quarter; visits rose by "
            "twelve percent, with the seating model $x = \\frac{-b \\pm \\sqrt{b^2 - 4ac}}{2a}$.", None),
           ("formula", (230, 470, 780, 610), "x = \\frac{-b \\pm \\sqrt{b^2 - 4ac}}{2a}",
            "x = \\frac{-b \\pm \\sqrt{b^2 - 4ac}}{2a}")]


def drive(studio) -> None:
    assert studio.documents.open_path(str(ensure_sample()))
    for task, box, text, parsed in RESULTS:
        region = studio.regions.add_region(0, box, task=task, run=False)
        region.state, region.text = DONE, text
        region.result = {"task": task, "text": text, "parsed": parsed, "parse_error": None, "stop_reason": "eos"}
    studio.regions.sync_views()
    QTimer.singleShot(SETTLE_MS, lambda: finish(studio))


def finish(studio) -> None:
    QApplication.primaryScreen().grabWindow(0).save(str(OUT))
    log = SCRATCH / "data" / "logs" / "glmocr-studio.log"
    print(next((line for line in log.read_text().splitlines() if "sandbox" in line), "no sandbox line in the log"))
    print(f"euid {os.geteuid()}, wrote {OUT}")
    QApplication.quit()


real_start = app.main.start


def start(argv=None):
    application, studio = real_start(argv)
    studio.window.resize(1380, 860)
    QTimer.singleShot(0, studio.window, lambda: drive(studio))
    return application, studio


if __name__ == "__main__":
    app.main.start = start  # app.launch.main -> app.main.main -> start, as a user's start goes
    sys.exit(app.launch.main([]))
