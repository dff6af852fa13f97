"""The benchmark's images, made from a fixed seed so every process (ours and the reference's) sees the same pixels."""

from __future__ import annotations

import numpy as np
from PIL import Image

REGION_SIZE = (448, 448)  # one region: 32×32 patches, 256 image tokens after the 2×2 merge
PAGE_SIZE = (1240, 1754)  # an A4 page at 150 DPI
PAGE_STRIPS = 8
BATCH_REGION_SIZE = (224, 224)  # small regions keep the batch's prefill short; decode cost is the weights, not KV
BATCH_GRID = (2, 4)  # the batch-decode image holds 2 columns × 4 rows of regions
WARMUP_SIZE = (112, 112)  # the smallest picture the preprocessing keeps as is
SNIP_SIZE = (600, 80)  # a screenshot of one line of text


def text_like_image(width: int, height: int, seed: int = 0) -> Image.Image:
    """A white page with dark bars shaped like lines of words; content is irrelevant to random weights, but a
    page-like picture keeps the preprocessing (resize, normalisation) on a realistic path."""
    rng = np.random.default_rng(seed)
    pixels = np.full((height, width, 3), 250, dtype=np.uint8)
    for top in range(12, height - 20, 24):
        left = 16
        while left < width - 40:
            word = int(rng.integers(12, 60))
            pixels[top:top + 12, left:min(left + word, width - 16)] = rng.integers(0, 90)
            left += word + int(rng.integers(6, 14))
    return Image.fromarray(pixels)


def region_image() -> Image.Image:
    return text_like_image(*REGION_SIZE, seed=1)


def page_image() -> Image.Image:
    return text_like_image(*PAGE_SIZE, seed=2)


def page_strips(size: tuple[int, int] = PAGE_SIZE, count: int = PAGE_STRIPS) -> list[tuple[int, int, int, int]]:
    """``count`` full-width horizontal strips covering the page, as (x0, y0, x1, y1) boxes."""
    width, height = size
    edges = [round(i * height / count) for i in range(count + 1)]
    return [(0, top, width, bottom) for top, bottom in zip(edges, edges[1:])]


def snip_image() -> Image.Image:
    return text_like_image(*SNIP_SIZE, seed=5)


def warmup_image() -> Image.Image:
    return text_like_image(*WARMUP_SIZE, seed=4)


def batch_image() -> Image.Image:
    columns, rows = BATCH_GRID
    return text_like_image(BATCH_REGION_SIZE[0] * columns, BATCH_REGION_SIZE[1] * rows, seed=3)


def batch_regions() -> list[tuple[int, int, int, int]]:
    """Eight regions tiling ``batch_image``."""
    (columns, rows), (w, h) = BATCH_GRID, BATCH_REGION_SIZE
    return [(c * w, r * h, (c + 1) * w, (r + 1) * h) for r in range(rows) for c in range(columns)]


def crop(image: Image.Image, box) -> Image.Image:
    return image.crop(tuple(int(v) for v in box))
