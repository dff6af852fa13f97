"""Pictures for tests and benchmarks: a few lines of drawn text on a noisy light background, the same for a seed."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw


def drawn_image(width: int, height: int, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    image = Image.fromarray(rng.integers(180, 256, (height, width, 3), dtype=np.uint8))
    draw = ImageDraw.Draw(image)
    for line in range(3):
        draw.text((8, 8 + 16 * line), f"line {line} of image {seed}: x^2 + y^2", fill=(0, 0, 0))
    return image


def write_test_images(folder) -> list:
    """Three drawn images of different shapes and formats (PNG, JPEG, WebP) in ``folder``, for command-line tests."""
    from pathlib import Path

    paths = []
    for seed, (size, suffix) in enumerate([((300, 120), "png"), ((90, 260), "jpg"), ((500, 70), "webp")]):
        path = Path(folder) / f"image{seed}.{suffix}"
        drawn_image(*size, seed).save(path, **({"quality": 95} if suffix == "jpg" else {}))
        paths.append(path)
    return paths


def write_test_pdf(path, pages: int):
    """A PDF of ``pages`` 300×200-point pages, each with one line of text naming its page, for command-line tests."""
    from pathlib import Path

    import pymupdf

    document = pymupdf.open()
    for number in range(pages):
        page = document.new_page(width=300, height=200)
        page.insert_text((40, 80), f"Page {number + 1}: E = mc^2", fontsize=16)
    document.save(path)
    return Path(path)


def write_heavy_pdf(path, operations: int):
    """A one-page PDF of ``operations`` long stroked lines across the page: seconds to minutes for MuPDF to render
    (about 300 000 take half a minute on a 2-core machine), for tests of bounded, stoppable rendering."""
    from pathlib import Path

    import pymupdf

    document = pymupdf.open()
    page = document.new_page(width=600, height=800)
    page.insert_text((40, 40), "heavy", fontsize=12)  # gives the page a content stream to replace
    strokes = "".join(f"{i % 600} {i % 800} m {(i * 7) % 600} {(i * 13) % 800} l S\n" for i in range(operations))
    document.update_stream(page.get_contents()[0], strokes.encode())
    document.save(path, deflate=True)
    return Path(path)
