"""Whole documents: every page through the layout model, every region through GLM-OCR with its task's prompt, and
the results joined into one Markdown file and one JSON file.

    converter = DocumentConverter(engine, detector, ConvertSettings(dpi=200))
    result = converter.convert("paper.pdf", "out/", progress=print, cancel=threading.Event())

Pages stream one at a time: a page is rendered, laid out, its regions recognized and its record written before the
next page is rendered, so a 300-page PDF never holds more than one page image. A page's regions are decoded as
batches, one per task (text, table, formula), through the engine's ``recognize_batch``; pictures are cropped and
saved, not recognized; abandoned regions (headers, footers, page numbers ...) are dropped unless
``include_abandoned``, then recognized as text.

Outputs in ``out_dir``: ``<name>.md``, ``<name>.json`` and ``<name>_pictures/``, rewritten after every run from the
pages done; ``.glmocr-convert/<name>/`` holds the resume state (``state.ResumeState``). A cancelled run (the
``cancel`` event, or KeyboardInterrupt) keeps the pages it finished, writes the outputs for them, and the next run
with the same settings goes on from there.

Runs in the caller's thread (the window's worker thread, the command line's main thread); it never touches torch
itself (the engine and the detector do), and it never imports Qt.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from ..api import STOP_CANCELLED, OcrResult, RecognizeOptions
from ..documents.document import Document, open_document
from ..documents.pages import DEFAULT_DPI, parse_page_range, validate_region
from ..errors import InputError, UsageError
from .blocks import ABANDONED_TASK, PICTURE_TASK, DocumentBlock, LayoutBlock
from .markdown import format_markdown
from .state import WORK_FOLDER, ResumeState, write_atomic

FORMATS = ("md", "json")
PICTURES_SUFFIX = "_pictures"  # <name>_pictures/ beside <name>.md holds the page's pictures
PICTURE_SUFFIX = ".png"  # lossless: figures are mostly lines and flat colour, which PNG keeps small and exact


@dataclass(frozen=True)
class ConvertSettings:
    dpi: int = DEFAULT_DPI  # PDF pages are rendered at this resolution for the layout and the crops
    include_abandoned: bool = False
    formats: tuple[str, ...] = FORMATS
    options: RecognizeOptions = field(default_factory=RecognizeOptions)
    max_batch: int = 8  # regions of one task decoded together at most (the KV cache grows with the batch)
    tables_as_markdown: bool = True
    resume: bool = True

    def checked(self) -> "ConvertSettings":
        unknown = [f for f in self.formats if f not in FORMATS]
        if unknown or not self.formats:
            raise UsageError(f"unknown output format {', '.join(unknown) or '(none)'}; choose from {', '.join(FORMATS)}")
        if self.max_batch < 1:
            raise UsageError(f"max_batch must be at least 1, got {self.max_batch}")
        return self


@dataclass(frozen=True)
class ConvertEvent:
    """Progress: ``kind`` is "page" (a page starts), "layout" (its regions are known), "region" (one region is
    recognized: ``block``), "page_done", "page_resumed" (taken from an earlier run) or "finished"."""

    kind: str
    source: str
    page: int | None  # 1-based page number
    position: int  # this page's place in the selection, from 1
    pages: int  # pages selected
    regions_done: int = 0
    regions: int = 0
    block: DocumentBlock | None = None


@dataclass
class ConversionResult:
    source: str
    outputs: dict[str, Path]  # format -> file written
    pages: list[int]  # the selection, 1-based
    converted: list[int] = field(default_factory=list)  # recognized in this run
    resumed: list[int] = field(default_factory=list)  # taken from an earlier run
    cancelled: bool = False
    timings: dict = field(default_factory=dict)  # seconds: render_s, layout_s, recognize_s, total_s

    @property
    def complete(self) -> bool:
        return len(self.converted) + len(self.resumed) == len(self.pages)


Progress = Callable[[ConvertEvent], None]
Renderer = Callable[[Document, int, int], tuple]  # (document, page index, dpi) -> (RGB image, scale)


def render_for_ocr(document: Document, index: int, dpi: int):
    return document.ocr_image(index, dpi=dpi)


def detect_page(detector, image, *, include_abandoned: bool = False) -> list[LayoutBlock]:
    """A page image's regions in reading order (label, task, score, bbox in the image's pixels, order, bbox_2d):
    the window's "Detect layout". Abandoned ones (task "abandon") only with ``include_abandoned``."""
    return detector.detect(image, keep_abandoned=include_abandoned)


class DocumentConverter:
    """``engine``: an ``api.OcrEngine``; ``detector``: a ``layout.detector.LayoutDetector``. ``renderer`` renders
    a page for OCR (the command line renders on a helper thread so Ctrl-C is never stuck in MuPDF)."""

    def __init__(self, engine, detector, settings: ConvertSettings | None = None, renderer: Renderer | None = None):
        self.engine, self.detector = engine, detector
        self.settings = (settings or ConvertSettings()).checked()
        self.renderer = renderer or render_for_ocr

    def convert(self, source: str | os.PathLike | Document, out_dir: str | os.PathLike, *,
                pages: str | Sequence[int] | None = None, name: str | None = None, progress: Progress | None = None,
                cancel: threading.Event | None = None) -> ConversionResult:
        """``source``: a file path or an open Document (not closed here). ``pages``: a 1-based range text ("1-3,5")
        or 0-based page indices; None = all. ``name``: the outputs' file name without suffix (default: the
        input's)."""
        document, owned = (source, False) if isinstance(source, Document) else (open_document(source), True)
        try:
            run = _Run(self, document, Path(out_dir), name or Path(document.name).stem, progress, cancel)
            return run.execute(_selection(pages, document))
        finally:
            if owned:
                document.close()

    def resume_settings(self) -> dict:
        """What changes recognition results (a run with other values starts over): JSON-ready."""
        info = getattr(self.engine, "info", None)
        detector = self.detector
        return {"dpi": self.settings.dpi, "include_abandoned": self.settings.include_abandoned,
                "recognize": asdict(self.settings.options),
                "engine": {key: getattr(info, key, None) for key in ("model_dir", "device", "dtype", "precision")},
                "layout": {"model": getattr(detector, "source", None), "fast": getattr(detector, "fast", False),
                           "rules": asdict(detector.rules) if dataclasses.is_dataclass(detector.rules) else None}}


def _selection(pages, document: Document) -> list[int]:
    if pages is None or isinstance(pages, str):
        return parse_page_range(pages, document.page_count, document.source)
    indices = sorted(set(int(p) for p in pages))
    if not indices or indices[0] < 0 or indices[-1] >= document.page_count:
        raise InputError(f"pages {list(pages)} are not in the document's 1..{document.page_count}", document.source)
    return indices


class _Run:
    """One call of ``convert``: the document, its output names and what has been done."""

    def __init__(self, converter: DocumentConverter, document: Document, out_dir: Path, name: str,
                 progress: Progress | None, cancel: threading.Event | None):
        self.converter, self.settings, self.document = converter, converter.settings, document
        self.out_dir, self.name = out_dir, name
        self.progress = progress or (lambda event: None)
        self.cancel = cancel or threading.Event()
        self.records: dict[int, dict] = {}
        self.timings = {"render_s": 0.0, "layout_s": 0.0, "recognize_s": 0.0, "total_s": 0.0}

    @property
    def pictures_folder(self) -> str:
        return f"{self.name}{PICTURES_SUFFIX}"

    def execute(self, selection: list[int]) -> ConversionResult:
        started = time.perf_counter()
        _make_folder(self.out_dir)
        state = ResumeState.open(self.out_dir / WORK_FOLDER / self.name, self.document.content_hash(),
                                 self.converter.resume_settings(), self.settings.resume)
        numbers = [index + 1 for index in selection]
        result = ConversionResult(self.document.source, {}, numbers)
        self.records = {n: record for n in numbers if (record := state.page(n)) is not None}
        try:
            for position, index in enumerate(selection, start=1):
                if not self._page(state, index, position, len(selection), result):
                    break
        finally:
            result.cancelled = not result.complete
            self.timings["total_s"] = time.perf_counter() - started
            result.timings = dict(self.timings)
            result.outputs = self._write_outputs(numbers, result.complete)
        self._emit("finished", None, len(selection), len(selection))
        return result

    def _page(self, state: ResumeState, index: int, position: int, count: int, result: ConversionResult) -> bool:
        number = index + 1
        if number in self.records:  # done by an earlier run
            result.resumed.append(number)
            self._emit("page_resumed", number, position, count)
            return True
        if self.cancel.is_set():
            return False
        record = self._convert_page(index, position, count)
        if record is None:
            return False
        state.finish_page(number, record)
        self.records[number] = record
        result.converted.append(number)
        self._emit("page_done", number, position, count, regions=len(record["regions"]),
                   regions_done=len(record["regions"]))
        return True

    def _emit(self, kind: str, page: int | None, position: int, count: int, **extra) -> None:
        self.progress(ConvertEvent(kind, self.document.source, page, position, count, **extra))

    # ---- one page -------------------------------------------------------------------------------------------

    def _convert_page(self, index: int, position: int, count: int) -> dict | None:
        """The page's record, or None when the run was cancelled before the page was complete."""
        number = index + 1
        self._emit("page", number, position, count)
        clock = time.perf_counter()
        image, scale = self.converter.renderer(self.document, index, self.settings.dpi)
        rendered = time.perf_counter()
        regions = detect_page(self.converter.detector, image, include_abandoned=self.settings.include_abandoned)
        laid_out = time.perf_counter()
        blocks = [DocumentBlock.from_layout(region, number) for region in regions]
        self._emit("layout", number, position, count, regions=len(blocks))
        self._save_pictures(image, regions, blocks)
        tracker = _RegionTracker(self, number, position, count, len(blocks))
        for block in blocks:
            if block.picture:
                tracker.done(block)
        complete = self._recognize(image, regions, blocks, tracker)
        finished = time.perf_counter()
        times = {"render_s": rendered - clock, "layout_s": laid_out - rendered, "recognize_s": finished - laid_out}
        for key, value in times.items():
            self.timings[key] += value
        if not complete:
            return None
        return {"page": number, "width": image.width, "height": image.height, "scale": scale, "timings": times,
                "regions": [block.to_dict() for block in blocks]}

    def _save_pictures(self, image, regions: list[LayoutBlock], blocks: list[DocumentBlock]) -> None:
        for region, block in zip(regions, blocks):
            if not block.picture:
                continue
            box = region.crop_box(image.width, image.height)
            if box[2] <= box[0] or box[3] <= box[1]:
                block.error = "the picture's box is empty at this resolution"
                continue
            relative = f"{self.pictures_folder}/page-{block.page:03d}-{block.order:02d}{PICTURE_SUFFIX}"
            _save_png(image.crop(box), self.out_dir / relative)
            block.image_path = relative

    def _recognize(self, image, regions: list[LayoutBlock], blocks: list[DocumentBlock],
                   tracker: "_RegionTracker") -> bool:
        """Fills in the blocks' texts, a batch per task; False when cancelled before every region ended."""
        for task, members in _by_task(blocks).items():
            for start in range(0, len(members), self.settings.max_batch):
                chunk = members[start:start + self.settings.max_batch]
                if not self._recognize_chunk(image, task, [regions[i] for i in chunk], [blocks[i] for i in chunk],
                                             tracker):
                    return False
        return not self.cancel.is_set()

    def _recognize_chunk(self, image, task: str, regions: list[LayoutBlock], blocks: list[DocumentBlock],
                         tracker: "_RegionTracker") -> bool:
        boxes, targets = [], []
        for region, block in zip(regions, blocks):
            try:
                boxes.append(validate_region(region.crop_box(image.width, image.height), image.size))
                targets.append(block)
            except InputError as exc:  # too thin for the model, or empty at this resolution: the page goes on
                block.error = exc.reason
                tracker.done(block)
        if not boxes:
            return True
        if self.cancel.is_set():
            return False
        for entry in self.converter.engine.recognize_batch(image, boxes, task, self.settings.options, self.cancel):
            if isinstance(entry.item, OcrResult):
                _fill(targets[entry.index], entry.item)
                tracker.done(targets[entry.index])
        return all(block.stop_reason != STOP_CANCELLED for block in targets)

    # ---- outputs --------------------------------------------------------------------------------------------

    def _write_outputs(self, numbers: list[int], complete: bool) -> dict[str, Path]:
        done = [n for n in numbers if n in self.records]
        pages = [[DocumentBlock.from_dict(b) for b in self.records[n]["regions"]] for n in done]
        outputs = {}
        if "md" in self.settings.formats:
            text = format_markdown(pages, page_numbers=done, include_abandoned=self.settings.include_abandoned,
                                   tables_as_markdown=self.settings.tables_as_markdown)
            outputs["md"] = self.out_dir / f"{self.name}.md"
            write_atomic(outputs["md"], text)
        if "json" in self.settings.formats:
            outputs["json"] = self.out_dir / f"{self.name}.json"
            write_atomic(outputs["json"], json.dumps(self._document_record(numbers, done, complete),
                                                     ensure_ascii=False, indent=1))
        return outputs

    def _document_record(self, numbers: list[int], done: list[int], complete: bool) -> dict:
        return {"source": self.document.source, "name": self.document.name,
                "content_hash": self.document.content_hash(), "page_count": self.document.page_count,
                "pages_selected": numbers, "pages_converted": done, "complete": complete,
                "settings": self.converter.resume_settings(), "pages": [self.records[n] for n in done]}


class _RegionTracker:
    """Counts a page's finished regions for the "region" events."""

    def __init__(self, run: _Run, page: int, position: int, count: int, total: int):
        self.run, self.page, self.position, self.count, self.total = run, page, position, count, total
        self.finished = 0

    def done(self, block: DocumentBlock) -> None:
        self.finished += 1
        self.run._emit("region", self.page, self.position, self.count, regions_done=self.finished,
                       regions=self.total, block=block)


def recognition_task(block: DocumentBlock) -> str | None:
    """The prompt a block is read with (None: not read at all): abandoned blocks, when kept, read as text."""
    if block.task == PICTURE_TASK:
        return None
    return "text" if block.task == ABANDONED_TASK else block.task


def _by_task(blocks: list[DocumentBlock]) -> dict[str, list[int]]:
    """Block indices per recognition task, each list in reading order."""
    groups: dict[str, list[int]] = {}
    for index, block in enumerate(blocks):
        task = recognition_task(block)
        if task is not None:
            groups.setdefault(task, []).append(index)
    return groups


def _fill(block: DocumentBlock, result: OcrResult) -> None:
    parsed = result.parsed
    block.text = result.text
    block.parsed = parsed.to_dict() if hasattr(parsed, "to_dict") else parsed
    block.parse_error, block.stop_reason = result.parse_error, result.stop_reason
    block.timings = asdict(result.timings)


def _save_png(picture, path: Path) -> None:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    write_atomic(path, buffer.getvalue())


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the output folder ({exc.strerror or exc})", str(folder)) from None
    if not folder.is_dir():
        raise InputError("the output folder is not a folder", str(folder))
