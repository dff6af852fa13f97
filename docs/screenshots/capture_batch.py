"""Capture the workspace while a batch of regions streams (several cards at once), under Xvfb.

    QTWEBENGINE_DISABLE_SANDBOX=1 xvfb-run -s "-screen 0 1400x900x24" python3 docs/screenshots/capture_batch.py

Uses the test suite's fake engine (slowed down) so the batch can be caught mid-stream.
"""

from pathlib import Path

from PIL import Image, ImageDraw

from shot_app import SCRATCH, close, open_studio, pump

from fake_engine import FakeFactory  # tests/app is on the path once shot_app is imported
from page_fonts import page_fonts

OUT = Path(__file__).resolve().parent

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


def main():
    studio = open_studio(FakeFactory(tokens_for=tokens_for, token_delay_s=0.12), with_model=True)
    pump(500)
    studio.documents.open_path(str(sample_page(SCRATCH / "summary.png")))
    regions = [studio.regions.add_region(0, box, run=False) for box in BOXES]
    studio.regions.select_region(regions[1].id)
    studio.regions.run_page_regions()
    pump(1000)
    print("states:", [r.state for r in regions], "texts:", [len(r.text) for r in regions])
    studio.window.grab().save(str(OUT / "05-batch.png"))
    print("saved", OUT / "05-batch.png")
    studio.host.cancel_all()
    close(studio)


if __name__ == "__main__":
    main()
