"""Capture screenshots of each result kind in a real window (run under Xvfb; WebEngine needs a real screen).

    QTWEBENGINE_DISABLE_SANDBOX=1 xvfb-run -s "-screen 0 1400x1000x24" python3 docs/screenshots/capture_results.py

Builds the app's main window, adds one finished region of every kind (plus a formula with a LaTeX error), and saves
the whole window and each card as docs/screenshots/results-*.png.
"""

import json
import os
from pathlib import Path

from PIL import Image, ImageDraw

from shot_app import APP, SCRATCH, close, open_studio, pump

from app.document.model import DONE
from fake_engine import FakeFactory  # tests/app is on the path once shot_app is imported
from page_fonts import page_fonts

OUT = Path(__file__).resolve().parent

TEXT = """## Results

The energy of a photon is $E = h\\nu$, and with \\(\\lambda\\) the wavelength:

$$E = \\frac{hc}{\\lambda}$$

| Quantity | Symbol |
|---|---|
| Planck constant | $h$ |
| Speed of light | $c$ |
"""
TABLE = ("<table><thead><tr><th rowspan=\"2\">Region</th><th colspan=\"2\">Revenue</th></tr>"
         "<tr><th>2023</th><th>2024</th></tr></thead>"
         "<tr><td>North</td><td>1,200</td><td>1,350</td></tr><tr><td>South</td><td>980</td><td>1,105</td></tr>"
         "<tr><td>Total</td><td>2,180</td><td>2,455</td></tr></table>")
EXTRACT = {"invoice_number": "INV-2024-0117", "date": "2024-03-05", "total": 2455.0, "paid": False,
           "seller": {"name": "Acme GmbH", "vat_id": "DE123456789"},
           "items": [{"description": "Widgets", "quantity": 12, "price": 150.0}]}
REGIONS = [
    ("formula", (120, 560, 1100, 650), "\\int_0^\\infty e^{-x^2}\\,dx = \\frac{\\sqrt{\\pi}}{2}"),
    ("text", (120, 100, 1100, 520), TEXT),
    ("table", (120, 740, 1100, 1080), TABLE),
    ("extract", (120, 1120, 1100, 1500), EXTRACT),
    ("formula", (120, 1540, 1100, 1620), "\\frac{1}{2"),
]


def sample_page(path: Path) -> Path:
    page = Image.new("RGB", (1240, 1754), "white")
    draw = ImageDraw.Draw(page)
    font, _ = page_fonts(30, 30)
    for index, (task, box, _) in enumerate(REGIONS):
        draw.rectangle(box, outline="#bbbbbb", width=2)
        draw.text((box[0] + 16, box[1] + 16), f"{task} sample {index + 1}", font=font, fill="black")
    page.save(path)
    return path


def grab_screen(widget, name: str) -> None:
    """Grab from the screen, not widget.grab(): WebEngine content is composited outside the widget tree."""
    top_left = widget.mapToGlobal(widget.rect().topLeft())
    pixmap = widget.screen().grabWindow(0, top_left.x(), top_left.y(), widget.width(), widget.height())
    suffix = "" if os.environ.get("CAPTURE_THEME", "light") == "light" else "-" + os.environ["CAPTURE_THEME"]
    pixmap.save(str(OUT / f"results-{name}{suffix}.png"))
    print("saved", OUT / f"results-{name}{suffix}.png")


def add_regions(studio) -> list:
    regions = []
    for task, box, content in REGIONS:
        region = studio.regions.add_region(0, box, task=task, run=False)
        parsed = content if task in ("formula", "extract") else None
        text = content if isinstance(content, str) else json.dumps(content)
        region.state, region.text = DONE, text
        region.result = {"task": task, "text": text, "parsed": parsed, "parse_error": None}
        regions.append(region)
    studio.regions.sync_views()
    return regions


def main() -> None:
    theme = os.environ.get("CAPTURE_THEME", "light")  # CAPTURE_THEME=dark checks the dark palette
    studio = open_studio(FakeFactory(), with_model=False, size=(1380, 980), theme=theme)
    window = studio.window
    studio.documents.open_path(str(sample_page(SCRATCH / "page.png")))
    window.first_run.hide()
    regions = add_regions(studio)
    pump(2500)
    grab_screen(window, "window")
    names = ["formula", "text", "table", "extract", "formula-error"]
    for region, name in zip(regions, names):
        card = studio.results.card(region.id)
        studio.results.ensureWidgetVisible(card, 0, 0)
        pump(600)
        grab_screen(card, name)
    close(studio)
    APP.quit()


if __name__ == "__main__":
    main()
