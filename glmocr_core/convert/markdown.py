"""Recognized blocks -> Markdown, as the official GLM-OCR SDK's result formatter writes it (glmocr 0.1.5,
``postprocess/result_formatter.py`` with the switches of its ``config.yaml``), plus two things of ours: tables
without spans become Markdown pipe tables (spans keep the model's HTML, which Markdown renderers show), and a
``<!-- page N -->`` comment starts every page. Both can be turned off, which gives the SDK's text exactly.

Per page, in reading order:

1. a block's kind comes from its task (text, table, formula; a picture is "image"); other tasks (an abandoned
   header the user asked for) keep their label, so only the general clean-ups apply;
2. its text is cleaned and formatted: literal ``\\t`` at the ends, runs of ``.``, ``·``, ``_`` and ``\\_`` cut to
   three, long repeated stretches cut (texts of 2048+ characters), ``$ x $`` -> ``$x$`` with a space to the words
   around it; titles become ``#`` / ``##`` headings; formulas are ``$$``-fenced on their own lines; text blocks
   close an unclosed code fence, turn ``·``/``•``/``*`` bullets into ``- ``, space out ``(1)``/``1.`` numbering and
   double single line breaks (Markdown paragraphs);
3. empty blocks are dropped (pictures are kept);
4. a formula number next to a formula (before or after it) is merged into it as ``\\tag{n}``; a lone number is
   dropped; a text block ending in "-" is joined with the next text block that starts in lower case when the
   joined word looks like a word; a text block between two bullet items, left-aligned with them within 10/1000 of
   the page, becomes a bullet item too;
5. pictures are linked by their saved crop (``image_path``); one without a saved crop is left out.

Left out from the SDK's formatter: the ``wordfreq`` word check for hyphen joins (the SDK uses it only when that
package is installed; we always use its fallback, the shape of the word), and its JSON output (the converter
writes its own, with every region).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, replace
from typing import Protocol, Sequence

from ..tasks.tables import parse_html_table
from .blocks import ABANDONED_TASK, PICTURE_TASK

KIND_OF_TASK = {"text": "text", "table": "table", "formula": "formula", PICTURE_TASK: "image"}
DOC_TITLE, PARAGRAPH_TITLE, FORMULA_NUMBER = "doc_title", "paragraph_title", "formula_number"
LONG_TEXT = 2048  # the repeated-content cut applies from this many characters
BULLET_ALIGN = 10.0  # thousandths of the page width


class Block(Protocol):
    """What the formatter reads (``blocks.DocumentBlock`` has it all)."""

    label: str
    task: str
    text: str | None
    order: int
    bbox_2d: tuple | None
    image_path: str | None


@dataclass(frozen=True)
class MarkdownPiece:
    """One paragraph of a page's Markdown and the blocks it comes from (their ``order``s; a formula with its
    number, or a hyphen-joined text, comes from two), so a view can map a click on it back to its regions."""

    orders: tuple[int, ...]
    text: str


@dataclass(frozen=True)
class _Entry:
    orders: tuple[int, ...]
    kind: str
    label: str
    content: str | None
    bbox_2d: tuple | None
    image_path: str | None


def format_markdown(pages: Sequence[Sequence[Block]], *, page_numbers: Sequence[int] | None = None,
                    include_abandoned: bool = False, tables_as_markdown: bool = True,
                    page_markers: bool = True) -> str:
    """The whole document: its pages (each a list of blocks) in order, numbered ``page_numbers`` (default 1..)."""
    numbers = list(page_numbers) if page_numbers is not None else list(range(1, len(pages) + 1))
    parts = []
    for number, blocks in zip(numbers, pages):
        body = format_page(blocks, include_abandoned=include_abandoned, tables_as_markdown=tables_as_markdown)
        marker = page_marker(number) if page_markers else ""
        parts.append("\n\n".join(part for part in (marker, body) if part) if page_markers else body)
    text = "\n\n".join(parts)
    return text + "\n" if text and page_markers else text


def page_marker(number: int) -> str:
    return f"<!-- page {number} -->"


def format_page(blocks: Sequence[Block], *, include_abandoned: bool = False, tables_as_markdown: bool = True) -> str:
    pieces = page_pieces(blocks, include_abandoned=include_abandoned, tables_as_markdown=tables_as_markdown)
    return "\n\n".join(piece.text for piece in pieces)


def page_pieces(blocks: Sequence[Block], *, include_abandoned: bool = False,
                tables_as_markdown: bool = True) -> list[MarkdownPiece]:
    """One page's Markdown, paragraph by paragraph, in reading order."""
    entries = [_entry(block, tables_as_markdown) for block in sorted(blocks, key=lambda b: b.order)
               if include_abandoned or block.task != ABANDONED_TASK]
    entries = [e for e in entries if e.kind == "image" or (e.content is not None and e.content.strip())]
    entries = format_bullet_points(merge_text_blocks(merge_formula_numbers(entries)))
    return [piece for piece in map(_piece, entries) if piece is not None]


def _entry(block: Block, tables_as_markdown: bool) -> _Entry:
    kind = KIND_OF_TASK.get(block.task, block.label)
    content = format_content(block.text, kind, block.label)
    if kind == "table" and tables_as_markdown and content:
        content = markdown_table(content)
    bbox = tuple(block.bbox_2d) if block.bbox_2d else None
    return _Entry((block.order,), kind, block.label, content, bbox, getattr(block, "image_path", None))


def _piece(entry: _Entry) -> MarkdownPiece | None:
    if entry.kind == "image":
        return MarkdownPiece(entry.orders, f"![{entry.label}]({link_target(entry.image_path)})") \
            if entry.image_path else None
    return MarkdownPiece(entry.orders, entry.content) if entry.content else None


def link_target(path: str) -> str:
    """A relative file path as a Markdown link target: spaces and brackets would end the link, so the path goes
    in angle brackets when it has any."""
    return f"<{path}>" if re.search(r"[\s()<>]", path) else path


# ---- one block ------------------------------------------------------------------------------------------------


def format_content(content: str | None, kind: str, label: str) -> str | None:
    if content is None:
        return None
    if kind == "table" and content.startswith("<table") and content.endswith("</table>"):
        content = content.strip()
    elif kind == "formula" and content.startswith("$$") and content.endswith("$$"):
        content = content.strip()
    else:
        content = clean_content(content)
    content = _as_title(content, label)
    if kind == "formula":
        return _fenced_formula(content)
    if kind == "text":
        return _format_text(content)
    return content


def _as_title(content: str, label: str) -> str:
    if label == DOC_TITLE:
        return "# " + re.sub(r"^#+\s*", "", content)
    if label == PARAGRAPH_TITLE:
        if content.startswith(("- ", "* ")):
            content = content[2:].lstrip()
        return "## " + re.sub(r"^#+\s*", "", content).lstrip()
    return content


def _fenced_formula(content: str) -> str:
    if content.startswith(("$$", "\\[", "\\(")):
        content = content[2:].strip()
    if content.endswith(("$$", "\\]", "\\)")):
        content = content[:-2].strip()
    return f"$$\n{content}\n$$"


_PAREN_NUMBER = re.compile(r"^([(（])(\d+|[A-Za-z])([)）])(.*)$")
_DOTTED_NUMBER = re.compile(r"^(\d+|[A-Za-z])([.)）])(.*)$")


def _format_text(content: str) -> str:
    if content.startswith("```") and not content.endswith("```"):
        content += "\n```"
    if content.startswith(("·", "•", "* ")):
        content = "- " + content[1:].lstrip()
    paren = _PAREN_NUMBER.match(content)
    if paren:
        content = f"({paren.group(2)}) {paren.group(4).lstrip()}"
    dotted = _DOTTED_NUMBER.match(content)
    if dotted:
        separator = ")" if dotted.group(2) == "）" else dotted.group(2)
        content = f"{dotted.group(1)}{separator} {dotted.group(3).lstrip()}"
    return re.sub(r"(?<!\n)\n(?!\n)", "\n\n", content)  # a single line break is no paragraph in Markdown


def markdown_table(html: str) -> str:
    """A complete HTML table without spans as a pipe table; anything else as it is."""
    if not (html.startswith("<table") and html.endswith("</table>")):
        return html
    try:
        grid = parse_html_table(html)
    except ValueError:
        return html
    if grid.has_spans() or grid.n_cols == 0:
        return html
    return grid.to_markdown().rstrip("\n")


# ---- clean-ups ------------------------------------------------------------------------------------------------

_RUNS = [re.compile(r"(\.)\1{2,}"), re.compile(r"(·)\1{2,}"), re.compile(r"(_)\1{2,}"), re.compile(r"(\\_)\1{2,}")]


def clean_content(content: str | None) -> str:
    if content is None:
        return ""
    content = re.sub(r"^(\\t)+", "", content).lstrip()
    content = re.sub(r"(\\t)+$", "", content).rstrip()
    for run in _RUNS:
        content = run.sub(r"\1\1\1", content)
    if len(content) >= LONG_TEXT:
        content = cut_repeats(content)
    return normalize_inline_formulas(content).strip()


def cut_repeats(content: str, unit: int = 10, times: int = 10, lines_needed: int = 10) -> str:
    """A stretch of ``unit``+ characters repeated ``times``+ times in a row is cut after its first copy; failing
    that, a text whose lines are 80%+ one line (``lines_needed``+ times) is cut after the first three-in-a-row."""
    text = content.strip()
    if not text:
        return content
    if len(text) > unit * times:
        cut = _cut_consecutive(text, unit, times)
        if cut is not None:
            return cut
    return _cut_repeated_lines(content, lines_needed)


def _cut_consecutive(text: str, unit: int, times: int) -> str | None:
    longest = len(text) // times
    if longest < unit:
        return None
    match = re.search(r"(.{%d,%d}?)\1{%d,}" % (unit, longest, times - 1), text, re.DOTALL)
    return text[: match.start()] + match.group(1) if match else None


def _cut_repeated_lines(content: str, lines_needed: int) -> str:
    lines = [line.strip() for line in content.split("\n") if line.strip()]
    if len(lines) < lines_needed:
        return content
    common, count = Counter(lines).most_common(1)[0]
    if count < lines_needed or count / len(lines) < 0.8:
        return content
    first_run = next((i for i in range(len(lines)) if lines[i:i + 3] == [common] * 3), None)
    if first_run is None or lines.index(common) != first_run:
        # the first occurrence of the line decides: when it does not start a run of three, nothing is cut
        return content
    return _through_nonempty_line(content, first_run)


def _through_nonempty_line(content: str, index: int) -> str:
    """``content`` up to and including its ``index``-th (0-based) non-empty line."""
    seen = -1
    original = content.split("\n")
    for position, line in enumerate(original):
        if line.strip():
            seen += 1
            if seen == index:
                return "\n".join(original[: position + 1])
    return content


_INLINE_FORMULA = re.compile(r"(?<!\$)\$\s*((?:[^$\\]|\\.)+?)\s*\$(?!\$)")


def normalize_inline_formulas(content: str) -> str:
    """``$ x $`` -> ``$x$``, with a space between the formula and a letter or digit touching it."""
    if "$" not in content:
        return content
    parts, last = [], 0
    for match in _INLINE_FORMULA.finditer(content):
        formula = match.group(1).strip()
        if not formula:
            continue
        before = content[last: match.start()]
        parts.append(before + " " if before and before[-1].isalnum() else before)
        parts.append(f"${formula}$")
        if match.end() < len(content) and content[match.end()].isalnum():
            parts.append(" ")
        last = match.end()
    return "".join(parts) + content[last:] if parts else content


# ---- across blocks --------------------------------------------------------------------------------------------


def formula_number(content: str) -> str:
    """"(1)", "（2.1）" or "3" -> "1", "2.1", "3"."""
    number = content.strip()
    if (number.startswith("(") and number.endswith(")")) or (number.startswith("（") and number.endswith("）")):
        return number[1:-1]
    return number


def _tagged(formula: _Entry, number: _Entry) -> _Entry:
    content = formula.content or ""
    if content.endswith("\n$$"):
        content = content[:-3] + f" \\tag{{{formula_number(number.content or '')}}}\n$$"
    return replace(formula, content=content, orders=tuple(sorted(formula.orders + number.orders)))


def merge_formula_numbers(entries: list[_Entry]) -> list[_Entry]:
    """A formula number before or after a formula becomes its ``\\tag``; a number with no formula after it (and
    not after one) is dropped."""
    merged, index = [], 0
    while index < len(entries):
        entry = entries[index]
        following = entries[index + 1] if index + 1 < len(entries) else None
        if entry.label == FORMULA_NUMBER:
            if following is not None and following.kind == "formula":
                merged.append(_tagged(following, entry))
                index += 1
        elif entry.kind == "formula" and following is not None and following.label == FORMULA_NUMBER:
            merged.append(_tagged(entry, following))
            index += 1
        else:
            merged.append(entry)
        index += 1
    return merged


def looks_like_word(word: str) -> bool:
    """The SDK's word check without a word list: letters (and ' or -), 3 to 31 long, no doubled marks."""
    token = word.strip().lower()
    return bool(re.fullmatch(r"[a-z][a-z'\-]{2,30}", token)) and "--" not in token and "''" not in token


def merge_text_blocks(entries: list[_Entry]) -> list[_Entry]:
    """A text block ending in "-" joined with the next text block that starts in lower case, when the two word
    halves make a word."""
    merged, used = [], set()
    for index, entry in enumerate(entries):
        if index in used:
            continue
        partner = _hyphen_partner(entries, index) if _ends_in_hyphen(entry) else None
        if partner is None:
            merged.append(entry)
            continue
        used.add(partner)
        joined = entry.content.rstrip()[:-1] + entries[partner].content.lstrip()
        merged.append(replace(entry, content=joined, orders=entry.orders + entries[partner].orders))
    return merged


def _ends_in_hyphen(entry: _Entry) -> bool:
    return entry.kind == "text" and isinstance(entry.content, str) and entry.content.rstrip().endswith("-")


def _hyphen_partner(entries: list[_Entry], index: int) -> int | None:
    """The first later text block that starts in lower case, if the two word halves make a word. (As the SDK
    does, text blocks in between that start otherwise are passed over, not a reason to stop.)"""
    for later in range(index + 1, len(entries)):
        following = (entries[later].content or "").lstrip() if entries[later].kind == "text" else ""
        if not following or not following[0].islower():
            continue
        before, after = entries[index].content.rstrip()[:-1].split(), following.split()
        return later if before and after and looks_like_word(before[-1] + after[0]) else None
    return None


def format_bullet_points(entries: list[_Entry]) -> list[_Entry]:
    """A plain text block between two bullet items, left-aligned with both, becomes a bullet item."""
    entries = list(entries)
    for index in range(1, len(entries) - 1):
        before, current, after = entries[index - 1], entries[index], entries[index + 1]
        if not all(e.label == "text" for e in (before, current, after)) or current.content.startswith("- "):
            continue
        if not (before.content.startswith("- ") and after.content.startswith("- ")):
            continue
        if not (current.bbox_2d and before.bbox_2d and after.bbox_2d):
            continue
        left = current.bbox_2d[0]
        if abs(left - before.bbox_2d[0]) <= BULLET_ALIGN and abs(left - after.bbox_2d[0]) <= BULLET_ALIGN:
            entries[index] = replace(current, content="- " + current.content)
    return entries
