"""A document's regions as one converted document: each page's regions (with the user's edits) as the core's
``DocumentBlock``s, formatted into Markdown by the core's formatter (``glmocr_core.convert.markdown``), exactly as
``glmocr-studio convert`` formats what it recognized. The document view shows it and "Export Markdown" writes it,
with the pictures' crops in a folder beside the file, when the document has regions the layout model found.

Excluded regions (abandoned headers, footers ... unless the user switched them on) are not part of it. Pictures are
linked by their crop's file name. Pure Python: crops come from the caller (``PictureCrop``), the window renders them.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from glmocr_core.convert.blocks import PICTURE_TASK, DocumentBlock
from glmocr_core.convert.converter import PICTURE_SUFFIX, PICTURES_SUFFIX
from glmocr_core.convert.markdown import MarkdownPiece, format_markdown, page_pieces

from app.document.atomic import atomic_write_all
from app.document.model import DocumentSession, Region

# The label a hand-drawn region gets: its task's usual layout label, so the formatter treats it the same way.
LABEL_OF_TASK = {"text": "text", "table": "table", "formula": "display_formula", "extract": "text"}
PageSize = Callable[[int], tuple[float, float]]  # 0-based page -> (width, height) in page units
PictureCrop = Callable[[Region], bytes]  # a picture region -> its crop as PNG bytes


def has_layout(session: DocumentSession) -> bool:
    """Whether any region came from the layout model (then Markdown export writes the converted document)."""
    return any(region.label is not None for region in session.regions)


def picture_name(stem: str, region: Region, order: int) -> str:
    """A picture's crop, relative to the Markdown file: ``<stem>_pictures/page-001-03.png`` as the core names it."""
    return f"{stem}{PICTURES_SUFFIX}/page-{region.page + 1:03d}-{order:02d}{PICTURE_SUFFIX}"


@dataclass
class ConvertedPage:
    number: int  # 1-based
    blocks: list[DocumentBlock]
    regions: dict[int, Region]  # block order -> its region

    def pieces(self) -> list[MarkdownPiece]:
        return page_pieces(self.blocks)


def converted_pages(session: DocumentSession, stem: str = "document",
                    page_size: PageSize | None = None) -> list[ConvertedPage]:
    """Every page with included regions, its blocks in reading order (pictures named under ``stem``)."""
    pages: dict[int, ConvertedPage] = {}
    for region in session.reading_order():
        if region.excluded:
            continue
        page = pages.setdefault(region.page, ConvertedPage(region.page + 1, [], {}))
        order = len(page.blocks)
        page.blocks.append(region_block(region, order, stem, page_size))
        page.regions[order] = region
    return [pages[number] for number in sorted(pages)]


def region_block(region: Region, order: int, stem: str, page_size: PageSize | None) -> DocumentBlock:
    picture = region.is_picture
    text = region.display_text if region.display_text.strip() and not picture else None
    return DocumentBlock(label=region.label or LABEL_OF_TASK.get(region.task, "text"),
                         task=PICTURE_TASK if picture else region.task, text=text, order=order, page=region.page + 1,
                         bbox_2d=_thousandths(region, page_size),
                         image_path=picture_name(stem, region, order) if picture else None)


def _thousandths(region: Region, page_size: PageSize | None) -> tuple[int, int, int, int] | None:
    if page_size is None:
        return None
    width, height = page_size(region.page)
    if width <= 0 or height <= 0:
        return None
    x0, y0, x1, y1 = region.box
    return (round(1000 * x0 / width), round(1000 * y0 / height), round(1000 * x1 / width), round(1000 * y1 / height))


def document_markdown(session: DocumentSession, stem: str = "document", page_size: PageSize | None = None) -> str:
    """The whole document as the core's formatter writes it (a page marker comment before each page)."""
    pages = converted_pages(session, stem, page_size)
    return format_markdown([p.blocks for p in pages], page_numbers=[p.number for p in pages])


def render_crop(document, dpi: int) -> PictureCrop:
    """Crops of ``document``'s pages (a ``glmocr_core`` Document) rendered as OCR renders them, as PNG."""
    def crop(region: Region) -> bytes:
        image, scale = document.ocr_image(region.page, dpi=dpi)
        x0, y0, x1, y1 = region.box
        box = (max(0, int(x0 * scale)), max(0, int(y0 * scale)), min(image.width, round(x1 * scale)),
               min(image.height, round(y1 * scale)))
        buffer = io.BytesIO()
        image.crop(box).save(buffer, format="PNG")
        return buffer.getvalue()

    return crop


def export_converted_markdown(session: DocumentSession, path, crop: PictureCrop, page_size: PageSize | None = None,
                              *, overwrite: bool = False) -> list[Path]:
    """Write the Markdown and every picture's crop (``<stem>_pictures/`` beside it), all or nothing."""
    target = Path(path)
    stem = target.stem
    pages = converted_pages(session, stem, page_size)
    text = format_markdown([p.blocks for p in pages], page_numbers=[p.number for p in pages])
    files = [(target, text.encode("utf-8"))]
    for page in pages:
        for block in page.blocks:
            if block.image_path:
                files.append((target.parent / block.image_path, crop(page.regions[block.order])))
    for folder in {file.parent for file, _ in files}:
        folder.mkdir(parents=True, exist_ok=True)
    return atomic_write_all(files, overwrite=overwrite)
