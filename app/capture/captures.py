"""The "Captures" document: every capture of a session kept as one page of a multi-page TIFF, so nothing snipped is
lost and the studio opens it like any pasted picture (``document_from_bytes`` reads TIFF pages as pages, and the
session keeps the bytes as it keeps a pasted image's).

TIFF because it is the one picture format whose pages are pages to the core, it is lossless (Deflate), and its pages
may differ in size, as captures do.
"""

from __future__ import annotations

import io

from PIL import Image, ImageSequence

CAPTURES_NAME = "Captures"


def append_capture(captures: bytes | None, picture: bytes) -> tuple[bytes, int]:
    """The Captures document with ``picture`` (any encoded image, e.g. the crop as PNG) added as its last page:
    ``(the document's new bytes, the new page's index)``."""
    pages = capture_pages(captures) + [_rgb(Image.open(io.BytesIO(picture)))]
    out = io.BytesIO()
    pages[0].save(out, format="TIFF", save_all=True, append_images=pages[1:], compression="tiff_deflate")
    return out.getvalue(), len(pages) - 1


def capture_pages(captures: bytes | None) -> list[Image.Image]:
    """Every page of a Captures document, decoded (an empty list for none yet)."""
    if not captures:
        return []
    with Image.open(io.BytesIO(captures)) as document:
        return [_rgb(page) for page in ImageSequence.Iterator(document)]


def _rgb(image: Image.Image) -> Image.Image:
    return image.convert("RGB")  # also a copy: a page must outlive the file object it came from
