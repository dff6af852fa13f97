"""Reading the model's output per task: LaTeX without its wrappers, JSON out of code fences, HTML tables as grids.

The one implementation of this parsing: the engine fills ``OcrResult.parsed`` with it and the app reuses it for
text the user edits.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .specs import task_spec
from .tables import parse_html_table

# (opening, closing) pairs the model or SDK wraps formulas in; the longer "$$" must be tried before "$".
_FORMULA_WRAPPERS = (("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"), ("$", "$"))


def strip_formula_wrappers(text: str) -> str:
    """LaTeX without a surrounding $$..$$, \\[..\\], \\(..\\) or $..$ (nested wrappers too)."""
    latex = text.strip()
    while True:
        inner = _unwrap_once(latex)
        if inner is None:
            return latex
        latex = inner


def _unwrap_once(latex: str) -> str | None:
    for opening, closing in _FORMULA_WRAPPERS:
        if len(latex) >= len(opening) + len(closing) and latex.startswith(opening) and latex.endswith(closing):
            inner = latex[len(opening): len(latex) - len(closing)]
            # "$a$ + $b$" starts and ends with "$" but is two formulas, not one wrapped formula
            if _unescaped(inner, closing):
                continue
            return inner.strip()
    return None


def _unescaped(text: str, token: str) -> bool:
    """Whether ``token`` occurs in ``text`` other than backslash-escaped (as in "\\$")."""
    pattern = r"(?<!\\)(?:\\\\)*" + re.escape(token) if not token.startswith("\\") else re.escape(token)
    return re.search(pattern, text) is not None


_FENCE = re.compile(r"```[A-Za-z0-9_+#.-]*[ \t]*\r?\n?(.*?)(?:```|\Z)", re.DOTALL)  # ```json, ```c++, ```c#


def strip_code_fences(text: str) -> str:
    """The content of the first ``` / ```json fence, or the whole text when there is none."""
    match = _FENCE.search(text)
    return (match.group(1) if match else text).strip()


def parse_json_output(text: str) -> tuple[Any, str | None]:
    body = strip_code_fences(text)
    if not body:
        return None, "the output is empty, so there is no JSON to read"
    try:
        value = json.loads(body)
    except json.JSONDecodeError as exc:
        return None, f"the output is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
    if not isinstance(value, (dict, list)):
        return None, f"expected a JSON object or list, got {type(value).__name__}"
    return value, None


def parse_table_output(text: str) -> tuple[Any, str | None]:
    try:
        return parse_html_table(text), None
    except ValueError as exc:
        return None, f"no table could be read from the output: {exc}"


def parse_output(task: str, text: str) -> tuple[Any, str | None]:
    """(parsed value, None) or (None, readable error). The caller keeps the raw text either way."""
    task_spec(task)
    if task == "formula":
        return strip_formula_wrappers(text), None
    if task == "table":
        return parse_table_output(text)
    if task == "extract":
        return parse_json_output(text)
    return None, None
