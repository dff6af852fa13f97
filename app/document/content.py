"""What a region's result *is*, in each form a user copies or exports. Pure Python (no Qt).

A region keeps the model's raw text, the parsed result (``Region.result["parsed"]``) and the user's edit
(``Region.edited_text``); the edit always wins. Edits are stored as text in the task's own format: Markdown for text,
LaTeX for formulas, HTML for tables (so spans survive) and JSON for extraction. Text without a parsed result (an
edit, an old session) is read with the core's parsers, the same ones that filled ``parsed`` for a live result.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from glmocr_core.tasks.parsing import parse_json_output, strip_code_fences, strip_formula_wrappers
from glmocr_core.tasks.tables import TableGrid, parse_html_table

from app.document.markdown import markdown_to_plain


def _parsed(region):
    return (region.result or {}).get("parsed")


def formula_latex(region) -> str:
    if region.edited_text is not None:
        return region.edited_text
    parsed = _parsed(region)
    return parsed if isinstance(parsed, str) else strip_formula_wrappers(region.text)


def table_grid(region) -> TableGrid:
    """The table as a grid: the edit, else the engine's parsed grid, else the raw HTML. Raises ValueError."""
    if region.edited_text is not None:
        return parse_html_table(region.edited_text)
    parsed = _parsed(region)
    if isinstance(parsed, dict) and "cells" in parsed:
        return TableGrid.from_dict(parsed)
    return parse_html_table(region.text)


def extract_data(region):
    """(data, None) for a JSON object or list, or (None, readable error) with the raw text still in ``region``."""
    parsed = _parsed(region)
    if region.edited_text is None and isinstance(parsed, (dict, list)):
        return parsed, None
    return parse_json_output(region.display_text)


def pretty_json(data) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2)


def region_markdown(region) -> str:
    """The region as a Markdown block for a whole-document export ("" when it has no result)."""
    task, text = region.task, region.display_text
    if task == "formula":
        latex = formula_latex(region)
        return f"$$\n{latex}\n$$" if latex.strip() else ""
    if not text.strip():
        return ""
    if task == "table":
        try:
            return table_grid(region).to_markdown().rstrip("\n")
        except ValueError:
            return text.strip()
    if task == "extract":
        data, error = extract_data(region)
        body = pretty_json(data) if error is None else strip_code_fences(text)
        return f"```json\n{body}\n```"
    return text.strip()


# --- copy as ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CopyChoice:
    key: str  # stable id, e.g. "tsv"
    label: str  # menu text
    text: str  # text/plain
    html: str | None = None  # text/html as well, so spreadsheets and word processors paste structure


def _text_choices(region) -> list[CopyChoice]:
    source = region.display_text
    return [CopyChoice("plain", "Plain text", markdown_to_plain(source)),
            CopyChoice("markdown", "Markdown", source)]


def _formula_choices(region) -> list[CopyChoice]:
    latex = formula_latex(region)
    return [CopyChoice("plain", "Plain text (LaTeX source)", latex),
            CopyChoice("latex_inline", "LaTeX inline  $…$", f"${latex}$"),
            CopyChoice("latex_display", "LaTeX display  $$…$$", f"$$\n{latex}\n$$"),
            CopyChoice("markdown", "Markdown", f"$$\n{latex}\n$$")]


def _table_choices(region) -> list[CopyChoice]:
    try:
        grid = table_grid(region)
    except ValueError:
        return [CopyChoice("plain", "Plain text", region.display_text)]
    html = grid.to_html()
    return [CopyChoice("tsv", "TSV (paste into a spreadsheet)", grid.to_tsv(), html),
            CopyChoice("csv", "CSV", grid.to_csv()),
            CopyChoice("markdown", "Markdown", grid.to_markdown()),
            CopyChoice("html", "HTML", html, html)]


def _extract_choices(region) -> list[CopyChoice]:
    data, error = extract_data(region)
    body = pretty_json(data) if error is None else region.display_text
    return [CopyChoice("plain", "Plain text (JSON)", body),
            CopyChoice("markdown", "Markdown", f"```json\n{body}\n```")]


_CHOICES = {"text": _text_choices, "formula": _formula_choices, "table": _table_choices,
            "extract": _extract_choices}


def copy_choices(region) -> list[CopyChoice]:
    """Every "Copy as" entry for the region's task; the first one is what plain Copy does."""
    return _CHOICES.get(region.task, _text_choices)(region)
