"""The Markdown formatter: each of the SDK's rules on hand-built blocks with the expected text written out, our two
additions (Markdown tables, page markers), the pieces' map back to regions, and random pages against the SDK's own
ResultFormatter (glmocr 0.1.5, a test dependency) with its config.yaml switches."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from glmocr_core.convert.blocks import DocumentBlock
from glmocr_core.convert.markdown import (clean_content, cut_repeats, format_markdown, format_page, markdown_table,
                                          normalize_inline_formulas, page_pieces)


def block(label: str, text: str | None, order: int, task: str | None = None, bbox_2d=None, image_path=None):
    task = task or {"table": "table", "display_formula": "formula", "inline_formula": "formula", "image": "skip",
                    "chart": "skip", "header": "abandon", "footer": "abandon", "number": "abandon"}.get(label, "text")
    return DocumentBlock(label=label, task=task, text=text, order=order, bbox_2d=bbox_2d, image_path=image_path)


def page(*rows, **options) -> str:
    return format_page([block(*row) for row in rows], **options)


# ---- one block ------------------------------------------------------------------------------------------------


def test_titles_become_headings_without_their_own_marks():
    assert page(("doc_title", "## A Study", 0), ("paragraph_title", "- 1 Intro", 1)) == "# A Study\n\n## 1 Intro"


def test_formulas_are_fenced_on_their_own_lines_whatever_wrapped_them():
    for text in ("$$E = mc^2$$", "\\[E = mc^2\\]", "E = mc^2"):
        assert page(("display_formula", text, 0)) == "$$\nE = mc^2\n$$"


@pytest.mark.parametrize("number", ["(1)", "（1）", "1"])
def test_a_formula_number_after_or_before_its_formula_becomes_its_tag(number):
    expected = "$$\nx = 1 \\tag{1}\n$$"
    assert page(("display_formula", "x = 1", 0), ("formula_number", number, 1)) == expected
    assert page(("formula_number", number, 0), ("display_formula", "x = 1", 1)) == expected


def test_a_lone_formula_number_is_dropped():
    assert page(("text", "Before.", 0), ("formula_number", "(2)", 1), ("text", "After.", 2)) == "Before.\n\nAfter."


def test_text_clean_ups():
    assert page(("text", "\\t\\tWaiting.......... done", 0)) == "Waiting... done"
    assert page(("text", "· first", 0)) == "- first"
    assert page(("text", "(a)item", 0)) == "(a) item"
    assert page(("text", "3.Third", 0)) == "3. Third"
    assert page(("text", "line one\nline two", 0)) == "line one\n\nline two"
    assert page(("text", "```python\nprint(1)", 0)) == "```python\n\nprint(1)\n\n```"


def test_inline_formulas_are_tightened_and_spaced_from_words():
    assert normalize_inline_formulas("area$ \\pi r^2 $is") == "area $\\pi r^2$ is"
    assert normalize_inline_formulas("$$ display $$ stays") == "$$ display $$ stays"


def test_long_repeats_are_cut_after_the_first_copy():
    looping = "intro " + "the same words " * 200
    assert len(looping) >= 2048
    assert clean_content(looping) == "intro the same words"
    rows = "\n".join(["header"] + ["row"] * 40)  # a 12-character unit, ten times in a row
    assert cut_repeats(rows) == "header\nrow\nrow\nrow"
    # no unit repeats ten times in a row, but 86% of the lines are one line: cut after its first run of three
    lines = "\n".join(["top"] + [line for k in range(3) for line in ["same"] * 8 + [f"other {k}"]])
    assert cut_repeats(lines) == "top\nsame"


def test_empty_blocks_are_dropped_and_pictures_need_a_saved_crop():
    assert page(("text", "  ", 0), ("image", None, 1), ("text", "kept", 2)) == "kept"
    assert page(("image", None, 0, None, None, "doc_pictures/page-001-00.png")) == \
        "![image](doc_pictures/page-001-00.png)"
    assert page(("chart", None, 0, None, None, "my doc_pictures/p 1.png")) == "![chart](<my doc_pictures/p 1.png>)"


def test_abandoned_blocks_are_left_out_unless_asked_for():
    rows = [("header", "Journal of Tests", 0), ("text", "Body.", 1), ("footer", "page 3", 2)]
    assert page(*rows) == "Body."
    assert page(*rows, include_abandoned=True) == "Journal of Tests\n\nBody.\n\npage 3"


# ---- tables ---------------------------------------------------------------------------------------------------

PLAIN_TABLE = "<table><tr><td>a</td><td>b</td></tr><tr><td>1</td><td>2</td></tr></table>"
SPANNED_TABLE = "<table><tr><td colspan=\"2\">both</td></tr><tr><td>1</td><td>2</td></tr></table>"


def test_tables_without_spans_become_pipe_tables_and_spans_stay_html():
    assert page(("table", PLAIN_TABLE, 0)) == "| a | b |\n| --- | --- |\n| 1 | 2 |"
    assert page(("table", SPANNED_TABLE, 0)) == SPANNED_TABLE
    assert page(("table", PLAIN_TABLE, 0), tables_as_markdown=False) == PLAIN_TABLE
    assert markdown_table("not a table") == "not a table"


# ---- across blocks --------------------------------------------------------------------------------------------


def test_a_hyphenated_word_across_blocks_is_joined_when_it_makes_a_word():
    assert page(("text", "the experi-", 0), ("text", "ment went well", 1)) == "the experiment went well"
    assert page(("text", "state-", 0), ("text", "Of the art", 1)) == "state-\n\nOf the art"  # capital: no join
    assert page(("text", "x-", 0), ("text", "1 more", 1)) == "x-\n\n1 more"  # "x1" is no word


def test_a_block_between_two_bullets_aligned_with_them_becomes_a_bullet():
    rows = [("text", "- one", 0, None, (100, 0, 500, 10)), ("text", "two", 1, None, (105, 20, 500, 30)),
            ("text", "- three", 2, None, (100, 40, 500, 50))]
    assert page(*rows) == "- one\n\n- two\n\n- three"
    rows[1] = ("text", "two", 1, None, (150, 20, 500, 30))  # indented: not one of the list's items
    assert page(*rows) == "- one\n\ntwo\n\n- three"


def test_blocks_go_in_reading_order_whatever_order_they_come_in():
    assert page(("text", "second", 1), ("doc_title", "First", 0)) == "# First\n\nsecond"


def test_pieces_name_the_blocks_they_come_from():
    blocks = [block("display_formula", "x", 0), block("formula_number", "(1)", 1), block("text", "the experi-", 2),
              block("image", None, 3), block("text", "ment", 4)]
    pieces = page_pieces(blocks)
    assert [(p.orders, p.text) for p in pieces] == [((0, 1), "$$\nx \\tag{1}\n$$"), ((2, 4), "the experiment")]


def test_pages_start_with_a_page_marker():
    pages = [[block("text", "one", 0)], [], [block("text", "three", 0)]]
    assert format_markdown(pages) == "<!-- page 1 -->\n\none\n\n<!-- page 2 -->\n\n<!-- page 3 -->\n\nthree\n"
    assert format_markdown(pages[2:], page_numbers=[7]) == "<!-- page 7 -->\n\nthree\n"
    assert format_markdown(pages, page_markers=False) == "one\n\n\n\nthree"  # the SDK's joins


# ---- against the SDK's formatter ------------------------------------------------------------------------------

CONTENTS = {
    "text": ["Plain words.", "· a bullet", "- dash item", "(1)first", "2)second", "a.letter", "line\nbreak",
             "the experi-", "ment goes on", "State-", "ends with x-", "$ x $and$y$", "dots.......", "__________",
             "\\t tabbed \\t", "```code", "", "   ", "（3）wide"],
    "doc_title": ["Title", "# Already", "1 Intro"],
    "paragraph_title": ["* Section", "## Sec", "Results"],
    "display_formula": ["$$a+b$$", "\\[c\\]", "\\(d\\)", "e = f", "$$ g $$"],
    "formula_number": ["(1)", "（2）", "3", "(A.1)"],
    "table": [PLAIN_TABLE, SPANNED_TABLE, "a | b"],
    "image": [None],
    "header": ["Running head"],
}
LONG = ["word " * 500, "\n".join(["same line"] * 30), "x" + "ab" * 1100]
# runs of blocks that the cross-block rules act on (hyphen joins, list items, formula numbers on either side)
MOTIFS = [[("text", "the experi-"), ("text", "ment goes on")], [("text", "co-"), ("image", None), ("text", "operate")],
          [("text", "- one"), ("text", "two"), ("text", "- three")],
          [("formula_number", "(4)"), ("display_formula", "y"), ("formula_number", "(5)")]]


def _random_page(rng: random.Random, size: int) -> list[DocumentBlock]:
    rows = []
    while len(rows) < size:
        if rng.random() < 0.25:
            rows += rng.choice(MOTIFS)
            continue
        label = rng.choice(list(CONTENTS))
        rows.append((label, rng.choice(CONTENTS[label] + (LONG if label == "text" and rng.random() < 0.1 else []))))
    blocks = []
    for order, (label, text) in enumerate(rows):
        x = rng.choice([100, 104, 130, 500])
        blocks.append(block(label, text, order, bbox_2d=(x, order * 40, x + 300, order * 40 + 30)))
    return blocks


@pytest.fixture(scope="module")
def sdk_formatter():
    glmocr = pytest.importorskip("glmocr")
    yaml = pytest.importorskip("yaml")
    from glmocr.config import ResultFormatterConfig
    from glmocr.postprocess.result_formatter import ResultFormatter

    settings = yaml.safe_load((Path(glmocr.__file__).parent / "config.yaml").read_text())
    return ResultFormatter(ResultFormatterConfig(**settings["pipeline"]["result_formatter"]))


def _sdk_markdown(formatter, pages: list[list[DocumentBlock]]) -> str:
    grouped = [[{"index": b.order, "label": b.label, "content": b.text, "bbox_2d": list(b.bbox_2d)} for b in blocks
                if b.task != "abandon"] for blocks in pages]
    pictures = {(p, *b.bbox_2d): "crop" for p, blocks in enumerate(pages) for b in blocks if b.task == "skip"}
    return formatter.process(grouped, pictures)[1]


def _with_sdk_picture_names(pages: list[list[DocumentBlock]]) -> None:
    counter = 0
    for number, blocks in enumerate(pages):
        for b in sorted(blocks, key=lambda b: b.order):
            if b.task == "skip":
                b.image_path = f"imgs/cropped_page{number}_idx{counter}.jpg"
                counter += 1


@pytest.mark.parametrize("seed", range(40))
def test_random_pages_format_as_the_sdk_formats_them(sdk_formatter, seed):
    rng = random.Random(seed)
    pages = [_random_page(rng, rng.randint(0, 9)) for _ in range(rng.randint(1, 3))]
    _with_sdk_picture_names(pages)
    ours = format_markdown(pages, tables_as_markdown=False, page_markers=False)
    alt = re.compile(r"!\[[^\]]*\]")  # the SDK's alt text counts pictures; ours names the label
    assert alt.sub("![]", ours) == alt.sub("![]", _sdk_markdown(sdk_formatter, pages))
