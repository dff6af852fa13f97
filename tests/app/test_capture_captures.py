"""The Captures document: captures appended as pages, lossless, of any size, and opened by the core as pages."""

import io

import numpy as np
from PIL import Image

from glmocr_core.documents.document import document_from_bytes

from app.capture.captures import CAPTURES_NAME, append_capture, capture_pages


def png(width, height, seed):
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue(), pixels


def test_captures_are_appended_as_pages_pixel_for_pixel():
    first, first_pixels = png(460, 100, seed=1)
    second, second_pixels = png(120, 300, seed=2)
    document, index = append_capture(None, first)
    assert index == 0
    document, index = append_capture(document, second)
    assert index == 1
    pages = capture_pages(document)
    assert [page.size for page in pages] == [(460, 100), (120, 300)]
    assert np.array_equal(np.asarray(pages[0]), first_pixels)  # lossless
    assert np.array_equal(np.asarray(pages[1]), second_pixels)


def test_the_core_opens_the_captures_document_with_one_page_per_capture():
    document = None
    for seed in range(3):
        document, _ = append_capture(document, png(50 + seed * 10, 40, seed)[0])
    opened = document_from_bytes(document, CAPTURES_NAME)
    assert opened.page_count == 3
    assert [opened.page_size(i) for i in range(3)] == [(50, 40), (60, 40), (70, 40)]


def test_no_captures_yet_is_no_pages():
    assert capture_pages(None) == [] and capture_pages(b"") == []
