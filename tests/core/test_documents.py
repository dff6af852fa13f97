"""Opening images and PDFs (glmocr_core.documents): formats, colour modes, rendering, bad input."""

from __future__ import annotations

import hashlib
import io
import os
import threading

import numpy as np
import pymupdf
import pytest
from PIL import Image

from glmocr_core.documents.document import (
    MAX_IMAGE_PIXELS,
    MAX_OCR_LONG_SIDE,
    Document,
    document_from_bytes,
    document_from_image,
    open_document,
)
from glmocr_core.documents.pages import DEFAULT_DPI
from glmocr_core.errors import InputError
from glmocr_core.processing.images import to_rgb

RED, GREEN, BLUE, WHITE, BLACK = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255), (0, 0, 0)


# --------------------------------------------------------------------------- helpers


def quadrants(width=40, height=30):
    """RGB test card: red, green / blue, white quadrants, so any rotation or flip is visible."""
    pixels = np.zeros((height, width, 3), np.uint8)
    h2, w2 = height // 2, width // 2
    pixels[:h2, :w2], pixels[:h2, w2:] = RED, GREEN
    pixels[h2:, :w2], pixels[h2:, w2:] = BLUE, WHITE
    return Image.fromarray(pixels, "RGB")


def save(image, path, fmt=None, **params):
    image.save(path, fmt, **params)
    return path


def encoded(image, fmt, **params):
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def pixels(image):
    """Row-major list of RGB tuples."""
    return [tuple(int(v) for v in p) for p in np.asarray(image).reshape(-1, 3)]


def near(pixel, expected, tolerance=0):
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, expected))


def make_pdf(path, page_sizes, fills=None, **save_options):
    """A PDF with one page per (width, height) in points; ``fills`` paints each page's left half."""
    pdf = pymupdf.open()
    for i, (width, height) in enumerate(page_sizes):
        page = pdf.new_page(width=width, height=height)
        if fills:
            colour = tuple(c / 255 for c in fills[i])
            page.draw_rect(pymupdf.Rect(0, 0, width / 2, height), color=colour, fill=colour)
    pdf.save(str(path), **save_options)
    pdf.close()
    return path


# --------------------------------------------------------------------------- image formats


@pytest.mark.parametrize(
    "suffix, params",
    [(".png", {}), (".bmp", {}), (".tiff", {}), (".webp", {"lossless": True}), (".gif", {}), (".ppm", {}),
     (".tga", {})],
)
def test_lossless_formats_open_as_one_exact_rgb_page(tmp_path, suffix, params):
    card = quadrants()
    doc = open_document(save(card, tmp_path / f"card{suffix}", **params))
    assert (doc.kind, doc.page_count, doc.source) == ("image", 1, str(tmp_path / f"card{suffix}"))
    assert doc.page_size(0) == (40.0, 30.0)
    page = doc.render(0)
    assert page.mode == "RGB"
    assert np.array_equal(np.asarray(page), np.asarray(card))


def test_jpeg_opens_with_close_pixels(tmp_path):
    doc = open_document(save(quadrants(80, 60), tmp_path / "card.jpg", quality=95))
    page = doc.render(0)
    assert page.mode == "RGB" and page.size == (80, 60)
    assert near(page.getpixel((10, 10)), RED, 12)
    assert near(page.getpixel((70, 50)), WHITE, 12)


def test_file_type_comes_from_content_not_extension(tmp_path):
    path = tmp_path / "really_a_png.jpg"
    path.write_bytes(encoded(quadrants(), "PNG"))
    assert np.array_equal(np.asarray(open_document(path).render(0)), np.asarray(quadrants()))


def test_multi_page_tiff_gives_one_page_per_frame(tmp_path):
    frames = [Image.new("RGB", (30 + 10 * i, 20), colour) for i, colour in enumerate([RED, GREEN, BLUE])]
    path = tmp_path / "scan.tiff"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    doc = open_document(path)
    assert doc.page_count == 3
    assert [doc.page_size(i) for i in range(3)] == [(30.0, 20.0), (40.0, 20.0), (50.0, 20.0)]
    assert [doc.render(i).getpixel((0, 0)) for i in range(3)] == [RED, GREEN, BLUE]


def test_multi_page_tiff_pages_survive_the_decoded_page_cache(tmp_path):
    colours = [(i * 40, 255 - i * 40, 7) for i in range(6)]  # more pages than the cache holds
    frames = [Image.new("RGB", (8, 8), c) for c in colours]
    frames[0].save(tmp_path / "long.tif", save_all=True, append_images=frames[1:])
    doc = open_document(tmp_path / "long.tif")
    order = (0, 5, 2, 4, 1, 3, 0)
    assert [doc.render(i).getpixel((3, 3)) for i in order] == [colours[i] for i in order]


def test_animated_gif_is_one_page_from_the_first_frame(tmp_path):
    frames = [Image.new("RGB", (16, 16), colour) for colour in (RED, GREEN, BLUE)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50, loop=0)
    assert Image.open(path).n_frames == 3  # the file really is animated
    doc = open_document(path)
    assert doc.page_count == 1
    assert doc.render(0).getpixel((8, 8)) == RED


def test_animated_webp_is_one_page_from_the_first_frame(tmp_path):
    frames = [Image.new("RGB", (16, 16), colour) for colour in (BLUE, RED)]
    path = tmp_path / "anim.webp"
    frames[0].save(path, save_all=True, append_images=frames[1:], lossless=True, duration=50)
    doc = open_document(path)
    assert doc.page_count == 1
    assert doc.render(0).getpixel((8, 8)) == BLUE


def test_exif_orientation_6_is_applied(tmp_path):
    # Orientation 6 means "rotate 90° clockwise to display": the stored left column becomes the top row.
    stored = Image.new("RGB", (64, 32), RED)
    stored.paste(BLUE, (32, 0, 64, 32))
    exif = Image.Exif()
    exif[0x0112] = 6
    doc = open_document(save(stored, tmp_path / "phone.jpg", exif=exif, quality=95))
    assert doc.page_size(0) == (32.0, 64.0)
    page = doc.render(0)
    assert near(page.getpixel((16, 8)), RED, 12)  # top
    assert near(page.getpixel((16, 56)), BLUE, 12)  # bottom


def test_document_from_an_opened_image_applies_exif_orientation(tmp_path):
    stored = Image.new("RGB", (64, 32), RED)
    exif = Image.Exif()
    exif[0x0112] = 6
    with Image.open(save(stored, tmp_path / "phone.jpg", exif=exif)) as dropped:
        assert document_from_image(dropped).page_size(0) == (32.0, 64.0)


def test_image_without_orientation_is_not_rotated(tmp_path):
    stored = Image.new("RGB", (64, 32), RED)
    doc = open_document(save(stored, tmp_path / "plain.jpg"))
    assert doc.page_size(0) == (64.0, 32.0)


def test_image_ocr_image_is_full_resolution_whatever_the_dpi(tmp_path):
    doc = open_document(save(quadrants(400, 300), tmp_path / "big.png"))
    image, scale = doc.ocr_image(0, dpi=72)
    assert (image.size, scale) == ((400, 300), 1.0)


def test_image_render_scales(tmp_path):
    doc = open_document(save(quadrants(400, 300), tmp_path / "big.png"))
    assert doc.render(0, 0.25).size == (100, 75)
    assert doc.render(0, 2).size == (800, 600)


def test_rendered_pages_are_copies(tmp_path):
    doc = open_document(save(quadrants(), tmp_path / "card.png"))
    doc.render(0).paste(BLACK, (0, 0, 40, 30))
    doc.ocr_image(0)[0].paste(BLACK, (0, 0, 40, 30))
    assert doc.render(0).getpixel((0, 0)) == RED


# --------------------------------------------------------------------------- colour modes


def _rgba_samples():
    pixels = np.array([[[255, 0, 0, 0], [0, 0, 255, 255], [0, 0, 0, 128], [200, 100, 50, 255]]], np.uint8)
    return Image.fromarray(pixels, "RGBA")


def test_to_rgb_flattens_rgba_onto_white():
    rgb = to_rgb(_rgba_samples())
    assert rgb.mode == "RGB"
    assert rgb.getpixel((0, 0)) == WHITE  # fully transparent red disappears
    assert rgb.getpixel((1, 0)) == BLUE
    assert near(rgb.getpixel((2, 0)), (127, 127, 127), 1)  # half-transparent black is mid grey
    assert rgb.getpixel((3, 0)) == (200, 100, 50)


def test_to_rgb_flattens_la_and_premultiplied_modes_onto_white():
    la = Image.fromarray(np.array([[[30, 0], [30, 255]]], np.uint8), "LA")
    assert pixels(to_rgb(la)) == [WHITE, (30, 30, 30)]
    assert pixels(to_rgb(la.convert("La"))) == [WHITE, (30, 30, 30)]
    rgba = Image.fromarray(np.array([[[10, 20, 30, 0], [10, 20, 30, 255]]], np.uint8), "RGBA")
    assert pixels(to_rgb(rgba.convert("RGBa"))) == [WHITE, (10, 20, 30)]


def test_to_rgb_palette_with_transparent_index_goes_white():
    image = Image.new("P", (2, 1))
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    image.putpixel((0, 0), 0)
    image.putpixel((1, 0), 1)
    image.info["transparency"] = 0
    assert pixels(to_rgb(image)) == [WHITE, RED]
    del image.info["transparency"]
    assert pixels(to_rgb(image)) == [BLACK, RED]


def test_to_rgb_palette_with_alpha_palette_goes_white():
    pa = Image.new("PA", (1, 1))
    pa.putpalette([0, 255, 0] * 256)
    assert to_rgb(pa).getpixel((0, 0)) == WHITE  # alpha 0


def test_to_rgb_transparent_png_file_comes_out_on_white(tmp_path):
    doc = open_document(save(_rgba_samples(), tmp_path / "alpha.png"))
    assert doc.render(0).getpixel((0, 0)) == WHITE
    gif_source = Image.new("P", (2, 1))
    gif_source.putpalette([0, 0, 0, 0, 0, 255] + [0] * 762)
    gif_source.putpixel((1, 0), 1)
    doc = open_document(save(gif_source, tmp_path / "t.gif", transparency=0))
    assert pixels(doc.render(0)) == [WHITE, BLUE]


def test_to_rgb_bilevel_and_grey():
    bilevel = Image.new("1", (2, 1))
    bilevel.putpixel((1, 0), 1)
    assert pixels(to_rgb(bilevel)) == [BLACK, WHITE]
    grey = Image.fromarray(np.array([[0, 77, 255]], np.uint8), "L")
    assert pixels(to_rgb(grey)) == [BLACK, (77, 77, 77), WHITE]


def test_to_rgb_cmyk():
    cmyk = Image.new("CMYK", (3, 1))
    cmyk.putpixel((0, 0), (0, 0, 0, 0))
    cmyk.putpixel((1, 0), (0, 255, 255, 0))
    cmyk.putpixel((2, 0), (0, 0, 0, 255))
    assert pixels(to_rgb(cmyk)) == [WHITE, RED, BLACK]


def test_to_rgb_scales_16_bit_grey_instead_of_clipping():
    sixteen = Image.fromarray(np.array([[0, 257 * 128, 65535, 1000]], np.uint16))
    assert sixteen.mode == "I;16"
    assert [p[0] for p in pixels(to_rgb(sixteen))] == [0, 128, 255, 4]


def test_to_rgb_16_bit_png_file(tmp_path):
    sixteen = Image.fromarray(np.array([[0, 65535]], np.uint16))
    doc = open_document(save(sixteen, tmp_path / "deep.png"))
    assert pixels(doc.render(0)) == [BLACK, WHITE]


def test_to_rgb_32_bit_integer_mode_picks_the_range_that_fits():
    eight_bit_values = Image.fromarray(np.array([[0, 100, 255]], np.int32), "I")
    assert [p[0] for p in pixels(to_rgb(eight_bit_values))] == [0, 100, 255]
    sixteen_bit_values = Image.fromarray(np.array([[0, 257 * 100, 65535]], np.int32), "I")
    assert [p[0] for p in pixels(to_rgb(sixteen_bit_values))] == [0, 100, 255]
    constant = Image.fromarray(np.array([[-7, -7]], np.int32), "I")
    assert [p[0] for p in pixels(to_rgb(constant))] == [0, 0]
    signed = Image.fromarray(np.array([[-1000, 0, 1000]], np.int32), "I")
    assert [p[0] for p in pixels(to_rgb(signed))] == [0, 128, 255]  # stretched min..max


def test_to_rgb_float_mode():
    unit = Image.fromarray(np.array([[0.0, 0.5, 1.0]], np.float32), "F")
    assert [p[0] for p in pixels(to_rgb(unit))] == [0, 128, 255]
    bytes_range = Image.fromarray(np.array([[0.0, 64.0, 255.0]], np.float32), "F")
    assert [p[0] for p in pixels(to_rgb(bytes_range))] == [0, 64, 255]


@pytest.mark.parametrize("mode", ["1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr",
                                  "I;16", "I;16B", "I", "F", "HSV"])
def test_to_rgb_is_deterministic_rgb_for_every_mode(mode):
    source = Image.fromarray(np.random.default_rng(0).integers(0, 256, (9, 7, 4), np.uint8), "RGBA")
    image = source.convert(mode) if mode not in ("La", "PA", "I;16B") else _via(source, mode)
    first, second = to_rgb(image), to_rgb(image)
    assert first.mode == "RGB" and first.size == (7, 9)
    assert first.tobytes() == second.tobytes()


def _via(source, mode):
    if mode == "La":
        return source.convert("LA").convert("La")
    if mode == "PA":
        return Image.frombytes("PA", source.size, source.convert("LA").tobytes())
    return source.convert("L").convert("I;16").convert("I;16B")


def test_to_rgb_returns_rgb_input_unchanged():
    card = quadrants()
    assert to_rgb(card) is card


# --------------------------------------------------------------------------- PDFs


def test_pdf_pages_render_at_the_requested_dpi(tmp_path):
    path = make_pdf(tmp_path / "doc.pdf", [(612, 792), (144, 72)], fills=[RED, BLUE])
    doc = open_document(path)
    assert (doc.kind, doc.page_count) == ("pdf", 2)
    assert doc.page_size(0) == (612.0, 792.0) and doc.page_size(1) == (144.0, 72.0)
    image, scale = doc.ocr_image(0, dpi=200)
    assert image.mode == "RGB" and image.size == (1700, 2200) and scale == pytest.approx(200 / 72)
    image, scale = doc.ocr_image(1, dpi=144)
    assert image.size == (288, 144) and scale == pytest.approx(2.0)
    assert image.getpixel((10, 70)) == BLUE and image.getpixel((280, 70)) == WHITE


def test_pdf_render_scale_gives_page_units_times_scale(tmp_path):
    doc = open_document(make_pdf(tmp_path / "doc.pdf", [(200, 100)], fills=[GREEN]))
    assert doc.render(0).size == (200, 100)
    thumb = doc.render(0, 0.5)
    assert thumb.size == (100, 50)
    assert thumb.getpixel((10, 25)) == GREEN


def test_pdf_ocr_image_caps_the_long_side_like_the_sdk(tmp_path):
    doc = open_document(make_pdf(tmp_path / "poster.pdf", [(2000, 1000), (1000, 2100)]))
    image, scale = doc.ocr_image(0, dpi=200)  # 200 dpi would be 5556 px wide
    assert image.size == (MAX_OCR_LONG_SIDE, 1750) and scale == pytest.approx(MAX_OCR_LONG_SIDE / 2000)
    image, scale = doc.ocr_image(1)
    assert max(image.size) == MAX_OCR_LONG_SIDE and image.size[1] == MAX_OCR_LONG_SIDE
    assert scale == pytest.approx(MAX_OCR_LONG_SIDE / 2100)


def test_pdf_ocr_image_cap_applies_only_past_3500_px(tmp_path):
    doc = open_document(make_pdf(tmp_path / "a4.pdf", [(595, 842)]))
    image, scale = doc.ocr_image(0, dpi=300)  # 842 pt at 300 dpi = 3508 px: just over
    assert max(image.size) == MAX_OCR_LONG_SIDE
    image, scale = doc.ocr_image(0, dpi=150)
    assert scale == pytest.approx(150 / 72) and max(image.size) < MAX_OCR_LONG_SIDE


def test_pdf_rotated_page_reports_rotated_size(tmp_path):
    pdf = pymupdf.open()
    pdf.new_page(width=200, height=100).set_rotation(90)
    pdf.save(str(tmp_path / "rot.pdf"))
    doc = open_document(tmp_path / "rot.pdf")
    assert doc.page_size(0) == (100.0, 200.0)
    assert doc.render(0).size == (100, 200)


def test_pdf_from_bytes_and_hash(tmp_path):
    data = make_pdf(tmp_path / "doc.pdf", [(100, 100)]).read_bytes()
    doc = document_from_bytes(data, "dropped.pdf")
    assert (doc.kind, doc.source, doc.page_count) == ("pdf", "dropped.pdf", 1)
    assert doc.content_hash() == hashlib.sha256(data).hexdigest()


def test_pdf_renders_from_several_threads(tmp_path):
    doc = open_document(make_pdf(tmp_path / "doc.pdf", [(120, 90), (90, 120)], fills=[RED, BLUE]))
    expected = [doc.render(i, 1.5).tobytes() for i in range(2)]
    mismatches, errors = [], []

    def render_many(index):
        try:
            for _ in range(15):
                if doc.render(index, 1.5).tobytes() != expected[index]:
                    mismatches.append(index)
        except Exception as exc:  # noqa: BLE001 - collect and assert below
            errors.append(exc)

    threads = [threading.Thread(target=render_many, args=(i % 2,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and not mismatches


# --------------------------------------------------------------------------- in-memory images


def test_document_from_image_copies_and_flattens():
    pasted = _rgba_samples()
    doc = document_from_image(pasted)
    assert (doc.kind, doc.source, doc.page_count) == ("image", "Pasted image", 1)
    pasted.putpixel((1, 0), (0, 0, 0, 255))  # the user's image changing later must not leak in
    assert doc.render(0).getpixel((0, 0)) == WHITE and doc.render(0).getpixel((1, 0)) == BLUE


def test_document_from_rgb_image_is_a_copy():
    card = quadrants()
    doc = document_from_image(card, "clip")
    card.paste(BLACK, (0, 0, 40, 30))
    assert doc.render(0).getpixel((0, 0)) == RED


def test_in_memory_hash_follows_pixels():
    a, b = document_from_image(quadrants()), document_from_image(quadrants())
    assert a.content_hash() == b.content_hash()
    assert len(a.content_hash()) == 64
    other = quadrants()
    other.putpixel((0, 0), (254, 0, 0))
    assert document_from_image(other).content_hash() != a.content_hash()


def test_document_from_bytes_png():
    doc = document_from_bytes(encoded(quadrants(), "PNG"), "from-browser.png")
    assert (doc.kind, doc.source) == ("image", "from-browser.png")
    assert np.array_equal(np.asarray(doc.render(0)), np.asarray(quadrants()))


def test_in_memory_hash_after_close_is_an_input_error():
    doc = document_from_image(quadrants())
    doc.close()
    assert "closed" in _reason(doc.content_hash).reason


def test_file_hash_is_sha256_of_file_bytes(tmp_path):
    path = save(quadrants(), tmp_path / "card.png")
    assert open_document(path).content_hash() == hashlib.sha256(path.read_bytes()).hexdigest()


def test_documents_share_one_base_class(tmp_path):
    assert isinstance(document_from_image(quadrants()), Document)
    assert isinstance(open_document(make_pdf(tmp_path / "d.pdf", [(10, 10)])), Document)


# --------------------------------------------------------------------------- bad input


def _reason(call, *args, **kwargs) -> InputError:
    with pytest.raises(InputError) as info:
        call(*args, **kwargs)
    return info.value


def test_missing_file(tmp_path):
    error = _reason(open_document, tmp_path / "nope.png")
    assert error.path == str(tmp_path / "nope.png") and "no such file" in error.reason


def test_folder(tmp_path):
    assert "folder" in _reason(open_document, tmp_path).reason


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX named pipes")
def test_not_a_regular_file(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    assert "not a regular file" in _reason(open_document, tmp_path / "pipe").reason


def test_zero_byte_file(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    assert "empty (0 bytes)" in _reason(open_document, tmp_path / "empty.png").reason


def test_unknown_format(tmp_path):
    (tmp_path / "notes.txt").write_text("hello, not an image\n" * 10)
    assert "unknown or unsupported format" in _reason(open_document, tmp_path / "notes.txt").reason


@pytest.mark.parametrize("fmt, suffix", [("PNG", ".png"), ("JPEG", ".jpg"), ("TIFF", ".tif"), ("WEBP", ".webp")])
def test_truncated_image_fails_at_open(tmp_path, fmt, suffix):
    noise = Image.fromarray(np.random.default_rng(1).integers(0, 256, (120, 160, 3), np.uint8), "RGB")
    data = encoded(noise, fmt)
    path = tmp_path / f"cut{suffix}"
    path.write_bytes(data[: len(data) * 2 // 3])
    error = _reason(open_document, path)
    assert error.path == str(path) and "truncated or corrupt" in error.reason


def test_truncated_last_page_of_multi_page_tiff_fails_alone_when_it_is_used(tmp_path):
    frames = [Image.fromarray(np.random.default_rng(i).integers(0, 256, (50, 50, 3), np.uint8)) for i in range(3)]
    data = encoded(frames[0], "TIFF", save_all=True, append_images=frames[1:])
    assert data.find(frames[2].tobytes()[:64]) > len(data) // 2  # the last page's pixels sit at the end
    (tmp_path / "bad.tif").write_bytes(data[:-100])
    with open_document(tmp_path / "bad.tif") as document:  # pages are measured at open, decoded when used
        assert document.page_count == 3 and document.page_size(2) == (50.0, 50.0)
        assert np.array_equal(np.asarray(document.render(0)), np.asarray(frames[0]))
        assert "truncated or corrupt" in _reason(document.render, 2).reason


def test_opening_a_multi_page_tiff_decodes_only_its_first_page(tmp_path, monkeypatch):
    from glmocr_core.documents import document as documents

    frames = [Image.new("RGB", (40, 30 + i), (i * 40, 0, 0)) for i in range(5)]
    path = tmp_path / "scan.tif"
    path.write_bytes(encoded(frames[0], "TIFF", save_all=True, append_images=frames[1:]))
    decoded = []
    real = documents._decode_frame
    monkeypatch.setattr(documents, "_decode_frame", lambda data, index, *a: decoded.append(index) or real(data, index, *a))
    with open_document(path) as document:
        assert decoded == [0] and [document.page_size(i) for i in range(5)] == [(40.0, 30.0 + i) for i in range(5)]
        assert document.render(3).size == (40, 33) and decoded == [0, 3]


def test_files_over_the_size_limit_are_refused_before_they_are_read(tmp_path, monkeypatch):
    from glmocr_core.documents import document as documents

    monkeypatch.setattr(documents, "MAX_FILE_BYTES", 1000)
    path = save(Image.new("RGB", (200, 200), "white"), tmp_path / "big.bmp")
    assert "more than the" in _reason(open_document, path).reason


def test_large_files_must_start_like_an_image_or_pdf(tmp_path, monkeypatch):
    from glmocr_core.documents import document as documents

    monkeypatch.setattr(documents, "_SNIFF_ABOVE_BYTES", 10)
    (tmp_path / "noise.png").write_bytes(b"\x00garbage" * 10)
    assert "not an image or PDF" in _reason(open_document, tmp_path / "noise.png").reason
    assert open_document(save(Image.new("RGB", (20, 20)), tmp_path / "fine.png")).page_count == 1


def test_a_symlink_loop_is_named_as_such(tmp_path):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    assert "symbolic link" in _reason(open_document, tmp_path / "a").reason


def test_decompression_bomb_over_our_pixel_cap(tmp_path):
    path = save(Image.new("RGB", (60, 40)), tmp_path / "bomb.png")
    reason = _reason(open_document, path, max_pixels=1000).reason
    assert "60×40" in reason and "decompression bomb" in reason
    assert open_document(path, max_pixels=2400).page_count == 1  # exactly at the cap is fine


def test_decompression_bomb_caught_by_pillow_is_an_input_error(tmp_path, monkeypatch):
    path = save(Image.new("RGB", (60, 40)), tmp_path / "bomb.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # Pillow refuses above twice this
    assert "too large" in _reason(open_document, path).reason


def test_pixel_cap_applies_to_pasted_images_and_pdf_renders(tmp_path):
    assert "60×40" in _reason(document_from_image, Image.new("RGB", (60, 40)), max_pixels=100).reason
    doc = open_document(make_pdf(tmp_path / "d.pdf", [(100, 100)]), max_pixels=50_000)
    assert doc.render(0, 2).size == (200, 200)
    assert "decompression bomb" in _reason(doc.render, 0, 3).reason


def test_encrypted_pdf(tmp_path):
    path = make_pdf(
        tmp_path / "secret.pdf", [(100, 100)], encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="u", owner_pw="o"
    )
    error = _reason(open_document, path)
    assert error.path == str(path) and "password" in error.reason


def test_pdf_with_no_pages(tmp_path):
    body = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
    (tmp_path / "empty.pdf").write_bytes(body + b"trailer<</Root 1 0 R>>\n%%EOF\n")
    assert "no pages" in _reason(open_document, tmp_path / "empty.pdf").reason


def test_broken_pdf(tmp_path):
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 4)
    reason = _reason(open_document, tmp_path / "broken.pdf").reason
    assert "damaged" in reason or "no pages" in reason


def test_truncated_pdf(tmp_path):
    data = make_pdf(tmp_path / "full.pdf", [(100, 100)] * 3).read_bytes()
    (tmp_path / "cut.pdf").write_bytes(data[:40])
    reason = _reason(open_document, tmp_path / "cut.pdf").reason
    assert "damaged" in reason or "no pages" in reason


def test_pdf_extension_without_pdf_content(tmp_path):
    (tmp_path / "fake.pdf").write_bytes(encoded(quadrants(), "PNG"))
    assert "not a PDF" in _reason(open_document, tmp_path / "fake.pdf").reason


@pytest.mark.parametrize("index", [-1, 2, 99, 1.0, "0", True])
def test_page_index_out_of_range(tmp_path, index):
    for doc in (open_document(make_pdf(tmp_path / "d.pdf", [(50, 50)] * 2)), _two_page_tiff(tmp_path)):
        with pytest.raises(InputError, match="page"):
            doc.render(index)
        with pytest.raises(InputError, match="page"):
            doc.page_size(index)


def _two_page_tiff(tmp_path):
    frames = [Image.new("RGB", (10, 10), c) for c in (RED, GREEN)]
    frames[0].save(tmp_path / "two.tif", save_all=True, append_images=frames[1:])
    return open_document(tmp_path / "two.tif")


@pytest.mark.parametrize("scale", [0, -1, float("nan"), float("inf")])
def test_bad_render_scale(tmp_path, scale):
    with pytest.raises(InputError, match="scale"):
        document_from_image(quadrants()).render(0, scale)
    with pytest.raises(InputError, match="scale"):
        open_document(make_pdf(tmp_path / "d.pdf", [(50, 50)])).render(0, scale)


def test_bad_dpi(tmp_path):
    doc = open_document(make_pdf(tmp_path / "d.pdf", [(50, 50)]))
    with pytest.raises(InputError, match="DPI"):
        doc.ocr_image(0, dpi=0)


def test_closed_documents_refuse_to_render(tmp_path):
    with open_document(make_pdf(tmp_path / "d.pdf", [(50, 50)])) as pdf_doc:
        pdf_doc.render(0)
    with pytest.raises(InputError, match="closed"):
        pdf_doc.render(0)
    image_doc = open_document(save(quadrants(), tmp_path / "c.png"))
    image_doc.close()
    with pytest.raises(InputError, match="closed"):
        image_doc.render(0)


def test_non_bytes_and_empty_bytes():
    assert "empty" in _reason(document_from_bytes, b"").reason
    assert "bytes" in _reason(document_from_bytes, "a string").reason
    assert "unknown" in _reason(document_from_bytes, b"\x00garbage" * 20).reason
    assert "PIL image" in _reason(document_from_image, b"not an image").reason


def test_bad_input_never_leaks_a_raw_exception(tmp_path):
    """Assorted junk: every failure must be an InputError, not a Pillow/MuPDF exception."""
    png = encoded(quadrants(), "PNG")
    samples = {
        "flipped.png": png[:60] + bytes(b ^ 0xFF for b in png[60:120]) + png[120:],
        "header_only.png": png[:33],
        "jpeg_header.jpg": b"\xff\xd8\xff\xe0" + b"\x00" * 40,
        "gif_header.gif": b"GIF89a\x10\x00\x10\x00",
        "pdf_header.pdf": b"%PDF-",
    }
    for name, data in samples.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(InputError):
            open_document(tmp_path / name)


def test_module_constants_match_the_documented_limits():
    assert MAX_OCR_LONG_SIDE == 3500
    assert DEFAULT_DPI == 200
    assert MAX_IMAGE_PIXELS == 200_000_000
