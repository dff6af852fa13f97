"""Pure table edits: spans stay consistent, inputs are never mutated, free slots always get a cell."""

import pytest
from glmocr_core.tasks.tables import parse_html_table

from app.document.table_edit import (anchor_at, empty_grid, insert_col, insert_row, normalized, remove_col,
                                    remove_row, set_text)

SPANNED = ("<table><tr><th colspan=2>Head</th><th>n</th></tr>"
           "<tr><td rowspan=2>A</td><td>b</td><td>1</td></tr><tr><td>c</td><td>2</td></tr></table>")


def grid():
    return parse_html_table(SPANNED)


def test_set_text_on_a_covered_slot_edits_its_anchor_and_keeps_input():
    original = grid()
    before = original.to_dict()
    edited = set_text(original, 2, 0, "A'")
    assert edited.to_matrix()[1][0] == "A'" and original.to_dict() == before
    assert parse_html_table(edited.to_html()).to_dict() == edited.to_dict()


def test_insert_row_inside_a_rowspan_grows_it():
    edited = insert_row(grid(), 2)
    assert (edited.n_rows, anchor_at(edited, 1, 0).rowspan) == (4, 2 + 1)
    assert edited.to_matrix()[2] == ["", "", ""]
    assert anchor_at(edited, 2, 1).text == "" and anchor_at(edited, 2, 0).text == "A"


def test_insert_column_inside_a_colspan_grows_it_and_copies_header_flag():
    edited = insert_col(grid(), 1)
    head = anchor_at(edited, 0, 0)
    assert (edited.n_cols, head.colspan, head.text) == (4, 3, "Head")
    assert edited.to_matrix()[1] == ["A", "", "b", "1"]
    assert anchor_at(edited, 1, 1).header is False


def test_remove_anchor_row_moves_the_merged_cell_down():
    edited = remove_row(grid(), 1)
    assert edited.to_matrix() == [["Head", "", "n"], ["A", "c", "2"]]
    assert anchor_at(edited, 1, 0).rowspan == 1


def test_remove_column_through_a_colspan_shrinks_it():
    edited = remove_col(grid(), 0)
    assert edited.to_matrix() == [["Head", "n"], ["b", "1"], ["c", "2"]]
    assert not edited.has_spans()


def test_html_round_trip_after_every_edit_keeps_cells_in_place():
    edits = [lambda g: insert_row(g, 0), lambda g: insert_col(g, 3), lambda g: remove_row(g, 2),
             lambda g: set_text(g, 0, 0, "x|y"), lambda g: remove_col(g, 1)]
    current = grid()
    for edit in edits:
        current = edit(current)
        assert parse_html_table(current.to_html()).to_matrix() == current.to_matrix()


def test_short_rows_are_filled_so_html_does_not_shift_cells():
    ragged = parse_html_table("<table><tr><td>a</td><td>b</td><td>c</td></tr><tr><td>d</td></tr></table>")
    filled = normalized(ragged)
    assert len(filled.cells) == 6 and set_text(filled, 1, 2, "f").to_matrix()[1] == ["d", "", "f"]


def test_bad_edits_raise_clear_errors():
    with pytest.raises(ValueError, match="at least one row"):
        remove_row(empty_grid(1, 3), 0)
    with pytest.raises(IndexError):
        insert_col(grid(), 9)
    with pytest.raises(IndexError):
        set_text(grid(), 5, 0, "x")
