"""The OCR tasks as data: the prompt each one sends, its token budget, and how its output is parsed.

Prompts are the model card's ("Prompt Limited"): the model was trained on exactly these strings, so they are
not paraphrased or translated.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from glmocr_core.api import TASKS
from glmocr_core.errors import InputError, UsageError
from glmocr_core.repetition import RepetitionConfig
from glmocr_core.tables import parse_html_table

EXTRACT_PREFIX = "请按下列JSON格式输出图中信息:\n"


@dataclass(frozen=True)
class TaskSpec:
    name: str
    prompt: str  # for "extract" the prefix; the user's JSON template follows it
    max_new_tokens: int
    label: str
    repetition: RepetitionConfig = RepetitionConfig()


# Token budgets. They bound a run that escapes the repetition guard (at ~10 tokens/s on a CPU, 4096 tokens is
# about 7 minutes) while leaving room for real content:
# - text 4096: a dense A4 page is roughly 1,500-3,000 tokens of text with this vocabulary.
# - formula 1024: one display formula is rarely more than a few hundred LaTeX tokens.
# - table 4096: HTML markup costs several tokens per cell, so a 30x8 table already needs ~2,500.
# - extract 2048: the answer is the user's template with values filled in, usually far shorter than a page.
# Tables get a longer repetition span: a blank form legitimately repeats the same empty row many times
# (a 10-column empty row is ~25 tokens, so 768 tokens allow about 30 identical rows before it counts as a loop).
_TABLE_REPETITION = RepetitionConfig(min_span=768)
TASK_SPECS: dict[str, TaskSpec] = {
    "text": TaskSpec("text", "Text Recognition:", 4096, "Text"),
    "formula": TaskSpec("formula", "Formula Recognition:", 1024, "Formula"),
    "table": TaskSpec("table", "Table Recognition:", 4096, "Table", _TABLE_REPETITION),
    "extract": TaskSpec("extract", EXTRACT_PREFIX, 2048, "Extract (JSON)"),
}
assert tuple(TASK_SPECS) == TASKS, "the task registry and glmocr_core.api.TASKS must list the same tasks"


def task_spec(task: str) -> TaskSpec:
    spec = TASK_SPECS.get(task)
    if spec is None:
        raise UsageError(f"unknown task {task!r}; choose one of: {', '.join(TASK_SPECS)}")
    return spec


def default_max_new_tokens(task: str) -> int:
    return task_spec(task).max_new_tokens


def repetition_config(task: str) -> RepetitionConfig:
    return task_spec(task).repetition


def task_prompt(task: str, schema: str | None = None) -> str:
    """The user text sent with the image. ``schema`` (a JSON template) is required for "extract" only and
    ignored by the other tasks, so a client may keep it set while switching tasks."""
    spec = task_spec(task)
    if task != "extract":
        return spec.prompt
    if schema is None or not schema.strip():
        raise UsageError("the extract task needs a JSON template (schema) saying which fields to fill in")
    template = schema.lstrip("\ufeff").strip()
    try:
        json.loads(template)
    except json.JSONDecodeError as exc:
        raise InputError(f"the JSON template is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}")
    return spec.prompt + template


# ---- output parsing -------------------------------------------------------------------------------------

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


_FENCE = re.compile(r"```[A-Za-z0-9_-]*[ \t]*\r?\n?(.*?)(?:```|\Z)", re.DOTALL)


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
