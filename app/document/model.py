"""Plain-Python data model of an open document and its regions.

Qt-free on purpose: the GUI, the exporters and the session files all share it, and tests need no display.
Boxes are stored in *page units* (pixels for images, points for PDFs), the unit ``Document.page_size`` uses.

Regions the layout model found ("Detect layout") also keep what it said of them: ``label`` (doc_title, header,
image ...), ``layout_task`` (the core's text, table, formula, "skip" for a picture, "abandon" for a header, footer or
page number ...) and ``layout_order`` (reading order on the page). Pictures are kept as crops, never recognized;
``excluded`` regions (abandoned ones start so) are shown dimmed, not run and left out of the document. Hand-drawn
regions have none of these, and sessions written before them load as hand-drawn regions.
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from glmocr_core.api import TASKS

QUEUED, RUNNING, DONE, CANCELLED, FAILED = "queued", "running", "done", "cancelled", "failed"
STATES = (QUEUED, RUNNING, DONE, CANCELLED, FAILED)
FINISHED_STATES = (DONE, CANCELLED, FAILED)
# Why a region in CANCELLED stopped early: the user pressed Stop, or the engine went away (crash, unload) under it.
STOPPED_BY_USER, STOPPED_BY_ENGINE = "user", "engine"
IN_PROGRESS_STATES = (QUEUED, RUNNING)
# A region's outcome: what a run gives it and a re-run takes away (an undo of a re-run puts all of it back).
OUTCOME_FIELDS = ("state", "text", "result", "error", "edited_text", "result_box", "stop_cause")
PICTURE_TASK, ABANDONED_TASK = "skip", "abandon"  # the layout's tasks of regions that are not read by default

Box = tuple[float, float, float, float]


def new_region_id() -> str:
    return uuid.uuid4().hex


def normalize_box(box) -> Box:
    """Order the corners so x0 <= x1 and y0 <= y1 (a drag can go in any direction)."""
    x0, y0, x1, y1 = (float(v) for v in box)
    return (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def clip_box(box, page_size: tuple[float, float]) -> Box | None:
    """The part of ``box`` inside the page, or None when nothing with area is left."""
    x0, y0, x1, y1 = normalize_box(box)
    width, height = page_size
    x0, y0 = max(0.0, x0), max(0.0, y0)
    x1, y1 = min(float(width), x1), min(float(height), y1)
    if x1 - x0 < 1.0 or y1 - y0 < 1.0:  # under one page unit: a click, not a selection
        return None
    return (x0, y0, x1, y1)


def result_to_dict(result) -> dict[str, Any]:
    """The JSON-able form of a ``glmocr_core.api.OcrResult`` (TableGrid via its ``to_dict``)."""
    parsed = result.parsed
    if hasattr(parsed, "to_dict"):
        parsed = parsed.to_dict()
    timings = result.timings
    return {
        "task": result.task,
        "text": result.text,
        "parsed": parsed,
        "parse_error": result.parse_error,
        "stop_reason": result.stop_reason,
        "new_tokens": len(result.token_ids),
        "token_ids": list(result.token_ids),  # the exact output: lets a re-run (or a batch) be compared token by token
        "prompt_tokens": result.prompt_tokens,
        "timings": {
            "load_s": timings.load_s,
            "preprocess_s": timings.preprocess_s,
            "first_token_s": timings.first_token_s,
            "decode_s": timings.decode_s,
            "new_tokens": timings.new_tokens,
            "tokens_per_s": timings.tokens_per_s,
        },
    }


@dataclass
class Region:
    """One rectangle on one page, the task to run on it, and what came back."""

    page: int
    box: Box
    task: str = "text"
    id: str = field(default_factory=new_region_id)
    state: str = QUEUED
    text: str = ""  # raw model text: grows while streaming, final text when done
    result: dict[str, Any] | None = None  # result_to_dict(OcrResult) once finished
    error: str | None = None
    edited_text: str | None = None  # the user's edit of the result; wins over ``text`` for export
    order: int | None = None  # user-chosen reading position; None = geometric order
    schema: str | None = None  # JSON template for the "extract" task
    stop_cause: str = ""  # for CANCELLED: STOPPED_BY_USER or STOPPED_BY_ENGINE; "" for older sessions
    result_box: Box | None = None  # the box the outcome was recognized from; None in older sessions
    max_new_tokens: int | None = None  # this region's own token budget (asked for after a cut); None: the task's
    label: str | None = None  # the layout model's label (doc_title, header, image ...); None: drawn by hand
    layout_task: str | None = None  # the layout's task: text, table, formula, skip (a picture) or abandon
    layout_order: int | None = None  # reading order on its page as the layout found it, from 0
    excluded: bool = False  # left out of the document and never run (abandoned regions start so); switchable

    def __post_init__(self):
        self.box = normalize_box(self.box)
        if self.result_box is not None:
            self.result_box = normalize_box(self.result_box)
        if self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}; expected one of {', '.join(TASKS)}")
        if self.state not in STATES:
            raise ValueError(f"unknown region state {self.state!r}")

    @property
    def display_text(self) -> str:
        """What the user sees and exports: their edit if any, else the model's text."""
        return self.edited_text if self.edited_text is not None else self.text

    @property
    def is_picture(self) -> bool:
        """A picture the layout found: kept as a crop, never recognized."""
        return self.layout_task == PICTURE_TASK

    @property
    def is_readable(self) -> bool:
        """Whether recognition runs on it at all (not a picture, not left out)."""
        return not (self.is_picture or self.excluded)

    @property
    def is_finished(self) -> bool:
        return self.state in FINISHED_STATES

    @property
    def has_edits(self) -> bool:
        return self.edited_text is not None

    @property
    def outcome_is_outdated(self) -> bool:
        """Finished on a box the user has moved or resized since: the outcome is the old box's."""
        return self.is_finished and self.result_box is not None and self.result_box != self.box

    def reset_for_run(self) -> None:
        """Forget the previous outcome before the region is queued again (on its box as it is now)."""
        self.state, self.text, self.result, self.error, self.edited_text = QUEUED, "", None, None, None
        self.stop_cause, self.result_box = "", self.box

    def values(self, names) -> dict[str, Any]:
        """Copies of the named fields (an undo step keeps them while the region changes on)."""
        return {name: copy.deepcopy(getattr(self, name)) for name in names}

    def set_values(self, values: dict[str, Any]) -> None:
        for name, value in values.items():
            setattr(self, name, copy.deepcopy(value))
        self.__post_init__()

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["box"] = list(self.box)
        data["result_box"] = list(self.result_box) if self.result_box is not None else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Region":
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}  # tolerate keys from newer versions
        values["box"] = tuple(values["box"])
        if values.get("result_box") is not None:
            values["result_box"] = tuple(values["result_box"])
        return cls(**values)


def _line_sorted(regions: list[Region]) -> list[Region]:
    """Top-to-bottom, then left-to-right within a line.

    Regions whose vertical centre falls inside the current line's band count as the same line, so two boxes side by
    side with slightly different tops still read left before right.
    """
    lines: list[list[Region]] = []
    band_bottom = None
    for region in sorted(regions, key=lambda r: (r.box[1], r.box[0])):
        centre = (region.box[1] + region.box[3]) / 2
        if band_bottom is not None and centre < band_bottom:
            lines[-1].append(region)
            band_bottom = max(band_bottom, region.box[1] + (region.box[3] - region.box[1]) / 2)
        else:
            lines.append([region])
            band_bottom = region.box[3]
    return [r for line in lines for r in sorted(line, key=lambda r: r.box[0])]


def _page_order(regions: list[Region]) -> list[Region]:
    laid_out = sorted((r for r in regions if r.layout_order is not None), key=lambda r: r.layout_order)
    return laid_out + _line_sorted([r for r in regions if r.layout_order is None])


@dataclass
class DocumentSession:
    """An open document (or pasted image) and all regions drawn on it."""

    path: str | None  # None for clipboard / dropped image data that never had a file
    content_hash: str = ""
    kind: str = "image"  # "image" | "pdf"
    page_count: int = 1
    regions: list[Region] = field(default_factory=list)
    default_task: str = "text"
    name: str = ""  # what the window title shows
    pasted_copy: str | None = None  # for pasted/dropped data: the app's own copy of it, written on save
    # The pasted/dropped bytes while they are only in memory (never written into the session JSON itself).
    pasted_data: bytes | None = field(default=None, repr=False, compare=False)

    def region(self, region_id: str) -> Region | None:
        return next((r for r in self.regions if r.id == region_id), None)

    def add_region(self, region: Region, index: int | None = None) -> Region:
        self.regions.insert(len(self.regions) if index is None else index, region)
        return region

    def index_of(self, region_id: str) -> int:
        return next((i for i, r in enumerate(self.regions) if r.id == region_id), -1)

    def remove_region(self, region_id: str) -> Region | None:
        region = self.region(region_id)
        if region is not None:
            self.regions.remove(region)
        return region

    def regions_on_page(self, page: int) -> list[Region]:
        return [r for r in self.regions if r.page == page]

    def reading_order(self) -> list[Region]:
        """Regions as a reader meets them: user order first if set, else page by page: the layout's regions in the
        layout's reading order, then hand-drawn ones top-to-bottom, left-to-right."""
        ordered = sorted((r for r in self.regions if r.order is not None), key=lambda r: r.order)
        rest = [r for r in self.regions if r.order is None]
        by_page = sorted({r.page for r in rest})
        return ordered + [r for page in by_page for r in _page_order([r for r in rest if r.page == page])]

    def set_user_order(self, region_ids: list[str]) -> None:
        """Pin the reading order to ``region_ids`` (regions not listed keep geometric order after them)."""
        for region in self.regions:
            region.order = None
        for position, region_id in enumerate(region_ids):
            region = self.region(region_id)
            if region is not None:
                region.order = position

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "content_hash": self.content_hash,
            "kind": self.kind,
            "page_count": self.page_count,
            "default_task": self.default_task,
            "name": self.name,
            "pasted_copy": self.pasted_copy,
            "regions": [r.to_dict() for r in self.regions],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "DocumentSession":
        return cls(
            path=data.get("path"),
            content_hash=data.get("content_hash", ""),
            kind=data.get("kind", "image"),
            page_count=int(data.get("page_count", 1)),
            default_task=data.get("default_task", "text"),
            name=data.get("name", ""),
            pasted_copy=data.get("pasted_copy"),
            regions=[Region.from_dict(r) for r in data.get("regions", [])],
        )
