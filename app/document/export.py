"""Export a document's results: Markdown or plain text for the whole document, CSV per table, JSON with everything.

Pure Python (no Qt), built on ``app.document.model.DocumentSession``. Regions go in reading order (the user's order when
they set one). User edits win over model text everywhere. A result that is not the model's whole answer (stopped,
interrupted, cut by the repetition guard or the token budget, still running) or a region that failed says so in
every format: a marked line before it in Markdown and text, ``-partial`` in a table's CSV file name, ``complete`` and
``caveat`` in JSON. Documents of several pages get a heading per page. Files are written atomically and never replace
an existing file unless ``overwrite=True`` (the UI asks first); a failed write raises ``app.atomic.WriteError`` and
changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from glmocr_core.api import STOP_CANCELLED, STOP_MAX_TOKENS, STOP_REPETITION

from app.document.atomic import atomic_write_all, atomic_write_text
from app.document.model import (CANCELLED, DONE, FAILED, IN_PROGRESS_STATES, STOPPED_BY_ENGINE, DocumentSession,
                                Region)
from app.document.content import copy_choices, extract_data, formula_latex, region_markdown, table_grid

EXPORT_FORMAT = "glmocr-studio-export"
EXPORT_VERSION = 1
PARTIAL_CSV_SUFFIX = "-partial"


# --- what is not the model's whole answer ---------------------------------------------------------------------

def _tokens(region: Region) -> str:
    count = (region.result or {}).get("new_tokens")
    return f" after {count} tokens" if count else ""


def caveat(region: Region) -> str | None:
    """Why the region's result is not the model's whole answer, in a few words; None when it is."""
    reason = (region.result or {}).get("stop_reason")
    if region.state == FAILED:
        return f"failed: {region.error or 'the region could not be recognized'}"
    if region.state in IN_PROGRESS_STATES:
        return "partial: still being recognized when exported" if region.text else "pending: not recognized yet"
    if region.state == CANCELLED or (region.state == DONE and reason == STOP_CANCELLED):
        who = "interrupted when the engine stopped" if region.stop_cause == STOPPED_BY_ENGINE else "stopped"
        return f"partial: {who}{_tokens(region)}"
    if reason == STOP_REPETITION:
        return f"partial: cut by the repetition guard{_tokens(region)}"
    if reason == STOP_MAX_TOKENS:
        return f"partial: cut at the token budget{_tokens(region)}"
    return None


@dataclass(frozen=True)
class _Style:
    """How one export format writes a page heading and a caveat line."""

    heading: Callable[[int], str]
    marker: Callable[[str, str], str]  # (kind, details) from a caveat "kind: details"


MARKDOWN_STYLE = _Style(lambda number: f"## Page {number}",
                        lambda kind, details: f"> **{kind.capitalize()}:** {details}")
TEXT_STYLE = _Style(lambda number: f"=== Page {number} ===", lambda kind, details: f"[{kind}: {details}]")


def _region_block(region: Region, body, style: _Style) -> str:
    """The caveat line (if any) and the region's text; "" for a region with nothing to show."""
    text = body(region) if region.display_text.strip() else ""
    note = caveat(region)
    if not text and region.state != FAILED:
        return ""  # nothing recognized yet: not part of the document
    marker = style.marker(*" ".join(note.split()).split(": ", 1)) if note else ""  # one line, whatever the error
    return "\n\n".join(part for part in (marker, text) if part)


def _document(doc: DocumentSession, body, style: _Style) -> str:
    """Region blocks in reading order, with a heading wherever the page changes in a document of several pages."""
    blocks, page = [], None
    for region in doc.reading_order():
        block = _region_block(region, body, style)
        if not block:
            continue
        if doc.page_count > 1 and region.page != page:
            page = region.page
            blocks.append(style.heading(page + 1))
        blocks.append(block)
    return "\n\n".join(blocks) + "\n" if blocks else ""


def document_markdown(doc: DocumentSession) -> str:
    """Every region with a result (or a failure), in reading order, one Markdown block each."""
    return _document(doc, region_markdown, MARKDOWN_STYLE)


def region_plain(region: Region) -> str:
    """The region as plain text: what a plain Copy gives (Markdown unmarked, LaTeX, TSV, JSON)."""
    return copy_choices(region)[0].text.strip()


def document_text(doc: DocumentSession) -> str:
    """Every region with a result (or a failure) as plain text, in reading order."""
    return _document(doc, region_plain, TEXT_STYLE)


def table_regions(doc: DocumentSession) -> list[Region]:
    return [r for r in doc.reading_order() if r.task == "table" and r.display_text.strip()]


def table_csv_files(doc: DocumentSession, stem: str) -> list[tuple[str, str]]:
    """[(file name, CSV text)] for each table that parses: ``stem-p<page>-table<n>.csv``, n counted per document,
    with ``-partial`` before the suffix when the table is not the model's whole answer (CSV has no comments)."""
    files = []
    for number, region in enumerate(table_regions(doc), start=1):
        try:
            grid = table_grid(region)
        except ValueError:
            continue  # unreadable table text: it is still in the Markdown and JSON exports
        partial = PARTIAL_CSV_SUFFIX if caveat(region) else ""
        files.append((f"{stem}-p{region.page + 1}-table{number}{partial}.csv", grid.to_csv()))
    return files


def _parsed_output(region: Region):
    """The structured result after the user's edits: grid dict, LaTeX, JSON data, or None."""
    if region.task == "formula":
        return formula_latex(region)
    if region.task == "table":
        try:
            return table_grid(region).to_dict()
        except ValueError:
            return None
    if region.task == "extract":
        return extract_data(region)[0]
    return None


def _parse_error(region: Region) -> str | None:
    if region.task == "table":
        try:
            table_grid(region)
        except ValueError as exc:
            return str(exc)
    if region.task == "extract":
        return extract_data(region)[1]
    return None


def region_json(region: Region, position: int) -> dict:
    return {
        "position": position,
        "id": region.id,
        "page": region.page,
        "box": list(region.box),
        "task": region.task,
        "state": region.state,
        "complete": caveat(region) is None,
        "caveat": caveat(region),
        "stop_reason": (region.result or {}).get("stop_reason"),
        "stop_cause": region.stop_cause or None,
        "output": region.display_text,
        "parsed": _parsed_output(region) if region.display_text.strip() else None,
        "parse_error": _parse_error(region) if region.display_text.strip() else None,
        "edited": region.edited_text is not None,
        "model_text": region.text,
        "edited_text": region.edited_text,
        "schema": region.schema,
        "error": region.error,
        "model_result": region.result,
    }


def document_json(doc: DocumentSession) -> dict:
    return {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "document": {"path": doc.path, "name": doc.name, "kind": doc.kind, "page_count": doc.page_count,
                     "content_hash": doc.content_hash},
        "regions": [region_json(region, i) for i, region in enumerate(doc.reading_order())],
    }


def document_json_text(doc: DocumentSession) -> str:
    return json.dumps(document_json(doc), ensure_ascii=False, indent=2) + "\n"


# --- writing ----------------------------------------------------------------------------------------------------

def export_markdown(doc: DocumentSession, path, *, overwrite: bool = False) -> Path:
    return atomic_write_text(path, document_markdown(doc), overwrite=overwrite)


def export_text(doc: DocumentSession, path, *, overwrite: bool = False) -> Path:
    return atomic_write_text(path, document_text(doc), overwrite=overwrite)


def export_json(doc: DocumentSession, path, *, overwrite: bool = False) -> Path:
    return atomic_write_text(path, document_json_text(doc), overwrite=overwrite)


def planned_csv_paths(doc: DocumentSession, folder, stem: str) -> list[Path]:
    """Where ``export_tables_csv`` would write, so the UI can ask about existing files first."""
    return [Path(folder) / name for name, _ in table_csv_files(doc, stem)]


def export_tables_csv(doc: DocumentSession, folder, stem: str, *, excel: bool = False,
                      overwrite: bool = False) -> list[Path]:
    """One UTF-8 CSV per table (with a BOM when ``excel``, so Excel reads UTF-8), all or nothing: a refused overwrite
    or a failed write (a full disk half-way) leaves every file as it was."""
    bom = b"\xef\xbb\xbf" if excel else b""
    files = [(Path(folder) / name, bom + text.encode("utf-8")) for name, text in table_csv_files(doc, stem)]
    existing = [str(path) for path, _ in files if path.exists()]
    if existing and not overwrite:
        raise FileExistsError(f"these files already exist: {', '.join(existing)}")
    return atomic_write_all(files, overwrite=overwrite)
