"""Table output: the model's HTML table parsed into a cell grid, and renderings for export.

GLM-OCR answers "Table Recognition:" with an HTML table. Model output can be broken (unclosed tags, stray text,
a table inside a cell), so the parser is a small tolerant state machine over the stdlib's html.parser; it never
raises on odd markup, only when there is no table at all. Cells are placed with the HTML table layout rule: a
cell goes to the first column of its row not already covered by a rowspan from a row above.
"""

from __future__ import annotations

import csv
import html
import io
import re
from dataclasses import asdict, dataclass, field
from html.parser import HTMLParser

MAX_COLSPAN = 1000  # HTML's own limits; they also stop a garbled span from allocating a huge grid
MAX_ROWSPAN = 65534
MAX_GRID_SLOTS = 200_000  # e.g. 1000 rows x 200 columns; more is a garbled span, not a table worth a grid
_SECTION_TAGS = ("thead", "tbody", "tfoot")
_BLOCK_TAGS = ("p", "div", "li")  # a new block inside a cell starts a new line


@dataclass
class TableCell:
    row: int
    col: int
    text: str
    rowspan: int = 1
    colspan: int = 1
    header: bool = False


@dataclass
class TableGrid:
    n_rows: int
    n_cols: int
    cells: list[TableCell] = field(default_factory=list)  # one entry per anchor cell, row-major

    def to_matrix(self) -> list[list[str]]:
        """Rows of texts; slots covered by a span (or missing from a short row) are ""."""
        matrix = [[""] * self.n_cols for _ in range(self.n_rows)]
        for cell in self.cells:
            matrix[cell.row][cell.col] = cell.text
        return matrix

    def has_spans(self) -> bool:
        return any(cell.rowspan > 1 or cell.colspan > 1 for cell in self.cells)

    def to_csv(self) -> str:
        """RFC 4180: CRLF line ends, fields with commas, quotes or newlines quoted."""
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\r\n").writerows(self.to_matrix())
        return buffer.getvalue()

    def to_tsv(self) -> str:
        """Tab-separated, one line per row. Tabs and line breaks inside a cell become spaces, because a
        spreadsheet paste would otherwise split that cell."""
        lines = ["\t".join(_flatten_for_tsv(text) for text in row) for row in self.to_matrix()]
        return "".join(line + "\n" for line in lines)

    def to_markdown(self) -> str:
        """A GitHub pipe table with the first row as header; spans cannot be expressed there, so those fall back
        to HTML (which GitHub-flavoured Markdown renders too)."""
        if self.has_spans():
            return self.to_html()
        rows = self.to_matrix()
        if not rows or self.n_cols == 0:
            return ""
        lines = [_markdown_row(rows[0]), _markdown_row(["---"] * self.n_cols)]
        lines += [_markdown_row(row) for row in rows[1:]]
        return "\n".join(lines) + "\n"

    def to_html(self) -> str:
        """Clean HTML: one <tr> per grid row, spans kept, text escaped, line breaks as <br>."""
        by_row: list[list[TableCell]] = [[] for _ in range(self.n_rows)]
        for cell in self.cells:
            by_row[cell.row].append(cell)
        lines = ["<table>"]
        for row_cells in by_row:
            lines.append("<tr>" + "".join(_html_cell(c) for c in sorted(row_cells, key=lambda c: c.col)) + "</tr>")
        lines.append("</table>")
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict:
        return {"n_rows": self.n_rows, "n_cols": self.n_cols, "cells": [asdict(cell) for cell in self.cells]}

    @classmethod
    def from_dict(cls, data: dict) -> "TableGrid":
        """Inverse of to_dict; raises ValueError for data that is not a grid."""
        try:
            cells = [TableCell(**cell) for cell in data["cells"]]
            grid = cls(int(data["n_rows"]), int(data["n_cols"]), cells)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a table grid: {exc}") from exc
        _check_cells_inside(grid)
        return grid


def _check_cells_inside(grid: TableGrid) -> None:
    for cell in grid.cells:
        if not (0 <= cell.row < grid.n_rows and 0 <= cell.col < grid.n_cols):
            raise ValueError(f"cell at row {cell.row}, column {cell.col} lies outside a {grid.n_rows}x{grid.n_cols} grid")


def _flatten_for_tsv(text: str) -> str:
    return re.sub(r"[\t\r\n]+", " ", text)


def _markdown_row(texts: list[str]) -> str:
    escaped = [t.replace("\\", "\\\\").replace("|", "\\|").replace("\n", "<br>") for t in texts]
    return "| " + " | ".join(escaped) + " |"


def _html_cell(cell: TableCell) -> str:
    tag = "th" if cell.header else "td"
    attrs = (f' rowspan="{cell.rowspan}"' if cell.rowspan > 1 else "") + (
        f' colspan="{cell.colspan}"' if cell.colspan > 1 else "")
    body = "<br>".join(html.escape(line, quote=False) for line in cell.text.split("\n"))
    return f"<{tag}{attrs}>{body}</{tag}>"


# ---- parsing ------------------------------------------------------------------------------------------------


@dataclass
class _RawCell:
    rowspan: int
    colspan: int
    header: bool
    parts: list[str] = field(default_factory=list)

    def text(self) -> str:
        lines = "".join(self.parts).split("\n")
        return "\n".join(" ".join(line.split()) for line in lines).strip("\n")


def _span_value(attrs: list[tuple[str, str | None]], name: str, limit: int) -> int:
    """A rowspan/colspan attribute; anything that is not a positive integer counts as 1."""
    for key, value in attrs:
        if key == name and value is not None:
            match = re.match(r"\s*(\d+)", value)  # browsers read leading digits: colspan="3px" is 3
            return min(int(match.group(1)), limit) if match and int(match.group(1)) >= 1 else 1
    return 1


class _TableParser(HTMLParser):
    """Collects the rows of the first top-level table. Inner tables are flattened into the enclosing cell."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.rows: list[list[_RawCell]] = []
        self.found = False  # saw a table, row or cell
        self.done = False  # the first table closed; the rest of the text is ignored
        self._depth = 0  # table nesting; 1 = the table being collected
        self._row: list[_RawCell] | None = None
        self._cell: _RawCell | None = None
        self._in_head = False

    # -- structure of the outer table --
    def _start_row(self) -> None:
        self._end_row()
        self._row = []
        self.rows.append(self._row)

    def _end_row(self) -> None:
        self._end_cell()
        self._row = None

    def _start_cell(self, rowspan: int = 1, colspan: int = 1, header: bool = False) -> None:
        self._end_cell()
        if self._row is None:
            self._start_row()
        self._cell = _RawCell(rowspan, colspan, header or self._in_head)
        self._row.append(self._cell)

    def _end_cell(self) -> None:
        self._cell = None

    def _enter_table_implicitly(self) -> None:
        # A row or cell with no <table> around it: the model dropped the opening tag.
        if self._depth == 0:
            self._depth, self.found = 1, True

    # -- html.parser callbacks --
    def handle_starttag(self, tag, attrs):
        if self.done:
            return
        if self._depth >= 2 or (tag == "table" and self._depth == 1):
            self._nested_starttag(tag)
        elif tag == "table":
            self._depth, self.found = 1, True
        elif tag == "tr":
            self._enter_table_implicitly()
            self._start_row()
        elif tag in ("td", "th"):
            self._enter_table_implicitly()
            self._start_cell(_span_value(attrs, "rowspan", MAX_ROWSPAN), _span_value(attrs, "colspan", MAX_COLSPAN),
                             tag == "th")
        elif self._depth == 1:
            self._outer_inline_starttag(tag)

    def _outer_inline_starttag(self, tag: str) -> None:
        if tag in _SECTION_TAGS:
            self._end_row()
            self._in_head = tag == "thead"
        elif tag == "br":
            self._add_text("\n")
        elif tag in _BLOCK_TAGS and self._cell is not None and self._cell.parts:
            self._add_text("\n")

    def _nested_starttag(self, tag: str) -> None:
        if tag == "table":
            if self._cell is None:  # a table sitting directly in a row: give its text a cell
                self._start_cell()
            self._depth += 1
        elif tag == "tr" or tag == "br":
            self._add_text("\n")
        elif tag in ("td", "th"):
            self._add_text(" ")

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in ("br",):
            self.handle_endtag(tag)

    def handle_endtag(self, tag):
        if self.done or self._depth == 0:
            return
        if self._depth >= 2:
            if tag == "table":
                self._depth -= 1
                self._add_text("\n")
            return
        if tag == "table":
            self._end_row()
            self._depth, self.done = 0, True
        elif tag == "tr":
            self._end_row()
        elif tag in ("td", "th"):
            self._end_cell()
        elif tag in _SECTION_TAGS:
            self._end_row()
            self._in_head = False

    def handle_data(self, data):
        if self.done or self._depth == 0:
            return  # text around the table is not part of it
        if self._cell is None:
            if not data.strip() or self._row is None:
                return  # stray text between rows (e.g. a caption) has no cell to go to
            self._start_cell()  # stray text inside a row: keep it in a cell of its own rather than lose it
        self._add_text(re.sub(r"[ \t\r\n\f]+", " ", data))

    def _add_text(self, text: str) -> None:
        if self._cell is not None:
            self._cell.parts.append(text)


def _layout(rows: list[list[_RawCell]]) -> TableGrid:
    """Place cells with the HTML layout rule; rowspans are clipped at the last row."""
    n_rows = len(rows)
    covered: set[tuple[int, int]] = set()
    cells: list[TableCell] = []
    for r, row in enumerate(rows):
        col = 0
        for raw in row:
            while (r, col) in covered:
                col += 1
            rowspan = min(raw.rowspan, n_rows - r)
            if len(covered) + rowspan * raw.colspan > MAX_GRID_SLOTS:
                raise ValueError(f"the table would need more than {MAX_GRID_SLOTS} cells; its spans are garbled")
            covered.update((r + dr, col + dc) for dr in range(rowspan) for dc in range(raw.colspan))
            cells.append(TableCell(r, col, raw.text(), rowspan, raw.colspan, raw.header))
            col += raw.colspan
    n_cols = max((c + 1 for _, c in covered), default=0)
    return _drop_empty_rows(TableGrid(n_rows, n_cols, cells), covered)


def _drop_empty_rows(grid: TableGrid, covered: set[tuple[int, int]]) -> TableGrid:
    """Remove <tr></tr> rows that hold no cell and no part of a span; they are not visible rows."""
    used_rows = sorted({r for r, _ in covered})
    new_index = {old: new for new, old in enumerate(used_rows)}
    for cell in grid.cells:
        cell.row = new_index[cell.row]
    return TableGrid(len(used_rows), grid.n_cols, grid.cells)


def parse_html_table(html_text: str) -> TableGrid:
    """The first table in ``html_text`` as a grid. Raises ValueError when there is no table with cells."""
    parser = _TableParser()
    parser.feed(html_text)
    parser.close()
    if not parser.found:
        raise ValueError("no HTML table found in the text")
    grid = _layout(parser.rows)
    if not grid.cells:
        raise ValueError("the HTML table has no cells")
    return grid
