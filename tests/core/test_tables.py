"""HTML table parsing (good and broken markup) and the grid's renderings."""

from __future__ import annotations

import csv
import io

import pytest

from glmocr_core.tasks.tables import MAX_COLSPAN, TableCell, TableGrid, parse_html_table


def _anchors(grid: TableGrid) -> dict[tuple[int, int], tuple[str, int, int]]:
    return {(c.row, c.col): (c.text, c.rowspan, c.colspan) for c in grid.cells}


# ---- well-formed tables ------------------------------------------------------------------------------------


def test_simple_table_becomes_a_matrix():
    grid = parse_html_table('<table border="1"><tr><td>a</td><td>b</td></tr><tr><td>c</td><td>d</td></tr></table>')
    assert (grid.n_rows, grid.n_cols) == (2, 2)
    assert grid.to_matrix() == [["a", "b"], ["c", "d"]]
    assert not grid.has_spans()
    assert [(c.row, c.col) for c in grid.cells] == [(0, 0), (0, 1), (1, 0), (1, 1)]


def test_rowspan_from_above_pushes_later_cells_right():
    html = ("<table><tr><td rowspan=\"3\">A</td><td>B</td><td rowspan=2>C</td></tr>"
            "<tr><td>D</td></tr>"
            "<tr><td>E</td><td>F</td></tr></table>")
    grid = parse_html_table(html)
    assert _anchors(grid) == {(0, 0): ("A", 3, 1), (0, 1): ("B", 1, 1), (0, 2): ("C", 2, 1),
                              (1, 1): ("D", 1, 1), (2, 1): ("E", 1, 1), (2, 2): ("F", 1, 1)}
    assert grid.to_matrix() == [["A", "B", "C"], ["", "D", ""], ["", "E", "F"]]
    assert grid.has_spans()


def test_colspan_and_rowspan_together_cover_a_block():
    html = "<table><tr><td colspan=2 rowspan=2>X</td><td>1</td></tr><tr><td>2</td></tr><tr><td>3</td><td>4</td><td>5</td></tr></table>"
    grid = parse_html_table(html)
    assert grid.to_matrix() == [["X", "", "1"], ["", "", "2"], ["3", "4", "5"]]
    assert (grid.n_rows, grid.n_cols) == (3, 3)


def test_rowspan_past_the_last_row_is_clipped():
    grid = parse_html_table("<table><tr><td rowspan=9>a</td><td>b</td></tr><tr><td>c</td></tr></table>")
    assert grid.n_rows == 2
    assert _anchors(grid)[(0, 0)] == ("a", 2, 1)


@pytest.mark.parametrize("value", ["0", "-2", "abc", "", "none", "  "])
def test_bad_span_values_count_as_one(value):
    grid = parse_html_table(f'<table><tr><td colspan="{value}" rowspan="{value}">a</td><td>b</td></tr></table>')
    assert _anchors(grid) == {(0, 0): ("a", 1, 1), (0, 1): ("b", 1, 1)}


def test_span_attribute_without_value_counts_as_one():
    grid = parse_html_table("<table><tr><td colspan>a</td><td>b</td></tr></table>")
    assert grid.to_matrix() == [["a", "b"]]


def test_span_with_trailing_junk_reads_leading_digits_like_browsers():
    grid = parse_html_table('<table><tr><td colspan="2px">a</td></tr><tr><td>b</td><td>c</td></tr></table>')
    assert _anchors(grid)[(0, 0)] == ("a", 1, 2)


def test_huge_colspan_is_capped():
    grid = parse_html_table('<table><tr><td colspan="99999999">a</td></tr></table>')
    assert grid.n_cols == MAX_COLSPAN


def test_spans_that_would_make_a_gigantic_grid_are_refused():
    rows = '<tr><td rowspan="60000" colspan="1000">a</td></tr>' + "<tr><td>b</td></tr>" * 500
    with pytest.raises(ValueError, match="garbled"):
        parse_html_table("<table>" + rows + "</table>")


def test_header_cells_from_th_and_thead():
    html = ("<table><thead><tr><td>Name</td><th>Age</th></tr></thead>"
            "<tbody><tr><th>Alice</th><td>30</td></tr></tbody></table>")
    grid = parse_html_table(html)
    assert [(c.text, c.header) for c in grid.cells] == [("Name", True), ("Age", True), ("Alice", True),
                                                         ("30", False)]


def test_entities_br_and_whitespace_inside_cells():
    grid = parse_html_table("<table><tr><td>  a &amp; b&lt;c&gt;\n  d<br>second&nbsp;line<br/>x&#x4e2d;</td></tr></table>")
    assert grid.to_matrix() == [["a & b<c> d\nsecond line\nx中"]]


def test_paragraphs_inside_a_cell_become_lines():
    grid = parse_html_table("<table><tr><td><p>one</p><p>two</p></td></tr></table>")
    assert grid.to_matrix() == [["one\ntwo"]]


# ---- broken markup -----------------------------------------------------------------------------------------


def test_unclosed_cells_rows_and_table():
    grid = parse_html_table("<table><tr><td>a<td>b<tr><td>c<td>d")
    assert grid.to_matrix() == [["a", "b"], ["c", "d"]]


def test_table_cut_off_mid_cell_keeps_the_partial_text():
    grid = parse_html_table('<table border="1"><tr><td>done</td><td>hal')
    assert grid.to_matrix() == [["done", "hal"]]


def test_rows_without_a_table_tag_still_parse():
    grid = parse_html_table("<tr><td>a</td></tr><tr><td>b</td></tr>")
    assert grid.to_matrix() == [["a"], ["b"]]


def test_stray_text_inside_a_row_gets_its_own_cell_and_outside_rows_is_dropped():
    html = "Here is the table:<table>caption-ish<tr>loose<td>a</td></tr> between <tr><td>b</td></tr></table> done"
    grid = parse_html_table(html)
    assert grid.to_matrix() == [["loose", "a"], ["b", ""]]


def test_nested_table_is_flattened_into_the_outer_cell():
    html = ("<table><tr><td>outer<table><tr><td>i1</td><td>i2</td></tr><tr><td>i3</td></tr></table>tail</td>"
            "<td>right</td></tr><tr><td>next</td><td>row</td></tr></table>")
    grid = parse_html_table(html)
    assert grid.to_matrix() == [["outer\ni1 i2\ni3\ntail", "right"], ["next", "row"]]


def test_unclosed_nested_table_does_not_swallow_the_grid_shape():
    grid = parse_html_table("<table><tr><td>a<table><tr><td>in")
    assert grid.to_matrix() == [["a\nin"]]


def test_only_the_first_table_is_read():
    grid = parse_html_table("<table><tr><td>first</td></tr></table><table><tr><td>second</td></tr></table>")
    assert grid.to_matrix() == [["first"]]


def test_empty_rows_are_dropped_but_rows_under_a_rowspan_are_kept():
    grid = parse_html_table("<table><tr></tr><tr><td rowspan=2>a</td><td>b</td></tr><tr></tr><tr><td>c</td></tr></table>")
    assert grid.to_matrix() == [["a", "b"], ["", ""], ["c", ""]]


@pytest.mark.parametrize("text", ["", "plain text, no table", "<p>hello</p>", "<table></table>",
                                  "<table><tr></tr></table>"])
def test_no_table_with_cells_raises_value_error(text):
    with pytest.raises(ValueError):
        parse_html_table(text)


# ---- renderings --------------------------------------------------------------------------------------------

SPANNED = "<table><tr><th colspan=2>Head, \"quoted\"</th></tr><tr><td rowspan=2>a|b</td><td>x\ny</td></tr><tr><td>z</td></tr></table>"
PLAIN = "<table><tr><th>Name</th><th>Note</th></tr><tr><td>a|b</td><td>line1<br>line2</td></tr><tr><td>tab\there</td><td></td></tr></table>"


def test_csv_is_rfc4180_and_reads_back_to_the_matrix():
    grid = parse_html_table(SPANNED)
    text = grid.to_csv()
    assert text.endswith("\r\n") and text.count("\r\n") == grid.n_rows
    assert list(csv.reader(io.StringIO(text, newline=""))) == grid.to_matrix()
    assert '"Head, ""quoted"""' in text


def test_tsv_keeps_every_cell_on_one_line():
    grid = parse_html_table(PLAIN)
    lines = grid.to_tsv().split("\n")
    assert lines[-1] == "" and len(lines) - 1 == grid.n_rows
    assert all(len(line.split("\t")) == grid.n_cols for line in lines[:-1])
    assert lines[1].split("\t") == ["a|b", "line1 line2"]
    assert lines[2].split("\t") == ["tab here", ""]


def test_markdown_pipe_table_escapes_pipes_and_breaks():
    md = parse_html_table(PLAIN).to_markdown().splitlines()
    assert md[0] == "| Name | Note |"
    assert md[1] == "| --- | --- |"
    assert md[2] == "| a\\|b | line1<br>line2 |"
    assert md[3] == "| tab here |  |"


def test_markdown_falls_back_to_html_when_there_are_spans():
    grid = parse_html_table(SPANNED)
    assert grid.to_markdown() == grid.to_html()
    assert 'colspan="2"' in grid.to_html() and 'rowspan="2"' in grid.to_html()


@pytest.mark.parametrize("html", [SPANNED, PLAIN, "<table><tr><td>&lt;b&gt; &amp;</td></tr></table>"])
def test_html_rendering_parses_back_to_the_same_grid(html):
    grid = parse_html_table(html)
    clean = grid.to_html()
    assert clean.startswith("<table>") and clean.rstrip().endswith("</table>")
    assert parse_html_table(clean).to_dict() == grid.to_dict()


def test_html_rendering_escapes_markup_in_text():
    grid = TableGrid(1, 1, [TableCell(0, 0, "<script>&")])
    assert "&lt;script&gt;&amp;" in grid.to_html()


def test_dict_round_trip():
    grid = parse_html_table(SPANNED)
    data = grid.to_dict()
    assert TableGrid.from_dict(data) == grid
    assert data["cells"][0] == {"row": 0, "col": 0, "text": 'Head, "quoted"', "rowspan": 1, "colspan": 2,
                                "header": True}


@pytest.mark.parametrize("data", [{}, {"n_rows": 1, "n_cols": 1}, {"n_rows": 1, "n_cols": 1, "cells": [{"x": 1}]},
                                  {"n_rows": 1, "n_cols": 1, "cells": [{"row": 3, "col": 0, "text": "a"}]}])
def test_from_dict_rejects_bad_data(data):
    with pytest.raises(ValueError):
        TableGrid.from_dict(data)


def test_ragged_rows_are_padded_in_every_rendering():
    grid = parse_html_table("<table><tr><td>a</td><td>b</td><td>c</td></tr><tr><td>d</td></tr></table>")
    assert grid.to_matrix() == [["a", "b", "c"], ["d", "", ""]]
    assert grid.to_csv() == "a,b,c\r\nd,,\r\n"
    assert grid.to_markdown().splitlines()[2] == "| d |  |  |"
