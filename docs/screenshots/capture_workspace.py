"""Capture screenshots of the workspace's main states in a real window (run under Xvfb).

    QTWEBENGINE_DISABLE_SANDBOX=1 xvfb-run -s "-screen 0 1400x900x24" python3 docs/screenshots/capture_workspace.py

Uses the test suite's fake engine so the streaming state can be frozen mid-stream.
"""

from pathlib import Path

from PIL import Image, ImageDraw

from shot_app import SCRATCH, close, open_studio, pump

from fake_engine import FakeFactory  # tests/app is on the path once shot_app is imported
from page_fonts import page_fonts

OUT = Path(__file__).resolve().parent


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


TEXT_TOKENS = ["Lorem ", "ipsum ", "dolor ", "sit ", "amet, ", "consectetur ", "adipiscing ", "elit ", "sed ", "do. "]
FORMULA_TOKENS = ["E ", "= ", "m ", "c^2 ", "\\quad ", "\\int ", "f(x)\\,", "dx ", "= ", "F(b) ", "- ", "F(a)"]
TABLE_TOKENS = ["<table>"] + [f"<tr>{''.join(f'<td>cell {r},{c}</td>' for c in (1, 2, 3))}</tr>" for r in range(1, 6)] \
    + ["</table>"]


def tokens_for(region):
    """What the fake model "reads" in each region of the sample page, by where the region starts."""
    top = region[1] if region else 0
    return FORMULA_TOKENS if 560 <= top < 700 else TABLE_TOKENS if top >= 700 else TEXT_TOKENS * 3


def shot(window, name):
    pump()
    window.grab().save(str(OUT / f"{name}.png"))
    print("saved", OUT / f"{name}.png")


def main():
    studio = open_studio(FakeFactory(), with_model=False)
    shot(studio.window, "01-empty-no-model")
    close(studio)

    studio = open_studio(FakeFactory(tokens_for=tokens_for, token_delay_s=0.06), with_model=True)
    pump(500)
    studio.documents.open_path(str(sample_page(SCRATCH / "report.png")))
    add = studio.regions.add_region
    add(0, (110, 220, 1130, 520))
    add(0, (340, 585, 900, 650), task="formula")
    add(0, (110, 750, 1110, 1070), task="table")
    pump(700)
    shot(studio.window, "02-streaming")
    pump(5000)
    studio.regions.select_region(studio.workspace.session.reading_order()[0].id)
    shot(studio.window, "03-done")
    close(studio)

    studio = open_studio(FakeFactory(tokens_for=tokens_for), with_model=True, theme="dark")
    pump(300)
    studio.documents.open_path(str(SCRATCH / "report.png"))
    studio.regions.add_region(0, (110, 220, 1130, 520))
    pump(1000)
    shot(studio.window, "04-dark-theme")
    close(studio)


if __name__ == "__main__":
    main()
