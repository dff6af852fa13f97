"""Opening user documents (image files, PDFs, pasted images) as pages of RGB pictures.

Everything a user can point the app at goes through ``open_document`` / ``document_from_image`` /
``document_from_bytes`` and comes back as a ``Document``:

* ``kind`` is ``"image"`` or ``"pdf"``; ``page_count`` pages, indexed from 0.
* ``page_size(i)`` is in *page units*: pixels for images, PDF points (1/72 inch) for PDFs.
* ``render(i, scale)`` gives an RGB picture of ``page_size * scale`` (thumbnails, the page view).
* ``ocr_image(i, dpi)`` gives the picture OCR runs on and its scale (page units -> its pixels).
  PDFs render at ``dpi`` with the long side capped at 3500 px, as the official GLM-OCR SDK does.
  Images come back at full resolution (scale 1.0), so results match the reference processor, which
  receives the decoded image as is.

Bad input raises ``InputError(reason, path)`` at open time: a corrupt or truncated image is fully decoded
while opening, so it cannot fail later in the middle of a batch.

Threading: a Document may be used from several threads at once, e.g. the GUI rendering thumbnails in a
background thread while the OCR worker renders a page of the same document. PyMuPDF keeps all documents
in one global MuPDF context that is not thread-safe, so every MuPDF call (open, page size, render, close)
holds one process-wide lock; PDF pages therefore render one at a time across the whole process. Image
documents guard their own decoder and page cache with a per-document lock and run in parallel.
Returned images are fresh copies that the caller may modify.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pymupdf
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import InputError
from ..processing.images import to_rgb
from .formats import looks_like_pdf
from .pages import DEFAULT_DPI
from .render_process import ChildUnavailable, RenderProcess, RenderStopped  # noqa: F401 - RenderStopped re-exported

# The official SDK caps the long side of a rendered PDF page at 3500 px (glmocr/utils/image_utils.py).
MAX_OCR_LONG_SIDE = 3500
# Largest picture we agree to decode or render: 200 megapixels is 600 MB as RGB. Anything bigger is far
# beyond what the model can use (it sees at most ~4.8 MP) and is treated as a decompression bomb.
MAX_IMAGE_PIXELS = 200_000_000
PDF_POINTS_PER_INCH = 72.0

# Pillow's own bomb guard warns above MAX_IMAGE_PIXELS and refuses above twice that. Line it up with our
# cap so images between Pillow's default (89 MP) and ours open without a warning; we check the cap
# ourselves (with a readable message) before decoding. Only ever raised, never lowered or disabled.
if Image.MAX_IMAGE_PIXELS is not None and Image.MAX_IMAGE_PIXELS < MAX_IMAGE_PIXELS:
    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS

# Only TIFF pages are pages; other multi-frame formats (GIF, APNG, WebP, MPO) are animations or
# stereo pairs, of which the first frame is the picture.
_MULTI_PAGE_FORMATS = {"TIFF"}
_DECODED_PAGE_CACHE = 4
# Documents are read whole: none may be larger than this (a 300-page scan is a few hundred MB).
MAX_FILE_BYTES = 1 << 30
# Files larger than this must start with a PDF or image signature before the rest is read.
_SNIFF_ABOVE_BYTES = 64 << 20
_SNIFF_BYTES = 1024
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*",
                b"RIFF", b"\x00\x00\x00\x0cjP  ")
# PyMuPDF runs every document in one global MuPDF context, which is not thread-safe even across
# different documents; all MuPDF calls in this module hold this one lock.
_MUPDF_LOCK = threading.RLock()
# MuPDF prints the faults it meets in a damaged PDF on stdout, which would corrupt the command line's JSON lines;
# its errors reach us as exceptions anyway (and become InputErrors).
pymupdf.TOOLS.mupdf_display_errors(False)
pymupdf.TOOLS.mupdf_display_warnings(False)


# ---------------------------------------------------------------------------------------------
# Documents
# ---------------------------------------------------------------------------------------------


class Document:
    """Pages of a user document. Subclasses: ImageDocument, PdfDocument. Usable as a context manager."""

    source: str  # file path, or a display name for pasted data
    name: str  # short display name (file name)
    kind: str  # "image" or "pdf"
    page_count: int

    def __init__(self, source: str, kind: str, page_count: int):
        self.source = source
        self.name = os.path.basename(source) or source
        self.kind = kind
        self.page_count = page_count
        self._lock = threading.RLock()
        self._hash: str | None = None
        self._closed = False

    def page_size(self, index: int) -> tuple[float, float]:
        """(width, height) in page units: pixels for images, points for PDFs."""
        raise NotImplementedError

    def render(self, index: int, scale: float = 1.0, *, cancel: threading.Event | None = None) -> Image.Image:
        """An RGB picture of page ``index`` at ``page_size * scale`` pixels (a fresh copy each call). A PDF page
        render stops with ``RenderStopped`` when ``cancel`` is set or the page passes its time limit."""
        raise NotImplementedError

    def ocr_image(self, index: int, dpi: int = DEFAULT_DPI, *,
                  cancel: threading.Event | None = None) -> tuple[Image.Image, float]:
        """The RGB picture OCR runs on and its scale (page units -> its pixels)."""
        raise NotImplementedError

    def content_hash(self) -> str:
        """Hex sha256 identifying the content (file bytes, or pixels of an in-memory image)."""
        with self._lock:
            if self._hash is None:
                self._hash = self._compute_hash()
            return self._hash

    def close(self) -> None:
        """Release the file and decoded pages. The Document cannot render afterwards."""

    def _compute_hash(self) -> str:
        raise NotImplementedError

    def _check_index(self, index: int) -> int:
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise InputError(f"page index {index!r} is not a whole number", self.source)
        if not 0 <= index < self.page_count:
            noun = "page" if self.page_count == 1 else "pages"
            raise InputError(
                f"page {int(index) + 1} does not exist; the document has {self.page_count} {noun}", self.source
            )
        return int(index)

    def __enter__(self) -> Document:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.kind} {self.source!r}, {self.page_count} page(s)>"


# ------------------------------------- images ------------------------------------------------


class ImageDocument(Document):
    """An image file or in-memory image. Multi-page TIFFs have one page per frame.

    The encoded bytes are kept (for re-decoding and hashing); decoded RGB pages live in a small cache.
    The first page is decoded while opening, so a corrupt image is reported at open time; the other frames of a
    multi-page TIFF are only measured then (their headers) and decoded when they are used, so opening a 30-page
    scan for its first page does not decode 30 pages.
    """

    def __init__(self, source: str, data: bytes | None, image: Image.Image | None, max_pixels: int):
        self._data = data
        self._max_pixels = max_pixels
        self._pages: OrderedDict[int, Image.Image] = OrderedDict()
        if image is not None:  # one page that cannot be decoded again: the cache holds it for good
            super().__init__(source, "image", 1)
            self._pages[0] = _checked_rgb(image, source, max_pixels)
            self._sizes = [self._pages[0].size]
            return
        self._sizes = _frame_sizes(data, source, max_pixels)
        super().__init__(source, "image", len(self._sizes))
        self._sizes[0] = self._decode(0).size  # EXIF orientation may swap width and height

    def page_size(self, index: int) -> tuple[float, float]:
        width, height = self._sizes[self._check_index(index)]
        return float(width), float(height)

    def render(self, index: int, scale: float = 1.0, *, cancel: threading.Event | None = None) -> Image.Image:
        page = self._page(self._check_index(index))
        _check_scale(scale, self.source)
        if scale == 1.0:
            return page.copy()
        size = (max(1, round(page.width * scale)), max(1, round(page.height * scale)))
        _check_pixel_count(size, self._max_pixels, self.source)
        return page.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)

    def ocr_image(self, index: int, dpi: int = DEFAULT_DPI, *,
                  cancel: threading.Event | None = None) -> tuple[Image.Image, float]:
        """The page at full resolution: ``dpi`` does not apply to pixels, and the reference takes them as is."""
        return self._page(self._check_index(index)).copy(), 1.0

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._pages.clear()

    def _page(self, index: int) -> Image.Image:
        with self._lock:
            if self._closed:
                raise InputError("the document is closed", self.source)
            if index in self._pages:
                self._pages.move_to_end(index)
                return self._pages[index]
            return self._decode(index)

    def _decode(self, index: int) -> Image.Image:
        """Decode one frame, apply its EXIF orientation, convert to RGB, and cache it."""
        with self._lock:
            page = _decode_frame(self._data, index, self.source, self._max_pixels)
            self._sizes[index] = page.size
            self._pages[index] = page
            while len(self._pages) > _DECODED_PAGE_CACHE:
                self._pages.popitem(last=False)
            return page

    def _compute_hash(self) -> str:
        if self._data is not None:
            return hashlib.sha256(self._data).hexdigest()
        return _pixel_hash(self._page(0))


def _frame_sizes(data: bytes, source: str, max_pixels: int) -> list[tuple[int, int]]:
    """The pixel size of every page, from the frame headers alone (each checked against the pixel limit)."""
    with _open_pillow(data, source, max_pixels) as image:
        if image.format not in _MULTI_PAGE_FORMATS:
            return [image.size]
        return [_frame_size(image, index, source, max_pixels) for index in range(_frame_count(image, source))]


def _frame_count(image: Image.Image, source: str) -> int:
    try:  # counting TIFF frames walks every frame header, where damage shows as any kind of exception
        return max(1, getattr(image, "n_frames", 1))
    except Exception as exc:
        raise InputError(f"the image's page list is truncated or corrupt ({_describe(exc)})", source) from None


def _frame_size(image: Image.Image, index: int, source: str, max_pixels: int) -> tuple[int, int]:
    try:
        image.seek(index)
    except Exception as exc:
        raise InputError(f"page {index + 1} of the image is truncated or corrupt ({_describe(exc)})", source) from None
    _check_pixel_count(image.size, max_pixels, source)
    return _oriented_size(image)


def _oriented_size(image: Image.Image) -> tuple[int, int]:
    """The size after the EXIF orientation is applied (orientations 5-8 turn the picture by 90 degrees)."""
    try:
        turned = image.getexif().get(0x0112, 1) in (5, 6, 7, 8)
    except Exception:
        turned = False
    return (image.height, image.width) if turned else image.size


def _decode_frame(data: bytes, index: int, source: str, max_pixels: int) -> Image.Image:
    with _open_pillow(data, source, max_pixels) as image:
        try:
            image.seek(index)
            _check_pixel_count(image.size, max_pixels, source)
            image.load()  # full decode: truncation and corruption surface here, not later
        except (InputError, Image.DecompressionBombError) as exc:
            raise InputError(getattr(exc, "reason", None) or f"the image is too large ({exc})", source) from None
        except Exception as exc:  # Pillow reports bad data as OSError, SyntaxError, ValueError, EOFError, ...
            raise InputError(f"the image data is truncated or corrupt ({_describe(exc)})", source) from None
        return _to_rgb_for(_apply_exif_orientation(image), source)


def _apply_exif_orientation(image: Image.Image) -> Image.Image:
    """Rotate/flip as the EXIF orientation tag says. A malformed EXIF block is ignored rather than
    rejecting a picture whose pixels are fine."""
    try:
        return ImageOps.exif_transpose(image)
    except Exception:
        return image


def _open_pillow(data: bytes, source: str, max_pixels: int) -> Image.Image:
    """Image.open with every failure turned into InputError; reads only the header."""
    try:
        image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise InputError(f"the image is too large to open safely ({exc})", source) from None
    except UnidentifiedImageError:
        raise InputError("not an image or PDF this app can read (unknown or unsupported format)", source) from None
    except Exception as exc:
        raise InputError(f"the image data is truncated or corrupt ({_describe(exc)})", source) from None
    _check_pixel_count(image.size, max_pixels, source)
    return image


def _checked_rgb(image: Image.Image, source: str, max_pixels: int) -> Image.Image:
    """An in-memory image (clipboard, drop) as a private RGB copy, after the same checks as a file."""
    if not isinstance(image, Image.Image):
        raise InputError(f"expected a PIL image, got {type(image).__name__}", source)
    _check_pixel_count(image.size, max_pixels, source)
    try:
        image.load()
    except Exception as exc:
        raise InputError(f"the image data is truncated or corrupt ({_describe(exc)})", source) from None
    rgb = _to_rgb_for(_apply_exif_orientation(image), source)
    return rgb.copy() if rgb is image else rgb  # the caller may keep editing its own image


def _to_rgb_for(image: Image.Image, source: str) -> Image.Image:
    """``to_rgb`` with the document's path on any error."""
    try:
        return to_rgb(image)
    except InputError as exc:
        raise InputError(exc.reason, source) from None


def _check_pixel_count(size: tuple[int, int], max_pixels: int, source: str) -> None:
    width, height = size
    if width < 1 or height < 1:
        raise InputError(f"the image is empty ({width}×{height} px)", source)
    if width * height > max_pixels:
        raise InputError(
            f"the image is {width}×{height} px ({width * height / 1e6:.0f} megapixels), more than the "
            f"{max_pixels / 1e6:g} megapixel limit; this looks like a decompression bomb",
            source,
        )


def _pixel_hash(image: Image.Image) -> str:
    digest = hashlib.sha256(f"{image.mode} {image.width}x{image.height}\n".encode())
    digest.update(image.tobytes())
    return digest.hexdigest()


# ------------------------------------- PDFs --------------------------------------------------


class PdfDocument(Document):
    """A PDF rendered with MuPDF. All MuPDF calls hold the process-wide MuPDF lock (see _MUPDF_LOCK)."""

    def __init__(self, source: str, data: bytes, max_pixels: int, isolate_rendering: bool = True):
        self._data = data
        self._max_pixels = max_pixels
        self._pdf = _open_pdf(data, source)
        super().__init__(source, "pdf", self._pdf.page_count)
        self._lock = _MUPDF_LOCK
        self._sizes: dict[int, tuple[float, float]] = {}
        self._renderer: RenderProcess | None = RenderProcess(data, source) if isolate_rendering else None

    def page_size(self, index: int) -> tuple[float, float]:
        index = self._check_index(index)
        with self._lock:
            if index not in self._sizes:
                rect = self._load_page(index).rect  # rotation already applied
                if not (rect.width > 0 and rect.height > 0):
                    raise InputError(f"page {index + 1} has no area ({rect.width:g}×{rect.height:g} pt)", self.source)
                self._sizes[index] = (float(rect.width), float(rect.height))
            return self._sizes[index]

    def render(self, index: int, scale: float = 1.0, *, cancel: threading.Event | None = None) -> Image.Image:
        index = self._check_index(index)
        _check_scale(scale, self.source)
        width, height = self.page_size(index)
        _check_pixel_count((max(1, round(width * scale)), max(1, round(height * scale))), self._max_pixels, self.source)
        return self._render_pixels(index, scale, cancel)

    def ocr_image(self, index: int, dpi: int = DEFAULT_DPI, *,
                  cancel: threading.Event | None = None) -> tuple[Image.Image, float]:
        """Render at ``dpi``; if the long side would pass 3500 px, lower the scale to fit (official SDK rule)."""
        index = self._check_index(index)
        if not (isinstance(dpi, (int, float)) and math.isfinite(dpi) and dpi > 0):
            raise InputError(f"DPI must be a positive number, got {dpi!r}", self.source)
        scale = pdf_ocr_scale(self.page_size(index), dpi)
        image = self.render(index, scale, cancel=cancel)
        if max(image.size) > MAX_OCR_LONG_SIDE:  # a page box off the pixel grid can round up by one pixel
            scale *= MAX_OCR_LONG_SIDE / max(image.size)
            image = self.render(index, scale, cancel=cancel)
        return image, scale

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
        with self._lock:
            if not self._pdf.is_closed:
                self._pdf.close()

    def _render_pixels(self, index: int, scale: float, cancel: threading.Event | None) -> Image.Image:
        if self._pdf.is_closed:
            raise InputError("the document is closed", self.source)
        if self._renderer is not None:
            try:
                return self._renderer.render(index, scale, cancel=cancel)
            except ChildUnavailable:
                self._renderer = None  # this system starts no child processes: render here from now on
        return self._render_here(index, scale)

    def _render_here(self, index: int, scale: float) -> Image.Image:
        with self._lock:
            page = self._load_page(index)
            try:
                pixmap = page.get_pixmap(matrix=pymupdf.Matrix(scale, scale), colorspace=pymupdf.csRGB, alpha=False)
            except Exception as exc:
                raise InputError(f"page {index + 1} could not be rendered ({_describe(exc)})", self.source) from None
            return Image.frombytes("RGB", (pixmap.width, pixmap.height), pixmap.samples)

    def _load_page(self, index: int) -> pymupdf.Page:
        if self._pdf.is_closed:
            raise InputError("the document is closed", self.source)
        try:
            return self._pdf.load_page(index)
        except Exception as exc:
            raise InputError(f"page {index + 1} is damaged ({_describe(exc)})", self.source) from None

    def _compute_hash(self) -> str:
        return hashlib.sha256(self._data).hexdigest()


def pdf_ocr_scale(page_size: tuple[float, float], dpi: float, max_long_side: int = MAX_OCR_LONG_SIDE) -> float:
    """Points -> pixels scale for OCR: ``dpi / 72``, lowered so the long side stays within ``max_long_side``."""
    scale = dpi / PDF_POINTS_PER_INCH
    long_side = max(page_size)
    if long_side * scale > max_long_side:
        scale = max_long_side / long_side
    return scale


def _open_pdf(data: bytes, source: str) -> pymupdf.Document:
    with _MUPDF_LOCK:
        try:
            pdf = pymupdf.open(stream=data, filetype="pdf")
        except Exception as exc:
            raise InputError(f"the PDF is damaged and cannot be opened ({_describe(exc)})", source) from None
        problem = _pdf_problem(pdf)
        if problem:
            pdf.close()
            raise InputError(problem, source)
        return pdf


def _pdf_problem(pdf: pymupdf.Document) -> str | None:
    if pdf.needs_pass:
        return "the PDF is password-protected; remove the password and try again"
    if pdf.page_count < 1:
        return "the PDF has no pages"
    return None


# ------------------------------------- entry points ------------------------------------------


def open_document(path: str | os.PathLike, *, max_pixels: int = MAX_IMAGE_PIXELS) -> Document:
    """Open an image file or a PDF. Raises InputError with the path and a readable reason."""
    source = str(path)
    data = _read_file(Path(path), source)
    return _document_from_data(data, source, max_pixels)


def document_from_bytes(data: bytes, name: str = "Dropped file", *, max_pixels: int = MAX_IMAGE_PIXELS) -> Document:
    """A Document from encoded bytes (a PNG dragged from a browser, a PDF from the clipboard)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InputError(f"expected bytes, got {type(data).__name__}", name)
    data = bytes(data)
    if not data:
        raise InputError("the data is empty (0 bytes)", name)
    return _document_from_data(data, name, max_pixels)


def document_from_image(
    image: Image.Image, name: str = "Pasted image", *, max_pixels: int = MAX_IMAGE_PIXELS
) -> Document:
    """A one-page Document from a PIL image (clipboard, dropped image data). The image is copied."""
    return ImageDocument(name, None, image, max_pixels)


def _document_from_data(data: bytes, source: str, max_pixels: int) -> Document:
    if looks_like_pdf(data):
        return PdfDocument(source, data, max_pixels)
    if source.lower().endswith(".pdf"):
        raise InputError("the file is named .pdf but is not a PDF (no %PDF header)", source)
    return ImageDocument(source, data, None, max_pixels)


def _read_file(path: Path, source: str) -> bytes:
    _check_regular_file(path, source)
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            _check_file_size(size, handle.read(_SNIFF_BYTES), source)
            handle.seek(0)
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise InputError(f"cannot read the file ({exc.strerror or exc})", source) from None
    if not data:
        raise InputError("the file is empty (0 bytes)", source)
    _check_file_size(len(data), data[:_SNIFF_BYTES], source)  # it may have grown since
    return data


def _check_regular_file(path: Path, source: str) -> None:
    if not path.exists():
        broken_link = os.path.lexists(path) and path.is_symlink()
        raise InputError("a symbolic link that leads nowhere (or in a loop)" if broken_link else "no such file",
                         source)
    if path.is_dir():
        raise InputError("this is a folder, not a file", source)
    if not path.is_file():  # a device or pipe could block reading forever
        raise InputError("not a regular file", source)


def _check_file_size(size: int, head: bytes, source: str) -> None:
    """Whole files are read into memory, so their size is bounded first; a large file must also start like a
    format this app reads before any more of it is read."""
    if size > MAX_FILE_BYTES:
        raise InputError(f"the file is {size / 2**30:.1f} GiB, more than the {MAX_FILE_BYTES // 2**30} GiB this app "
                         "opens; split it or export the pages you need", source)
    if size > _SNIFF_ABOVE_BYTES and not (looks_like_pdf(head) or head.startswith(_IMAGE_MAGIC)):
        raise InputError("not an image or PDF this app can read (unknown or unsupported format)", source)


def _check_scale(scale: float, source: str) -> None:
    if not (isinstance(scale, (int, float)) and math.isfinite(scale) and scale > 0):
        raise InputError(f"render scale must be a positive number, got {scale!r}", source)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
