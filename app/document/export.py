"""Export a document's results: Markdown for the whole document, CSV per table, JSON with everything.

Pure Python (no Qt), built on ``app.document.model.DocumentSession``. Regions go in reading order (the user's order when
they set one). User edits win over model text everywhere. Files are written atomically and never replace an existing
file unless ``overwrite=True`` (the UI asks first); a failed write raises ``app.atomic.WriteError`` and changes nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

from app.document.atomic import atomic_write_all, atomic_write_text
from app.document.model import DocumentSession, Region
from app.document.content import extract_data, formula_latex, region_markdown, table_grid

EXPORT_FORMAT = "glmocr-studio-export"
EXPORT_VERSION = 1


def document_markdown(doc: DocumentSession) -> str:
    """Every region with a result, in reading order, one Markdown block each."""
    blocks = [region_markdown(region) for region in doc.reading_order()]
    text = "\n\n".join(block for block in blocks if block)
    return text + "\n" if text else ""


def table_regions(doc: DocumentSession) -> list[Region]:
    return [r for r in doc.reading_order() if r.task == "table" and r.display_text.strip()]


def table_csv_files(doc: DocumentSession, stem: str) -> list[tuple[str, str]]:
    """[(file name, CSV text)] for each table that parses: ``stem-p<page>-table<n>.csv``, n counted per document."""
    files = []
    for number, region in enumerate(table_regions(doc), start=1):
        try:
            grid = table_grid(region)
        except ValueError:
            continue  # unreadable table text: it is still in the Markdown and JSON exports
        files.append((f"{stem}-p{region.page + 1}-table{number}.csv", grid.to_csv()))
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
