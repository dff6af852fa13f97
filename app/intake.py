"""Turning clipboard contents and drops into something to open: local file paths, or encoded image bytes.

Order of preference, because sources offer several formats at once: local files (keep the real name and the
full-quality original), then image data (screenshots, images dragged from a browser), then text that is a
local path. Remote URLs alone cannot be opened offline; the caller says so. The file types the app opens (and the
installers register) are the core's ``SUPPORTED_SUFFIXES`` (``OPENABLE_SUFFIXES`` here); the file dialogs' filters
are built from it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from urllib.parse import unquote, urlparse

from PySide6.QtCore import QBuffer, QIODevice, QMimeData, QUrl
from PySide6.QtGui import QImage

from glmocr_core.documents.formats import IMAGE_SUFFIXES, SUPPORTED_SUFFIXES

OPENABLE_SUFFIXES = SUPPORTED_SUFFIXES
IMAGE_MIME_TYPES = ("image/png", "image/jpeg", "image/webp", "image/bmp", "image/gif", "image/tiff")


def _patterns(suffixes: tuple[str, ...]) -> str:
    return " ".join(f"*{suffix}" for suffix in suffixes)


DOCUMENTS_FILTER = f"Images and PDFs ({_patterns(OPENABLE_SUFFIXES)})"
ALL_FILES_FILTER = "All files (*)"
OPEN_DIALOG_FILTER = ";;".join((DOCUMENTS_FILTER, "PDF documents (*.pdf)", f"Images ({_patterns(IMAGE_SUFFIXES)})",
                                ALL_FILES_FILTER))
LOCATE_DIALOG_FILTER = ";;".join((DOCUMENTS_FILTER, ALL_FILES_FILTER))


@dataclass
class Incoming:
    paths: list[str] = field(default_factory=list)
    image_bytes: bytes | None = None  # encoded (PNG/JPEG/...) data
    remote_urls: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.paths and self.image_bytes is None


def qimage_to_png(image: QImage) -> bytes:
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    return bytes(buffer.data().data())


def _local_paths(urls: list[QUrl]) -> tuple[list[str], list[str]]:
    paths, remote = [], []
    for url in urls:
        if url.isLocalFile():
            paths.append(url.toLocalFile())
        elif url.scheme() in ("http", "https", "ftp"):
            remote.append(url.toString())
    return paths, remote


def _path_from_text(text: str) -> str | None:
    """A pasted "/home/me/scan.png" or "file:///..." line that names an existing file."""
    line = text.strip().splitlines()[0].strip().strip('"') if text.strip() else ""
    if line.startswith("file://"):
        line = unquote(urlparse(line).path)
    return line if line and os.path.isfile(line) else None


def _encoded_image(mime: QMimeData) -> bytes | None:
    for mime_type in IMAGE_MIME_TYPES:  # prefer the original encoding when the source offers it
        if mime.hasFormat(mime_type):
            data = bytes(mime.data(mime_type).data())
            if data:
                return data
    if mime.hasImage():
        image = mime.imageData()
        if isinstance(image, QImage) and not image.isNull():
            return qimage_to_png(image)
    return None


def read_mime(mime: QMimeData | None) -> Incoming:
    incoming = Incoming()
    if mime is None:
        return incoming
    if mime.hasUrls():
        incoming.paths, incoming.remote_urls = _local_paths(mime.urls())
    if not incoming.paths:
        incoming.image_bytes = _encoded_image(mime)
    if incoming.empty and mime.hasText():
        path = _path_from_text(mime.text())
        if path:
            incoming.paths = [path]
    return incoming


def can_accept(mime: QMimeData | None) -> bool:
    """Quick check for drag-enter: worth accepting the drop?"""
    if mime is None:
        return False
    return mime.hasUrls() or mime.hasImage() or any(mime.hasFormat(t) for t in IMAGE_MIME_TYPES)
