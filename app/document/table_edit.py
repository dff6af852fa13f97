"""Edits of a TableGrid that keep it a valid HTML table: cell text, insert/remove rows and columns.

Pure Python (no Qt). Every function returns a new grid and leaves its input alone, so an undo step is just the grid
before and after. Spans are kept consistent: inserting inside a merged cell widens it, removing its anchor line moves
the anchor to the next line. After each edit every slot not covered by a span has its own (maybe empty) cell,
because HTML places a row's cells left to right and a missing cell would shift the rest of the row.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from glmocr_core.tasks.tables import TableCell, TableGrid


@dataclass(frozen=True)
class _Axis:
    pos: str  # "row" | "col"
    span: str  # "rowspan" | "colspan"
    size: str  # "n_rows" | "n_cols"


ROWS = _Axis("row", "rowspan", "n_rows")
COLS = _Axis("col", "colspan", "n_cols")


def anchor_at(grid: TableGrid, row: int, col: int) -> TableCell | None:
    """The cell whose area covers slot (row, col), or None for an empty slot."""
    for cell in grid.cells:
        if cell.row <= row < cell.row + cell.rowspan and cell.col <= col < cell.col + cell.colspan:
            return cell
    return None


def covered_slots(grid: TableGrid) -> set[tuple[int, int]]:
    return {(cell.row + dr, cell.col + dc) for cell in grid.cells
            for dr in range(cell.rowspan) for dc in range(cell.colspan)}


def normalized(grid: TableGrid) -> TableGrid:
    """A copy with spans clipped to the grid, an empty cell in every free slot, and cells in row-major order."""
    result = copy.deepcopy(grid)
    for cell in result.cells:
        cell.rowspan = max(1, min(cell.rowspan, result.n_rows - cell.row))
        cell.colspan = max(1, min(cell.colspan, result.n_cols - cell.col))
    covered = covered_slots(result)
    header_rows = {cell.row for cell in result.cells if cell.header}
    for row in range(result.n_rows):
        for col in range(result.n_cols):
            if (row, col) not in covered:
                result.cells.append(TableCell(row, col, "", header=row in header_rows))
    result.cells.sort(key=lambda c: (c.row, c.col))
    return result


def empty_grid(n_rows: int = 2, n_cols: int = 2) -> TableGrid:
    return normalized(TableGrid(n_rows, n_cols, []))


def set_text(grid: TableGrid, row: int, col: int, text: str) -> TableGrid:
    """The text of the cell covering (row, col) replaced."""
    result = normalized(grid)
    cell = anchor_at(result, row, col)
    if cell is None:
        raise IndexError(f"no cell at row {row}, column {col} of a {grid.n_rows}x{grid.n_cols} table")
    cell.text = text
    return result


def _insert_line(grid: TableGrid, at: int, axis: _Axis) -> TableGrid:
    size = getattr(grid, axis.size)
    if not 0 <= at <= size:
        raise IndexError(f"cannot insert a {axis.pos} at {at} in a table with {size}")
    result = copy.deepcopy(grid)
    for cell in result.cells:
        start, span = getattr(cell, axis.pos), getattr(cell, axis.span)
        if start >= at:
            setattr(cell, axis.pos, start + 1)
        elif start + span > at:  # the new line cuts through a merged cell: it grows instead of splitting
            setattr(cell, axis.span, span + 1)
    setattr(result, axis.size, size + 1)
    return normalized(result)


def _remove_line(grid: TableGrid, at: int, axis: _Axis) -> TableGrid:
    size = getattr(grid, axis.size)
    if size <= 1:
        raise ValueError(f"a table keeps at least one {axis.pos}")
    if not 0 <= at < size:
        raise IndexError(f"no {axis.pos} {at} in a table with {size}")
    result = copy.deepcopy(grid)
    kept = []
    for cell in result.cells:
        start, span = getattr(cell, axis.pos), getattr(cell, axis.span)
        if start == at and span == 1:
            continue  # the cell lived only on the removed line
        if start > at:
            setattr(cell, axis.pos, start - 1)
        elif start + span > at:  # a merged cell crossing (or starting on) the line shrinks and keeps its text
            setattr(cell, axis.span, span - 1)
        kept.append(cell)
    result.cells = kept
    setattr(result, axis.size, size - 1)
    return normalized(result)


def insert_row(grid: TableGrid, at: int) -> TableGrid:
    return _insert_line(grid, at, ROWS)


def insert_col(grid: TableGrid, at: int) -> TableGrid:
    return _insert_line(grid, at, COLS)


def remove_row(grid: TableGrid, at: int) -> TableGrid:
    return _remove_line(grid, at, ROWS)


def remove_col(grid: TableGrid, at: int) -> TableGrid:
    return _remove_line(grid, at, COLS)

