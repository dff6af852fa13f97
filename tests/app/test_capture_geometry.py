"""The selection-to-crop mapping, pixel-exact against the grabbed picture, for every screen layout users report wrong
crops on: scaled screens (125 %, 150 %, 200 %), mixed DPI side by side, monitors left of and above the primary one,
pictures whose size is not geometry × ratio, and whole-desktop pictures cut into screens."""

import pytest

from app.capture.geometry import (LayoutMismatch, Rect, ScreenLayout, Selection, crop_rect, native_size,
                                  picture_scale, pieces_on_screens, size_label, split_desktop, to_desktop,
                                  virtual_geometry)


def screen(x, y, width, height, ratio, picture=None, name="S"):
    geometry = Rect(x, y, width, height)
    return ScreenLayout(name, geometry, ratio, picture or native_size(geometry, ratio))


# (screen, selection in the overlay, crop in the picture)
ONE_SCREEN = [
    pytest.param(screen(0, 0, 1920, 1080, 1.0), Selection(100, 200, 300, 50), Rect(100, 200, 300, 50), id="100%"),
    pytest.param(screen(0, 0, 1536, 864, 1.25), Selection(100, 200, 300, 50), Rect(125, 250, 375, 63),
                 id="125%-half-pixel-edge-rounds-up"),
    pytest.param(screen(0, 0, 1536, 864, 1.25), Selection(100.8, 200, 300, 48), Rect(126, 250, 375, 60),
                 id="125%-fractional-pointer"),
    pytest.param(screen(0, 0, 1280, 720, 1.5), Selection(10, 20, 100, 40), Rect(15, 30, 150, 60), id="150%"),
    pytest.param(screen(0, 0, 1280, 720, 1.5), Selection(2 / 3, 4 / 3, 2, 2), Rect(1, 2, 3, 3),
                 id="150%-pointer-in-thirds"),
    pytest.param(screen(0, 0, 1440, 900, 2.0), Selection(0.5, 0.5, 10, 10), Rect(1, 1, 20, 20), id="200%"),
    pytest.param(screen(0, 0, 1440, 900, 2.0), Selection(0, 0, 1440, 900), Rect(0, 0, 2880, 1800),
                 id="200%-whole-screen"),
]


@pytest.mark.parametrize("layout, selection, expected", ONE_SCREEN)
def test_one_screen_at_each_scale(layout, selection, expected):
    assert crop_rect(layout, selection) == expected


def test_half_pixel_edges_round_up_as_qt_places_windows():
    """At 150 % a window at logical (255, 213), 460 × 100, covers native [383, 1073) × [320, 470): Qt rounds
    382.5 up. The same rectangle dragged on the overlay crops exactly those pixels (Python's round would say 382)."""
    layout = screen(0, 0, 853, 533, 1.5, picture=(1280, 800))
    assert crop_rect(layout, Selection(255, 213, 460, 100)) == Rect(383, 320, 690, 150)


def test_the_offset_of_a_screen_does_not_move_its_crop():
    """An overlay's coordinates start at its own screen's corner, wherever the screen is in the desktop."""
    selection = Selection(40, 30, 100, 60)
    at_origin = screen(0, 0, 1280, 1024, 1.25)
    left_and_above = screen(-1280, -200, 1280, 1024, 1.25)
    assert crop_rect(left_and_above, selection) == crop_rect(at_origin, selection) == Rect(50, 38, 125, 75)


ROUNDED = [
    # 1280 × 800 at 150 % is 853.33 × 533.33 logical pixels: Qt says 853 × 533, the picture keeps all 1280 × 800.
    pytest.param(screen(0, 0, 853, 533, 1.5, picture=(1280, 800)), Selection(100, 100, 200, 100),
                 Rect(150, 150, 300, 150), id="150%-rounded-down-geometry"),
    pytest.param(screen(0, 0, 853, 533, 1.5, picture=(1280, 800)), Selection(0, 0, 853, 533),
                 Rect(0, 0, 1280, 800), id="150%-whole-screen-reaches-the-last-pixel"),
    # A platform rounding the other way: 1279 × 799. The far edge is clipped, the rest unchanged.
    pytest.param(screen(0, 0, 853, 533, 1.5, picture=(1279, 799)), Selection(0, 0, 853, 533),
                 Rect(0, 0, 1279, 799), id="150%-picture-one-pixel-short"),
    pytest.param(screen(0, 0, 853, 533, 1.5, picture=(1279, 799)), Selection(100, 100, 200, 100),
                 Rect(150, 150, 300, 150), id="150%-short-picture-same-scale"),
    # 1366 × 768 at 125 %: 1707.5 native pixels wide, the picture is 1708.
    pytest.param(screen(0, 0, 1366, 768, 1.25, picture=(1708, 960)), Selection(1300, 700, 66, 68),
                 Rect(1625, 875, 83, 85), id="125%-odd-width-to-the-corner"),
]


@pytest.mark.parametrize("layout, selection, expected", ROUNDED)
def test_a_picture_rounded_by_the_platform(layout, selection, expected):
    assert crop_rect(layout, selection) == expected


def test_a_picture_at_another_scale_than_the_ratio_uses_its_own_size():
    """grim takes the whole desktop at the highest scale: a 100 % screen comes back at 200 %."""
    layout = screen(0, 0, 1920, 1080, 1.0, picture=(3840, 2160))
    assert picture_scale(layout) == (2, 2)
    assert crop_rect(layout, Selection(10, 10, 5, 5)) == Rect(20, 20, 10, 10)
    shrunk = screen(0, 0, 1440, 900, 2.0, picture=(1440, 900))  # a portal that returns logical pixels
    assert crop_rect(shrunk, Selection(10, 10, 5, 5)) == Rect(10, 10, 5, 5)


MIXED = [screen(0, 0, 1920, 1080, 1.0, name="A"), screen(1920, 0, 1280, 720, 1.5, name="B")]


def test_mixed_dpi_side_by_side_each_overlay_maps_with_its_own_scale():
    selection = Selection(100, 100, 200, 100)
    assert crop_rect(MIXED[0], selection) == Rect(100, 100, 200, 100)
    assert crop_rect(MIXED[1], selection) == Rect(150, 150, 300, 150)


def test_a_desktop_selection_across_mixed_dpi_screens_is_cut_at_the_edge():
    pieces = pieces_on_screens(MIXED, Selection(1800, 100, 300, 100))
    assert pieces == [(0, Rect(1800, 100, 120, 100)), (1, Rect(0, 150, 270, 150))]


def test_pieces_on_screens_at_negative_offsets():
    layouts = [screen(-1280, -200, 1280, 1024, 1.0), screen(0, 0, 1920, 1080, 2.0)]
    pieces = pieces_on_screens(layouts, Selection(-100, -50, 150, 100))
    assert pieces == [(0, Rect(1180, 150, 100, 100)), (1, Rect(0, 0, 100, 100))]


def test_to_desktop_adds_the_screen_corner():
    layout = screen(-1280, -200, 1280, 1024, 1.0)
    assert to_desktop(layout, Selection(10, 20, 30, 40)) == Selection(-1270, -180, 30, 40)


def test_selection_outside_the_screen_is_clipped_and_nothing_is_empty():
    layout = screen(0, 0, 800, 600, 1.0)
    assert crop_rect(layout, Selection(780, 590, 50, 50)) == Rect(780, 590, 20, 10)
    assert crop_rect(layout, Selection(900, 100, 50, 50)).empty
    assert crop_rect(layout, Selection(10, 10, 0, 0)).empty


def test_a_drag_up_and_to_the_left_is_the_same_rectangle():
    assert Selection.between(300, 200, 100, 50) == Selection(100, 50, 200, 150)


NEGATIVE = [Rect(-1280, -200, 1280, 1024), Rect(0, 0, 1920, 1080)]


def test_virtual_geometry_starts_at_the_leftmost_and_topmost_screen():
    assert virtual_geometry(NEGATIVE) == Rect(-1280, -200, 3200, 1280)


@pytest.mark.parametrize("scale, expected", [
    (1, [Rect(0, 0, 1280, 1024), Rect(1280, 200, 1920, 1080)]),
    (2, [Rect(0, 0, 2560, 2048), Rect(2560, 400, 3840, 2160)]),
])
def test_split_a_desktop_picture_with_a_monitor_left_of_and_above_the_primary(scale, expected):
    assert split_desktop(NEGATIVE, (3200 * scale, 1280 * scale)) == expected


def test_split_a_desktop_picture_neighbours_share_their_edge_at_a_fractional_scale():
    geometries = [Rect(0, 0, 853, 533), Rect(853, 0, 853, 533)]
    left, right = split_desktop(geometries, (2559, 800))  # 1706 × 533 at 1.5, one pixel lost to rounding
    assert left.right == right.x
    assert (left.x, right.right) == (0, 2559)


def test_split_a_desktop_picture_that_is_not_the_layout_is_refused():
    with pytest.raises(LayoutMismatch):
        split_desktop([Rect(0, 0, 1920, 1080)], (1080, 1920))


def test_size_label_names_picture_pixels():
    assert size_label(Rect(0, 0, 300, 150)) == "300 × 150 px"
