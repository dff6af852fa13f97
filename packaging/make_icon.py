"""Draw the app icon with Pillow: a page with text lines and a formula, under a magnifying glass.

``python packaging/make_icon.py [OUT_DIR]`` writes ``glmocr-studio.png`` (1024 px), ``.ico`` (16-256 px, Windows)
and ``.icns`` (macOS) into OUT_DIR (default ``packaging/build/icon``). The icon is drawn from code so no binary
image is committed; shapes are in a 1024-unit design grid and scaled, so the drawing is the same at any size.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent))
from metadata import GUI_NAME, ICON_PNG  # noqa: E402  (packaging/ is not a package)

SIZE = 1024
SUPERSAMPLE = 2  # draw at 2x and downscale: smooth edges without an anti-aliasing renderer
ICO_SIZES = [(16, 16), (24, 24), (32, 32), (48, 48), (64, 64), (128, 128), (256, 256)]

BACKGROUND = "#1f5fbf"  # rounded tile
PAGE = "#ffffff"
FOLD = "#c9d6ea"
INK = "#2c3e57"
ACCENT = "#f2a33a"  # lens rim and handle
LENS_GLASS = (255, 255, 255, 70)


def _box(*coords: float) -> list[float]:
    return [c * SUPERSAMPLE for c in coords]


def draw_tile(draw: ImageDraw.ImageDraw) -> None:
    draw.rounded_rectangle(_box(64, 64, 960, 960), radius=200 * SUPERSAMPLE, fill=BACKGROUND)


def draw_page(draw: ImageDraw.ImageDraw) -> None:
    """A sheet with a folded top-right corner, three text lines and a fraction bar (the "formula")."""
    left, top, right, bottom, fold = 230, 170, 720, 830, 130
    draw.polygon(_box(left, top, right - fold, top, right, top + fold, right, bottom, left, bottom), fill=PAGE)
    draw.polygon(_box(right - fold, top, right - fold, top + fold, right, top + fold), fill=FOLD)
    for y, width in ((300, 300), (380, 380), (460, 250)):
        draw.rounded_rectangle(_box(left + 60, y, left + 60 + width, y + 34), radius=17 * SUPERSAMPLE, fill=INK)
    draw.rounded_rectangle(_box(left + 60, 600, left + 220, 628), radius=14 * SUPERSAMPLE, fill=INK)
    draw.rectangle(_box(left + 40, 660, left + 240, 676), fill=INK)
    draw.rounded_rectangle(_box(left + 80, 708, left + 200, 736), radius=14 * SUPERSAMPLE, fill=INK)


def draw_magnifier(image: Image.Image) -> None:
    """A translucent lens over the lower right of the page, with a thick handle to the corner."""
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    cx, cy, r, rim = 640, 610, 190, 46
    draw.line(_box(cx + 120, cy + 120, 890, 860), fill=ACCENT, width=96 * SUPERSAMPLE)
    draw.ellipse(_box(cx - r, cy - r, cx + r, cy + r), fill=LENS_GLASS, outline=ACCENT, width=rim * SUPERSAMPLE)
    image.alpha_composite(overlay)


def render(size: int = SIZE) -> Image.Image:
    canvas = Image.new("RGBA", (SIZE * SUPERSAMPLE, SIZE * SUPERSAMPLE), (0, 0, 0, 0))
    draw = ImageDraw.Draw(canvas)
    draw_tile(draw)
    draw_page(draw)
    draw_magnifier(canvas)
    return canvas.resize((size, size), Image.Resampling.LANCZOS)


def write_icons(out_dir: Path) -> dict[str, Path]:
    """The PNG, ICO and ICNS files, named after the GUI executable."""
    out_dir.mkdir(parents=True, exist_ok=True)
    image = render()
    paths = {ext: out_dir / f"{GUI_NAME}.{ext}" for ext in ("png", "ico", "icns")}
    image.save(paths["png"])
    image.save(paths["ico"], sizes=ICO_SIZES)
    image.save(paths["icns"])  # Pillow writes the standard sizes it can make from a 1024 px source
    return paths


def main(argv: list[str]) -> int:
    out_dir = Path(argv[0]) if argv else ICON_PNG.parent
    for path in write_icons(out_dir).values():
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
