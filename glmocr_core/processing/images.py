"""Pictures as the model sees them: any Pillow image to 8-bit RGB, and the aspect-ratio limit of the processor.

Shared by the documents (pages are converted when they are opened) and the preprocessing (anything handed to the
engine directly), so both apply exactly the same rules.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from ..errors import InputError

# The model's image processor refuses images whose long side is more than 200 times the short side.
MAX_ASPECT_RATIO = 200.0
_ALPHA_MODES = {"RGBA", "RGBa", "LA", "La", "PA"}
_WHITE = (255, 255, 255)


def check_aspect_ratio(width: int, height: int, what: str = "image") -> None:
    """Raise InputError when the model's preprocessing would refuse a ``width``×``height`` picture."""
    ratio = max(width, height) / min(width, height)
    if ratio > MAX_ASPECT_RATIO:
        raise InputError(
            f"{what} is {width}×{height} px, an aspect ratio of {ratio:.0f}:1; "
            f"the model accepts at most {MAX_ASPECT_RATIO:.0f}:1"
        )


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any Pillow image to 8-bit RGB; transparent pixels are composited onto white.

    Deterministic: the same input always gives the same pixels. An RGB input without a transparent
    colour key is returned as is (not copied).
    High-bit-depth modes are scaled, not clipped (see ``_to_8bit``), so 16-bit scans stay readable.
    Raises InputError for a mode Pillow cannot turn into RGB.
    """
    mode = image.mode
    if mode.startswith("I") or mode == "F":
        return Image.fromarray(_to_8bit(np.asarray(image), mode), "L").convert("RGB")
    if mode in _ALPHA_MODES or "transparency" in image.info:
        return _flatten_on_white(image)
    if mode == "RGB":
        return image
    return _convert(image, "RGB")


def _flatten_on_white(image: Image.Image) -> Image.Image:
    """Composite an image with alpha (or a transparent palette index / colour key) onto white."""
    if image.mode == "La":
        image = image.convert("LA")  # Pillow converts premultiplied L only to its straight form
    rgba = _convert(image, "RGBA")
    background = Image.new("RGBA", rgba.size, _WHITE + (255,))
    return Image.alpha_composite(background, rgba).convert("RGB")


def _to_8bit(pixels: np.ndarray, mode: str) -> np.ndarray:
    """Map integer or float pixel values to 0..255 (uint8) with a rule that depends only on the data.

    * ``I;16*``: the full 0..65535 range.
    * ``I`` / ``F``: the smallest of the usual ranges that holds every value: 0..1 (float only), 0..255,
      0..65535; anything else (negative values, 32-bit counts) is stretched from its min to its max.
    Rounding is to nearest; the usual integer ranges use exact integer arithmetic.
    """
    values = np.nan_to_num(pixels, nan=0.0, posinf=0.0, neginf=0.0) if pixels.dtype.kind == "f" else pixels
    low, high = _value_range(values, mode)
    if values.dtype.kind in "iu" and (low, high) == (0, 255):
        return values.astype(np.uint8)
    if values.dtype.kind in "iu" and (low, high) == (0, 65535):
        # uint32 keeps memory at 4 bytes a pixel; v*255 + 32767 <= 2**24, so no overflow.
        return ((values.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    span = high - low if high > low else 1.0
    scaled = (values.astype(np.float64) - low) * (255.0 / span)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def _value_range(values: np.ndarray, mode: str) -> tuple[float, float]:
    if mode.startswith("I;16"):
        return 0, 65535
    low, high = (values.min().item(), values.max().item()) if values.size else (0, 0)
    for range_low, range_high in ((0, 1) if mode == "F" else (0, 0), (0, 255), (0, 65535)):
        if range_high and low >= range_low and high <= range_high:
            return range_low, range_high
    return low, high


def _convert(image: Image.Image, mode: str) -> Image.Image:
    try:
        return image.convert(mode)
    except (ValueError, OSError) as exc:
        raise InputError(f"cannot convert colour mode {image.mode} to {mode}: {exc}") from None
