"""The plain data of a converted document: a page's blocks as the layout found them and as recognition filled them
in. No torch, no Qt: the window builds these from its own (possibly edited) regions and formats them itself.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ..layout.postprocess import LayoutRegion

# A region as the layout pass hands it out: label, task, score, bbox (page pixels), order, bbox_2d (0..1000).
LayoutBlock = LayoutRegion

PICTURE_TASK = "skip"  # the layout's task for pictures: cropped and kept, not recognized
ABANDONED_TASK = "abandon"  # headers, footers, page numbers ...: left out unless asked for


@dataclass
class DocumentBlock:
    """One block of a converted page. Only ``task`` and ``text`` matter to the Markdown formatter, with ``label``
    (titles, formula numbers), ``order``, ``bbox_2d`` (list alignment) and ``image_path`` (pictures)."""

    label: str = "text"
    task: str = "text"  # text | table | formula | skip (a picture) | abandon (recognized as text on request)
    text: str | None = None  # the model's output; None when not recognized (a picture, a region that failed)
    order: int = 0  # reading order on its page, from 0
    page: int = 1  # 1-based
    score: float | None = None
    bbox: tuple[int, int, int, int] | None = None  # x0, y0, x1, y1 in the pixels of the page image
    bbox_2d: tuple[int, int, int, int] | None = None  # the same box in thousandths of the page
    image_path: str | None = None  # a picture's saved crop, relative to the Markdown file (POSIX separators)
    parsed: Any = None  # JSON-ready parsed output: a formula's LaTeX, a table grid as a dict
    parse_error: str | None = None
    stop_reason: str | None = None
    error: str | None = None  # why the region has no text (e.g. too thin for the model)
    timings: dict = field(default_factory=dict)

    @property
    def abandoned(self) -> bool:
        return self.task == ABANDONED_TASK

    @property
    def picture(self) -> bool:
        return self.task == PICTURE_TASK

    def to_dict(self) -> dict:
        data = asdict(self)
        data["bbox"] = list(self.bbox) if self.bbox is not None else None
        data["bbox_2d"] = list(self.bbox_2d) if self.bbox_2d is not None else None
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "DocumentBlock":
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for key in ("bbox", "bbox_2d"):
            if values.get(key) is not None:
                values[key] = tuple(int(v) for v in values[key])
        return cls(**values)

    @classmethod
    def from_layout(cls, region: LayoutRegion, page: int) -> "DocumentBlock":
        return cls(label=region.label, task=region.task, order=region.order, page=page, score=region.score,
                   bbox=tuple(region.bbox), bbox_2d=tuple(region.bbox_2d))
