"""Capture the workspace while a batch of regions streams (several cards at once), under Xvfb.

    xvfb-run -s "-screen 0 1400x900x24" python3 docs/screenshots/capture_batch.py

Uses the test suite's fake engine (slowed down) so the batch can be caught mid-stream.
"""

import os
import sys
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw
from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "app")]
OUT = Path(__file__).resolve().parent

from app.main_window import MainWindow  # noqa: E402
from app.qt_compat import install_bool_refcount_guard  # noqa: E402
from app.paths import MODEL_DIR_ENV  # noqa: E402
from app.settings import Settings  # noqa: E402
from fake_engine import FakeFactory  # noqa: E402
from page_fonts import page_fonts  # noqa: E402

PARAGRAPHS = [
    "Revenue grew by twelve percent in the third quarter, driven by strong demand in the northern region.",
    "Operating costs stayed flat while the team shipped two new products ahead of schedule.",
    "Cash reserves now cover eighteen months of spending at the current rate.",
    "Next quarter the focus moves to hiring and to the launch of the mobile app.",
]
BOXES = [(100, 200, 1140, 330), (100, 380, 1140, 510), (100, 560, 1140, 690), (100, 740, 1140, 870)]


def sample_page(path: Path) -> Path:
    page = Image.new("RGB", (1240, 1100), "white")
    draw = ImageDraw.Draw(page)
    font, big = page_fonts(28, 44)
    draw.text((110, 90), "Quarterly summary", font=big, fill="black")
    for (x0, y0, _, _), text in zip(BOXES, PARAGRAPHS):
        words, line = text.split(), ""
        lines = []
        for word in words:
            if len(line) + len(word) > 52:
                lines.append(line)
                line = ""
            line += word + " "
        lines.append(line)
        for n, text_line in enumerate(lines):
            draw.text((x0 + 14, y0 + 14 + 40 * n), text_line.strip(), font=font, fill="black")
    page.save(path)
    return path


def tokens_for(region):
    row = min(range(len(BOXES)), key=lambda i: abs(BOXES[i][1] - (region[1] if region else 0)))
    return [word + " " for word in PARAGRAPHS[row].split()]


def pump(ms):
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


install_bool_refcount_guard()
APP = QApplication.instance() or QApplication(sys.argv)


def main():
    tmp = Path(tempfile.mkdtemp())
    model = tmp / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "model.safetensors").write_bytes(b"")
    os.environ[MODEL_DIR_ENV] = str(model)
    window = MainWindow(Settings(tmp / "s.ini"), engine_factory=FakeFactory(tokens_for=tokens_for,
                                                                             token_delay_s=0.12))
    window.resize(1380, 860)
    window.show()
    pump(500)
    window.open_path(str(sample_page(tmp / "summary.png")))
    regions = [window.add_region(0, box, run=False) for box in BOXES]
    window.select_region(regions[1].id)
    window.run_page_regions()
    pump(1000)
    print("states:", [r.state for r in regions], "texts:", [len(r.text) for r in regions])
    window.grab().save(str(OUT / "05-batch.png"))
    print("saved", OUT / "05-batch.png")
    window.host.cancel_all()
    window.close()


if __name__ == "__main__":
    main()
