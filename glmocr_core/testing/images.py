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
