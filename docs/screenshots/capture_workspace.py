"""Capture screenshots of the workspace's main states in a real window (run under Xvfb).

    xvfb-run -s "-screen 0 1400x900x24" python3 docs/screenshots/capture_workspace.py

Uses the test suite's fake engine so the streaming state can be frozen mid-stream.
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


def sample_page(path: Path) -> Path:
    page = Image.new("RGB", (1240, 1754), "white")
    draw = ImageDraw.Draw(page)
    font, big = page_fonts(30, 46)
    draw.text((120, 120), "Quarterly report", font=big, fill="black")
    for line in range(6):
        draw.text((120, 230 + 46 * line), "Lorem ipsum dolor sit amet, consectetur adipiscing elit sed do.",
                  font=font, fill="black")
    draw.text((360, 600), "E = m c²   ∫ f(x) dx = F(b) − F(a)", font=font, fill="black")
    for row in range(5):
        for col in range(3):
            x, y = 120 + col * 330, 760 + row * 60
            draw.rectangle((x, y, x + 330, y + 60), outline="black", width=2)
            draw.text((x + 14, y + 14), f"cell {row + 1},{col + 1}", font=font, fill="black")
    page.save(path)
    return path


def pump(app, ms=300):
    """Let the window live for ``ms`` (a local loop: QApplication.quit would close the window)."""
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def shot(app, window, name):
    pump(app)
    window.grab().save(str(OUT / f"{name}.png"))
    print("saved", OUT / f"{name}.png")


install_bool_refcount_guard()
APP = QApplication.instance() or QApplication(sys.argv)  # global: it must outlive every window


def main():
    app = APP
    tmp = Path(tempfile.mkdtemp())
    os.environ[MODEL_DIR_ENV] = str(tmp / "missing-model")
    window = MainWindow(Settings(tmp / "s.ini"), engine_factory=FakeFactory())
    window.resize(1380, 860)
    window.show()
    shot(app, window, "01-empty-no-model")
    window.close()

    model = tmp / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "model.safetensors").write_bytes(b"")
    os.environ[MODEL_DIR_ENV] = str(model)
    tokens = ["Lorem ", "ipsum ", "dolor ", "sit ", "amet, ", "consectetur ", "adipiscing ", "elit ", "sed ", "do."]
    factory = FakeFactory(tokens=tokens * 3, token_delay_s=0.06)
    window = MainWindow(Settings(tmp / "s2.ini"), engine_factory=factory)
    window.resize(1380, 860)
    window.show()
    pump(app, 500)
    window.open_path(str(sample_page(tmp / "report.png")))
    window.add_region(0, (110, 220, 1130, 520))
    window.add_region(0, (340, 585, 900, 650), task="formula")
    window.add_region(0, (110, 750, 1110, 1070), task="table")
    pump(app, 700)
    shot(app, window, "02-streaming")
    pump(app, 5000)
    first = window.session.reading_order()[0]
    window.select_region(first.id)
    shot(app, window, "03-done")
    window.close()

    settings = Settings(tmp / "s3.ini")
    settings.set("theme", "dark")
    window = MainWindow(settings, engine_factory=FakeFactory(tokens=tokens))
    window.resize(1380, 860)
    window.show()
    pump(app, 300)
    window.open_path(str(tmp / "report.png"))
    window.add_region(0, (110, 220, 1130, 520))
    pump(app, 1000)
    shot(app, window, "04-dark-theme")
    window.close()


if __name__ == "__main__":
    main()
