"""Fonts for the pages the screenshot scripts draw: DejaVu where installed (it has the ∫, ² and − glyphs that the
formula lines use), else Pillow's bundled scalable font at the same sizes."""

from __future__ import annotations

from PIL import ImageFont


def page_fonts(size: int, heading_size: int) -> tuple[ImageFont.ImageFont, ImageFont.ImageFont]:
    """(body font, bold heading font)."""
    try:
        return ImageFont.truetype("DejaVuSans.ttf", size), ImageFont.truetype("DejaVuSans-Bold.ttf", heading_size)
    except OSError:
        return ImageFont.load_default(size=size), ImageFont.load_default(size=heading_size)
