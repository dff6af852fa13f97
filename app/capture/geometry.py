"""Where a dragged rectangle lands in the grabbed pictures: pure functions on plain data, no Qt.

Three coordinate systems meet here:

- the *virtual desktop*, in logical pixels: each screen's ``geometry`` as Qt reports it. Screens left of or above the
  primary one have negative coordinates; on a scaled screen a logical pixel covers ``ratio`` device pixels.
- an *overlay*: the full-screen window on one screen, in that screen's logical pixels, (0, 0) at its top left. A drag
  arrives here, possibly with fractional coordinates (a mouse on a 150 % screen moves in steps of 2/3).
- a *grabbed picture*: the screen's pixels as a grabber returned them. Usually ``geometry × ratio``, but platforms
  round (a 1280-pixel-wide screen at 150 % is 853 logical pixels, and 853 × 1.5 = 1279.5), and a grabber that takes
  the whole desktop at one scale returns a screen at another scale than its ratio.

Edges land on picture pixels the way Qt places logical coordinates on native pixels (scaled, then rounded half up),
so a rectangle dragged along a window's edges crops exactly the pixels that window painted, at 150 % too (a window
at logical x = 255 starts at native 383). A real pointer sits on native pixels, so its edges are whole pixels anyway.
Where the picture is the screen's native pixels the exact factor is the ratio itself (Qt's own rule), elsewhere it
is the picture's size over the geometry. A selection is clipped to the screen its drag began on: a drag
that crosses onto a screen of another scale has no single picture to come from (``pieces_on_screens`` says which
parts of a desktop rectangle fall on which screen, for a caller that wants them all).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

SNAP = 1e-6  # a product this close to a whole pixel is that pixel (2/3 × 1.5 in floats is 0.9999999999999999)
MAX_RATIO_DENOMINATOR = 1000  # 1.25, 1.5, 1.75, 1.333… all have small denominators
UNIFORM_SCALE_TOLERANCE = 0.01  # a whole-desktop picture's width and height scale alike, or it is not our layout


@dataclass(frozen=True)
class Rect:
    """A rectangle of whole pixels: ``x, y`` its top left, ``right``/``bottom`` exclusive."""

    x: int
    y: int
    width: int
    height: int

    @property
    def right(self) -> int:
        return self.x + self.width

    @property
    def bottom(self) -> int:
        return self.y + self.height

    @property
    def empty(self) -> bool:
        return self.width <= 0 or self.height <= 0

    def intersected(self, other: Rect) -> Rect:
        left, top = max(self.x, other.x), max(self.y, other.y)
        right, bottom = min(self.right, other.right), min(self.bottom, other.bottom)
        return Rect(left, top, max(0, right - left), max(0, bottom - top))

    def moved(self, dx: int, dy: int) -> Rect:
        return Rect(self.x + dx, self.y + dy, self.width, self.height)


@dataclass(frozen=True)
class Selection:
    """A dragged rectangle in one overlay's logical coordinates (floats: pointer positions may be fractional)."""

    x: float
    y: float
    width: float
    height: float

    @classmethod
    def between(cls, x0: float, y0: float, x1: float, y1: float) -> Selection:
        """The rectangle spanned by two corners in any order (a drag may go up and to the left)."""
        return cls(min(x0, x1), min(y0, y1), abs(x1 - x0), abs(y1 - y0))

    @property
    def right(self) -> float:
        return self.x + self.width

    @property
    def bottom(self) -> float:
        return self.y + self.height


@dataclass(frozen=True)
class ScreenLayout:
    """One screen as the mapping needs it: where it is, how it scales, how big its grabbed picture is."""

    name: str
    geometry: Rect  # logical pixels in the virtual desktop
    ratio: float  # device pixel ratio
    picture_size: tuple[int, int]  # the grabbed picture's (width, height) in pixels


def virtual_geometry(geometries: list[Rect]) -> Rect:
    """The bounding box of every screen: what a whole-desktop screenshot shows (its top left may be negative)."""
    left, top = min(g.x for g in geometries), min(g.y for g in geometries)
    right, bottom = max(g.right for g in geometries), max(g.bottom for g in geometries)
    return Rect(left, top, right - left, bottom - top)


def native_size(geometry: Rect, ratio: float) -> tuple[int, int]:
    """The picture size a native grab of this screen is expected to have (rounded as platforms do)."""
    return round(geometry.width * ratio), round(geometry.height * ratio)


def _ratio_fraction(ratio: float) -> Fraction:
    return Fraction(ratio).limit_denominator(MAX_RATIO_DENOMINATOR)


def _is_native(screen: ScreenLayout) -> bool:
    """Whether the picture is the screen's native pixels: within a logical pixel of ``geometry × ratio``."""
    expected_w, expected_h = screen.geometry.width * screen.ratio, screen.geometry.height * screen.ratio
    width, height = screen.picture_size
    return abs(width - expected_w) <= max(1.0, screen.ratio) and abs(height - expected_h) <= max(1.0, screen.ratio)


def picture_scale(screen: ScreenLayout) -> tuple[Fraction, Fraction]:
    """Picture pixels per logical pixel, (horizontal, vertical), as exact fractions."""
    if _is_native(screen):
        ratio = _ratio_fraction(screen.ratio)
        return ratio, ratio
    width, height = screen.picture_size
    return Fraction(width, screen.geometry.width), Fraction(height, screen.geometry.height)


def _pixel_edge(value: float) -> int:
    """A scaled edge on the pixel grid: rounded half up, as Qt rounds (``qRound``), not to even as Python does."""
    nearest = round(value)
    return nearest if abs(value - nearest) < SNAP else math.floor(value + 0.5)


def crop_rect(screen: ScreenLayout, selection: Selection) -> Rect:
    """The picture pixels under ``selection`` (overlay coordinates), clipped to the picture; empty if none."""
    scale_x, scale_y = picture_scale(screen)
    left, right = _pixel_edge(selection.x * scale_x), _pixel_edge(selection.right * scale_x)
    top, bottom = _pixel_edge(selection.y * scale_y), _pixel_edge(selection.bottom * scale_y)
    picture = Rect(0, 0, *screen.picture_size)
    return Rect(left, top, right - left, bottom - top).intersected(picture)


def to_desktop(screen: ScreenLayout, selection: Selection) -> Selection:
    """An overlay selection in virtual-desktop logical coordinates (for placing a popup next to it)."""
    return Selection(selection.x + screen.geometry.x, selection.y + screen.geometry.y, selection.width,
                     selection.height)


def pieces_on_screens(screens: list[ScreenLayout], selection: Selection) -> list[tuple[int, Rect]]:
    """A desktop selection cut along screen edges: ``(screen index, crop in that screen's picture)`` for every screen
    it covers. Pieces of screens at different scales cannot be stitched into one picture without resampling, which
    is why the overlay keeps a drag on its own screen."""
    pieces = []
    for index, screen in enumerate(screens):
        g = screen.geometry
        left, top = max(selection.x, g.x), max(selection.y, g.y)
        right, bottom = min(selection.right, g.right), min(selection.bottom, g.bottom)
        if right <= left or bottom <= top:
            continue
        local = Selection(left - g.x, top - g.y, right - left, bottom - top)
        crop = crop_rect(screen, local)
        if not crop.empty:
            pieces.append((index, crop))
    return pieces


class LayoutMismatch(ValueError):
    """A whole-desktop picture whose shape is not the screens' layout at any one scale."""


def split_desktop(geometries: list[Rect], desktop_size: tuple[int, int]) -> list[Rect]:
    """Each screen's rectangle inside one whole-desktop picture (what grim, spectacle, gnome-screenshot and the
    portal return). The picture shows the virtual desktop at one scale; its origin is the virtual desktop's top left,
    which is negative when a screen sits left of or above the primary one. Neighbouring screens share their edge
    exactly (both sides round the same number)."""
    desktop = virtual_geometry(geometries)
    width, height = desktop_size
    scale_x, scale_y = Fraction(width, desktop.width), Fraction(height, desktop.height)
    if abs(scale_x - scale_y) > UNIFORM_SCALE_TOLERANCE * max(scale_x, scale_y):
        raise LayoutMismatch(f"a {width}×{height} desktop picture does not show screens laid out in "
                             f"{desktop.width}×{desktop.height} logical pixels at one scale")
    return [_scaled_edges(g.moved(-desktop.x, -desktop.y), scale_x, scale_y) for g in geometries]


def _scaled_edges(rect: Rect, scale_x: Fraction, scale_y: Fraction) -> Rect:
    left, right = _pixel_edge(rect.x * scale_x), _pixel_edge(rect.right * scale_x)
    top, bottom = _pixel_edge(rect.y * scale_y), _pixel_edge(rect.bottom * scale_y)
    return Rect(left, top, right - left, bottom - top)


def size_label(crop: Rect) -> str:
    """What the overlay shows next to the rectangle: the size of the picture the engine will read."""
    return f"{crop.width} × {crop.height} px"
