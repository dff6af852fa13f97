"""What a user file is, before it is opened: the suffixes the app offers, the PDF signature, and the content hash that
identifies a file-backed document. Light (no pymupdf, no Pillow), so the window and installers can use it freely."""

from __future__ import annotations

import hashlib
from pathlib import Path

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp", ".gif")
SUPPORTED_SUFFIXES = (*IMAGE_SUFFIXES, ".pdf")  # offered by file dialogs and registered by the installers
PDF_MAGIC = b"%PDF-"


def looks_like_pdf(data: bytes) -> bool:
    # The PDF spec lets a few bytes of junk precede the header; readers accept it within the first KiB.
    return PDF_MAGIC in data[:1024]


def file_content_hash(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes: equal to ``Document.content_hash()`` of the document opened from it."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
