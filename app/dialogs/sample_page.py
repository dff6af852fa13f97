"""A sample page to try the model on, drawn here with Pillow: nothing is downloaded or shipped.

It holds one of each kind of content the tasks handle: a heading, a paragraph, a formula-like line and a small
table, laid out like a page so that a user can draw a Text, Formula or Table region on each.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from app.paths import samples_dir

SAMPLE_NAME = "glmocr-sample-page.png"
PAGE_SIZE = (1240, 1754)  # A4 at 150 dpi
MARGIN = 110
INK = (20, 20, 20)

HEADING = "Quarterly Report: Reading Room Usage"
PARAGRAPH = (
    "The library reading room was open on 61 days this quarter. Visits rose by twelve percent compared with the "
    "previous quarter, mostly in the evening hours. The seating model below gives the number of extra desks x "
    "needed for a given growth, and the table lists the visits per month and the share of visitors who used the "
    "digital catalogue."
)
# The quadratic formula, drawn as real math (fraction bar, radical, superscript) rather than as a line of text.
# Pieces: ("t", text), ("sup", text), ("minus",), ("sqrt", [pieces]) ; the bundled font has no minus or radical glyph.
NUMERATOR = [("minus",), ("t", "b ± "), ("sqrt", [("t", "b"), ("sup", "2"), ("t", " "), ("minus",), ("t", " 4ac")])]
DENOMINATOR = [("t", "2a")]
TABLE = [["Month", "Visits", "Catalogue use"], ["January", "612", "41 %"], ["February", "588", "44 %"],
         ["March", "704", "47 %"]]


def _font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)  # Pillow's bundled scalable font: the same look on every OS


def _wrap(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        candidate = f"{line} {word}".strip()
        if draw.textlength(candidate, font=font) <= width or not line:
            line = candidate
        else:
            lines.append(line)
            line = word
    return lines + ([line] if line else [])


def _draw_paragraph(draw: ImageDraw.ImageDraw, top: int, width: int) -> int:
    font = _font(30)
    for line in _wrap(draw, PARAGRAPH, font, width):
        draw.text((MARGIN, top), line, font=font, fill=INK)
        top += 44
    return top


def _pieces_width(draw: ImageDraw.ImageDraw, pieces: list, size: int) -> float:
    return _draw_pieces(draw, pieces, 0, 0, size, measure_only=True)


def _draw_pieces(draw: ImageDraw.ImageDraw, pieces: list, x: float, y: float, size: int,
                 measure_only: bool = False) -> float:
    """Draws math pieces left to right with the text top at y; returns the x where they end."""
    font, small = _font(size), _font(size * 6 // 10)
    for kind, *rest in pieces:
        if kind == "t":
            if not measure_only:
                draw.text((x, y), rest[0], font=font, fill=INK)
            x += draw.textlength(rest[0], font=font)
        elif kind == "sup":
            if not measure_only:
                draw.text((x + 2, y - size * 0.25), rest[0], font=small, fill=INK)
            x += draw.textlength(rest[0], font=small) + 4
        elif kind == "minus":
            if not measure_only:
                draw.line((x + 3, y + size * 0.62, x + size * 0.55, y + size * 0.62), fill=INK, width=3)
            x += size * 0.6
        else:  # sqrt: a tick, a rising stroke and a bar over the radicand
            inner = _pieces_width(draw, rest[0], size)
            if not measure_only:
                top, bottom = y - size * 0.35, y + size * 1.15
                draw.line((x, y + size * 0.7, x + 8, y + size * 0.6, x + 18, bottom, x + 30, top,
                           x + 36 + inner, top), fill=INK, width=3)
                _draw_pieces(draw, rest[0], x + 34, y, size)
            x += 40 + inner
    return x


def _draw_formula(draw: ImageDraw.ImageDraw, top: int) -> int:
    size = 38
    left = MARGIN + 200
    draw.text((left, top + size * 0.85), "x =", font=_font(size), fill=INK)
    frac_left = left + draw.textlength("x = ", font=_font(size)) + 6
    width = max(_pieces_width(draw, NUMERATOR, size), _pieces_width(draw, DENOMINATOR, size))
    bar_y = top + size * 1.55
    _draw_pieces(draw, NUMERATOR, frac_left + (width - _pieces_width(draw, NUMERATOR, size)) / 2, top + 6, size)
    draw.line((frac_left, bar_y, frac_left + width, bar_y), fill=INK, width=3)
    _draw_pieces(draw, DENOMINATOR, frac_left + (width - _pieces_width(draw, DENOMINATOR, size)) / 2,
                 bar_y + 10, size)
    return int(bar_y + 10 + size * 1.4)


def _draw_table(draw: ImageDraw.ImageDraw, top: int) -> int:
    font, row_h, col_w = _font(30), 62, (300, 220, 300)
    left = MARGIN
    for r, row in enumerate(TABLE):
        x = left
        for c, cell in enumerate(row):
            draw.rectangle((x, top, x + col_w[c], top + row_h), outline=INK, width=2)
            draw.text((x + 16, top + 14), cell, font=font, fill=INK)
            x += col_w[c]
        top += row_h
    return top


def render_sample_page() -> Image.Image:
    page = Image.new("RGB", PAGE_SIZE, "white")
    draw = ImageDraw.Draw(page)
    width = PAGE_SIZE[0] - 2 * MARGIN
    draw.text((MARGIN, 120), HEADING, font=_font(48), fill=INK)
    top = _draw_paragraph(draw, 230, width)
    top = _draw_formula(draw, top + 50)
    _draw_table(draw, top + 70)
    return page


def ensure_sample(folder: str | Path | None = None) -> Path:
    """The sample page's path, drawing it first if it is not there yet."""
    target = Path(folder) if folder else samples_dir()
    path = target / SAMPLE_NAME
    if not path.is_file():
        target.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.png")
        render_sample_page().save(tmp)
        tmp.replace(path)
    return path
