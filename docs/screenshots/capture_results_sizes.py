"""Capture the results panel at a normal window size and at 800x600, and the card states, in light or dark.

    QTWEBENGINE_DISABLE_SANDBOX=1 xvfb-run -a -s "-screen 0 1400x1000x24" python3 docs/screenshots/capture_results_sizes.py
    CAPTURE_THEME=dark QTWEBENGINE_DISABLE_SANDBOX=1 xvfb-run -a -s "-screen 0 1400x1000x24" python3 docs/screenshots/capture_results_sizes.py

Saves results-window-{normal,800x600}[-end](-dark).png (the top and the end of the results panel) and
results-states(-dark).png: the regions of capture_results.py with long content (a long URL, a long table cell, a long
address), and one card per state.
"""

import json
import os
from pathlib import Path

from capture_results import EXTRACT, REGIONS, TABLE, grab_screen, sample_page
from shot_app import APP, SCRATCH, close, open_studio, pump

from app.document.model import CANCELLED, DONE, FAILED, QUEUED, RUNNING, STOPPED_BY_ENGINE, STOPPED_BY_USER
from fake_engine import FakeFactory

OUT = Path(__file__).resolve().parent
THEME = os.environ.get("CAPTURE_THEME", "light")
LONG_URL = "https://example.org/reports/2024/" + "quarterly-revenue-by-region-and-product-line-" * 3 + "final.pdf"
LONG = {"text": REGIONS[1][2] + f"\nSource: {LONG_URL}\n",
        "table": TABLE.replace("North", "North (incl. the Nordic countries and the Baltic states)"),
        "extract": dict(EXTRACT, address="Hauptstraße 12, Hinterhaus, 3. OG links, 10115 Berlin, Germany")}
STATES = [  # (task, state, text, result extras, region extras, label)
    ("text", RUNNING, "The energy of a photon is", None, {}, "running"),
    ("text", CANCELLED, "Partial text up to the Stop", None, {"stop_cause": STOPPED_BY_USER}, "stopped"),
    ("text", CANCELLED, "Partial text", None, {"stop_cause": STOPPED_BY_ENGINE,
                                               "error": "the engine's process ended"}, "interrupted"),
    ("text", DONE, "row row row row row", {"stop_reason": "repetition"}, {}, "repetition"),
    ("table", DONE, "<table><tr><td>a</td><td>b</td></tr></table>", {"stop_reason": "max_tokens", "new_tokens": 4096},
     {}, "budget"),
    ("extract", QUEUED, "", None, {}, "template"),
    ("text", FAILED, "", None, {"error": "the region is too thin for the model"}, "failed"),
]


def suffix() -> str:
    return "" if THEME == "light" else "-" + THEME


def add_long_regions(studio) -> None:
    for index, (task, box, content) in enumerate(REGIONS[:4]):
        content = LONG.get(task, content)
        region = studio.regions.add_region(0, box, task=task, run=False)
        text = content if isinstance(content, str) else json.dumps(content)
        region.state, region.text = DONE, text
        region.schema = '{"invoice_number": ""}' if task == "extract" else None
        parsed = content if task in ("formula", "extract") else None
        region.result = {"task": task, "text": text, "parsed": parsed, "parse_error": None, "stop_reason": "eos"}
    studio.regions.sync_views()


def capture_window(size: tuple[int, int], name: str) -> None:
    studio = open_studio(FakeFactory(), with_model=False, size=size, theme=THEME)
    studio.documents.open_path(str(sample_page(SCRATCH / "page.png")))
    studio.window.first_run.hide()
    add_long_regions(studio)
    pump(2500)
    grab_screen_named(studio.window, f"results-window-{name}{suffix()}.png")
    panel = studio.results
    panel.verticalScrollBar().setValue(panel.verticalScrollBar().maximum())  # the table and the extracted fields
    pump(800)
    grab_screen_named(studio.window, f"results-window-{name}-end{suffix()}.png")
    close(studio)


def add_state_regions(studio) -> list:
    regions = []
    for index, (task, state, text, extra, fields, _) in enumerate(STATES):
        region = studio.regions.add_region(0, (120, 100 + 200 * index, 1100, 250 + 200 * index), task=task, run=False)
        region.state, region.text = state, text
        for name, value in fields.items():
            setattr(region, name, value)
        if state in (DONE, CANCELLED):
            region.result = {"task": task, "text": text, "parsed": None, "parse_error": None, "stop_reason": "eos",
                             **(extra or {})}
        regions.append(region)
    studio.regions.sync_views()
    return regions


def capture_states() -> None:
    studio = open_studio(FakeFactory(), with_model=False, size=(1380, 980), theme=THEME)
    studio.documents.open_path(str(sample_page(SCRATCH / "page.png")))
    studio.window.first_run.hide()
    regions = add_state_regions(studio)
    studio.results.set_progress(regions[0].id, 57, 3.2)
    pump(2000)
    panel = studio.results
    grab_screen_named(panel, f"results-states{suffix()}.png")
    close(studio)


def grab_screen_named(widget, file_name: str) -> None:
    top_left = widget.mapToGlobal(widget.rect().topLeft())
    pixmap = widget.screen().grabWindow(0, top_left.x(), top_left.y(), widget.width(), widget.height())
    pixmap.save(str(OUT / file_name))
    print("saved", OUT / file_name)


def main() -> None:
    capture_window((1380, 900), "normal")
    capture_window((800, 600), "800x600")
    capture_states()
    APP.quit()


if __name__ == "__main__":
    main()
