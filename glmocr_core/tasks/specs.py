"""The OCR tasks as data: the prompt each one sends, its token budget and its repetition guard.

Prompts are the model card's ("Prompt Limited"): the model was trained on exactly these strings, so they are
not paraphrased or translated.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..api import TASKS
from ..errors import InputError, UsageError
from ..runtime.repetition import RepetitionConfig

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
# The most tokens any request may ask for. The KV cache is allocated up front for prompt + budget (about 128 KiB a
# token in fp32 at the published size, so 16384 tokens is 2 GiB); four times the longest task default.
MAX_NEW_TOKENS = 16384
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
