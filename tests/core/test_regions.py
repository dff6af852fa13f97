"""Page-range parsing and crop-region checks (glmocr_core.documents.pages)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from glmocr_core.documents.pages import crop_region, parse_page_range, parse_region_arg, scale_box, validate_region
from glmocr_core.errors import InputError, UsageError
from glmocr_core.processing.images import MAX_ASPECT_RATIO, check_aspect_ratio

# --------------------------------------------------------------------------- page ranges


@pytest.mark.parametrize(
    "spec, count, expected",
    [
        ("1", 5, [0]),
        ("1-3", 5, [0, 1, 2]),
        ("1-3,5", 5, [0, 1, 2, 4]),
        ("2-", 5, [1, 2, 3, 4]),
        ("-2", 5, [0, 1]),
        ("5,1,3,1", 5, [0, 2, 4]),  # sorted and unique
        ("1-3,2-4", 5, [0, 1, 2, 3]),  # overlapping ranges merge
        (" 1 - 2 , 4 ", 5, [0, 1, 3]),  # spaces are fine
        ("3-3", 5, [2]),
        ("7-", 7, [6]),
        (None, 3, [0, 1, 2]),
        ("all", 2, [0, 1]),
        ("*", 1, [0]),
    ],
)
def test_parse_page_range_selects_pages(spec, count, expected):
    assert parse_page_range(spec, count) == expected


@pytest.mark.parametrize("spec", ["", "  ", "abc", "1-2-3", "1,,2", "1;2", "--", "-", "1.5", "x-3", "2-y", "+1"])
def test_parse_page_range_rejects_garbage(spec):
    with pytest.raises(UsageError, match="page range"):
        parse_page_range(spec, 10)


@pytest.mark.parametrize("spec", ["0", "0-2", "1,0"])
def test_parse_page_range_rejects_page_zero(spec):
    with pytest.raises(UsageError, match="numbered from 1"):
        parse_page_range(spec, 10)


def test_parse_page_range_rejects_reversed_range():
    with pytest.raises(UsageError, match="backwards"):
        parse_page_range("5-2", 10)


@pytest.mark.parametrize("spec, missing", [("4", 4), ("2-9", 9), ("1,12", 12), ("5-", 5)])
def test_parse_page_range_rejects_pages_past_the_end(spec, missing):
    with pytest.raises(InputError) as info:
        parse_page_range(spec, 3, source="doc.pdf")
    assert info.value.path == "doc.pdf"
    assert f"page {missing} does not exist" in info.value.reason
    assert "3 pages" in info.value.reason


def test_parse_page_range_needs_a_page():
    with pytest.raises(InputError, match="no pages"):
        parse_page_range("1", 0)


# --------------------------------------------------------------------------- --region argument


def test_parse_region_arg_reads_four_numbers():
    assert parse_region_arg("10,20,30,40") == (10.0, 20.0, 30.0, 40.0)
    assert parse_region_arg(" 1.5 , 2,3.25,  4 ") == (1.5, 2.0, 3.25, 4.0)


@pytest.mark.parametrize("text", ["", "1,2,3", "1,2,3,4,5", "a,b,c,d", "1,2,,4", "1 2 3 4", "nan,1,2,3", "1,inf,2,3"])
def test_parse_region_arg_rejects_garbage(text):
    with pytest.raises(UsageError, match="region"):
        parse_region_arg(text)


# --------------------------------------------------------------------------- validate_region


def test_validate_region_keeps_a_box_inside_the_page():
    assert validate_region((10, 20, 110, 220), (300, 400)) == (10, 20, 110, 220)


def test_validate_region_grows_fractional_edges_to_whole_pixels():
    assert validate_region((10.4, 20.6, 50.2, 60.9), (300, 400)) == (10, 20, 51, 61)


def test_validate_region_ignores_float_noise_at_pixel_edges():
    # 0.1 * 3 == 0.30000000000000004; scaled boxes land a hair past a whole pixel.
    box = scale_box((10, 10, 100, 100), 0.1 * 3 / 0.3)
    assert validate_region(box, (300, 300)) == (10, 10, 100, 100)


@pytest.mark.parametrize(
    "box, expected",
    [
        ((-50, -10, 100, 100), (0, 0, 100, 100)),
        ((250, 350, 400, 500), (250, 350, 300, 400)),
        ((-1, -1, 301, 401), (0, 0, 300, 400)),
    ],
)
def test_validate_region_clips_boxes_partly_outside(box, expected):
    assert validate_region(box, (300, 400)) == expected


@pytest.mark.parametrize("box", [(10, 10, 10, 50), (10, 10, 50, 10), (50, 10, 10, 60), (10, 60, 50, 10)])
def test_validate_region_rejects_zero_or_negative_area(box):
    with pytest.raises(InputError, match="no area"):
        validate_region(box, (300, 400))


@pytest.mark.parametrize("box", [(300, 0, 350, 50), (-60, 0, -10, 50), (0, 400, 10, 500), (-20, -20, 0, 0)])
def test_validate_region_rejects_boxes_outside_the_page(box):
    with pytest.raises(InputError, match="outside the 300×400 px page"):
        validate_region(box, (300, 400))


@pytest.mark.parametrize("box", [(1, 2, 3), "abcd", (1, 2, "x", 4), (0, 0, float("nan"), 4), None])
def test_validate_region_rejects_malformed_boxes(box):
    with pytest.raises(InputError, match="region"):
        validate_region(box, (300, 400))


def test_validate_region_accepts_aspect_ratio_at_the_limit():
    assert validate_region((0, 0, 2000, 10), (3000, 3000)) == (0, 0, 2000, 10)


def test_validate_region_rejects_aspect_ratio_over_the_limit():
    with pytest.raises(InputError) as info:
        validate_region((0, 0, 2010, 10), (3000, 3000))
    assert "2010×10" in info.value.reason and "201:1" in info.value.reason
    assert f"{MAX_ASPECT_RATIO:.0f}:1" in info.value.reason


def test_validate_region_checks_aspect_ratio_after_clipping():
    # The box is a fine 1:1 square, but only a 1 px wide sliver of it is on the page.
    with pytest.raises(InputError, match="aspect ratio"):
        validate_region((-299, 0, 1, 300), (1000, 300))


def test_check_aspect_ratio_for_tall_images():
    check_aspect_ratio(5, 1000)
    with pytest.raises(InputError, match="5×1001 px"):
        check_aspect_ratio(5, 1001, what="image")


# --------------------------------------------------------------------------- scale_box and crop_region


def test_scale_box_maps_page_units_to_pixels():
    assert scale_box((72, 144, 216, 288), 200 / 72) == pytest.approx((200, 400, 600, 800))
    assert scale_box((10, 10, 20, 20), (2.0, 3.0)) == (20, 30, 40, 60)


def _gradient_image(width=64, height=48):
    xs = np.arange(width, dtype=np.uint8)[None, :].repeat(height, 0)
    ys = np.arange(height, dtype=np.uint8)[:, None].repeat(width, 1)
    return Image.fromarray(np.stack([xs, ys, np.full_like(xs, 7)], axis=-1), "RGB")


def test_crop_region_returns_the_pixels_of_the_box():
    crop = crop_region(_gradient_image(), (5, 6, 25, 16))
    assert crop.size == (20, 10)
    assert crop.getpixel((0, 0)) == (5, 6, 7)
    assert crop.getpixel((19, 9)) == (24, 15, 7)


def test_crop_region_clips_to_the_image():
    crop = crop_region(_gradient_image(), (50, 40, 100, 100))
    assert crop.size == (14, 8)
    assert crop.getpixel((13, 7)) == (63, 47, 7)


def test_crop_region_rejects_a_box_outside_the_image():
    with pytest.raises(InputError, match="outside"):
        crop_region(_gradient_image(), (100, 100, 200, 200))
