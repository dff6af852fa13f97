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
