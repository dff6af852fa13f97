"""Page ranges and crop regions: plain arithmetic on page numbers and boxes, no image decoding.

Conventions used across the core and the GUI:

* Page numbers typed by a user are 1-based ("1-3,5,7-"); everything returned here is 0-based.
* A box is ``(x0, y0, x1, y1)`` with ``x0 < x1`` and ``y0 < y1``, the top-left corner inclusive and the
  bottom-right corner exclusive, exactly like ``PIL.Image.crop``.
* Regions are stored in page units (pixels for images, PDF points for PDFs); ``scale_box`` turns them into
  pixels of the image OCR runs on, and ``validate_region`` turns those into whole pixels inside the image.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from PIL import Image

from ..errors import InputError, UsageError
from ..processing.images import check_aspect_ratio

DEFAULT_DPI = 200  # PDF pages are rendered for OCR at this resolution unless the user picks another
MIN_DPI, MAX_DPI = 36, 1200

# Coordinates this close to a whole pixel count as that pixel; it keeps float noise from
# `scale_box` (e.g. 99.99999997) from growing a box by a pixel.
_PIXEL_TOLERANCE = 1e-6

_RANGE_PART = re.compile(r"^(\d*)\s*(-?)\s*(\d*)$")


# ---------------------------------------------------------------------------------------------
# Page ranges
# ---------------------------------------------------------------------------------------------


def parse_page_range(spec: str | None, page_count: int, source: str | None = None) -> list[int]:
    """Parse a 1-based page list like ``"1-3,5,7-"`` into sorted unique 0-based indices.

    ``None``, ``"all"`` or ``"*"`` select every page. ``"7-"`` runs to the last page, ``"-3"`` starts at page 1.
    Raises UsageError for text that is not a page list (garbage, page 0, reversed ranges) and InputError
    (with ``source`` as the path) for pages the document does not have.
    """
    if page_count < 1:
        raise InputError("the document has no pages", source)
    if spec is None or spec.strip().lower() in ("all", "*"):
        return list(range(page_count))
    if not spec.strip():
        raise UsageError("empty page range; use e.g. 1-3,5,7-")
    selected: set[int] = set()
    for part in spec.split(","):
        first, last = _parse_range_part(part.strip(), spec, page_count)
        _check_pages_exist(first, last, page_count, source)
        selected.update(range(first - 1, last))
    return sorted(selected)


def _parse_range_part(part: str, spec: str, page_count: int) -> tuple[int, int]:
    """One comma-separated piece -> (first, last), 1-based and inclusive; open ends filled in."""
    match = _RANGE_PART.match(part)
    if not part or match is None or not (match.group(1) or match.group(3)):
        raise UsageError(f"bad page range {spec!r}: {part!r} is not a page number or a range like 2-5")
    start_text, dash, end_text = match.groups()
    if not dash:
        first = last = int(start_text)
    else:
        first = int(start_text) if start_text else 1
        last = int(end_text) if end_text else max(page_count, first)
    if first < 1 or last < 1:
        raise UsageError(f"bad page range {spec!r}: pages are numbered from 1")
    if last < first:
        raise UsageError(f"bad page range {spec!r}: {part!r} runs backwards")
    return first, last


def _check_pages_exist(first: int, last: int, page_count: int, source: str | None) -> None:
    if last > page_count:
        noun = "page" if page_count == 1 else "pages"
        raise InputError(f"page {last} does not exist; the document has {page_count} {noun}", source)


# ---------------------------------------------------------------------------------------------
# Regions
# ---------------------------------------------------------------------------------------------


def parse_region_arg(text: str) -> tuple[float, float, float, float]:
    """Parse the CLI's ``--region X0,Y0,X1,Y1`` (numbers, optionally with decimals) into a box."""
    parts = [p.strip() for p in (text or "").split(",")]
    if len(parts) != 4:
        raise UsageError(f"bad region {text!r}: expected four numbers X0,Y0,X1,Y1")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        raise UsageError(f"bad region {text!r}: expected four numbers X0,Y0,X1,Y1") from None
    if not all(math.isfinite(v) for v in values):
        raise UsageError(f"bad region {text!r}: coordinates must be finite numbers")
    return values  # type: ignore[return-value]


def scale_box(box: Sequence[float], scale: float | tuple[float, float]) -> tuple[float, float, float, float]:
    """Turn a box in page units into pixels of an image rendered at ``scale`` (or ``(sx, sy)``)."""
    sx, sy = scale if isinstance(scale, tuple) else (scale, scale)
    x0, y0, x1, y1 = _four_numbers(box)
    return (x0 * sx, y0 * sy, x1 * sx, y1 * sy)


def validate_region(box: Sequence[float], image_size: tuple[int, int]) -> tuple[int, int, int, int]:
    """Check a crop box against an image of ``image_size`` (width, height) and return it in whole pixels.

    Fractional edges grow outwards to cover every touched pixel. A box partly outside the image is clipped;
    one with no area, entirely outside, or (after clipping) too thin for the model raises InputError.
    """
    x0, y0, x1, y1 = _four_numbers(box)
    if not (x1 > x0 and y1 > y0):
        raise InputError(f"region {_show(box)} has no area (it needs x0 < x1 and y0 < y1)")
    width, height = image_size
    left, top = math.floor(x0 + _PIXEL_TOLERANCE), math.floor(y0 + _PIXEL_TOLERANCE)
    right, bottom = math.ceil(x1 - _PIXEL_TOLERANCE), math.ceil(y1 - _PIXEL_TOLERANCE)
    clipped = (max(left, 0), max(top, 0), min(right, width), min(bottom, height))
    if clipped[2] <= clipped[0] or clipped[3] <= clipped[1]:
        raise InputError(f"region {_show(box)} lies outside the {width}×{height} px page")
    check_aspect_ratio(clipped[2] - clipped[0], clipped[3] - clipped[1], what="region")
    return clipped


def crop_region(image: Image.Image, box: Sequence[float]) -> Image.Image:
    """Crop ``image`` to ``box`` after ``validate_region`` (clipping, area and aspect checks)."""
    return image.crop(validate_region(box, image.size))


def _four_numbers(box: Sequence[float]) -> tuple[float, float, float, float]:
    try:
        values = tuple(float(v) for v in box)
    except (TypeError, ValueError):
        raise InputError(f"region {box!r} is not four numbers (x0, y0, x1, y1)") from None
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise InputError(f"region {box!r} is not four finite numbers (x0, y0, x1, y1)")
    return values  # type: ignore[return-value]


def _show(box: Sequence[float]) -> str:
    return "(" + ", ".join(f"{float(v):g}" for v in box) + ")"
