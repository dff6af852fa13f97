"""Task prompts, token budgets and output parsing."""

from __future__ import annotations

import json

import pytest

from glmocr_core.api import TASKS
from glmocr_core.errors import InputError, UsageError
from glmocr_core.runtime.repetition import RepetitionConfig
from glmocr_core.tasks.parsing import parse_output, strip_code_fences, strip_formula_wrappers
from glmocr_core.tasks.specs import EXTRACT_PREFIX, TASK_SPECS, default_max_new_tokens, repetition_config, task_prompt
from glmocr_core.tasks.tables import TableGrid

SCHEMA = '{"invoice_no": "", "seller": {"name": ""}, "items": [{"price": ""}]}'

# ---- prompts ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("task, prompt", [("text", "Text Recognition:"), ("formula", "Formula Recognition:"),
                                          ("table", "Table Recognition:")])
def test_document_parsing_prompts_are_the_model_card_strings(task, prompt):
    assert task_prompt(task) == prompt


def test_extract_prompt_is_the_fixed_prefix_then_the_users_template():
    assert EXTRACT_PREFIX == "请按下列JSON格式输出图中信息:\n"
    assert task_prompt("extract", SCHEMA) == "请按下列JSON格式输出图中信息:\n" + SCHEMA


def test_extract_template_is_kept_verbatim_apart_from_surrounding_whitespace():
    pretty = json.dumps(json.loads(SCHEMA), indent=2, ensure_ascii=False)
    assert task_prompt("extract", "\ufeff\n" + pretty + "\n\n") == EXTRACT_PREFIX + pretty


def test_schema_is_ignored_by_the_other_tasks():
    assert task_prompt("text", SCHEMA) == task_prompt("text")


def test_unknown_task_is_a_usage_error_listing_the_tasks():
    with pytest.raises(UsageError) as caught:
        task_prompt("summary")
    assert all(name in str(caught.value) for name in TASKS)


@pytest.mark.parametrize("schema", [None, "", "   \n"])
def test_extract_without_a_template_is_a_usage_error(schema):
    with pytest.raises(UsageError, match="JSON template"):
        task_prompt("extract", schema)


@pytest.mark.parametrize("schema", ['{"name": ', "{'single': 'quotes'}", "name: value"])
def test_extract_with_a_template_that_is_not_json_is_an_input_error(schema):
    with pytest.raises(InputError, match="line 1"):
        task_prompt("extract", schema)


def test_every_api_task_has_a_positive_token_budget():
    assert set(TASK_SPECS) == set(TASKS)
    for task in TASKS:
        assert default_max_new_tokens(task) > 0
    # a single formula needs far fewer tokens than a page of text or a table
    assert default_max_new_tokens("formula") < default_max_new_tokens("text")
    assert default_max_new_tokens("formula") < default_max_new_tokens("table")


def test_tables_tolerate_longer_repeats_than_text():
    assert isinstance(repetition_config("text"), RepetitionConfig)
    assert repetition_config("table").min_span > repetition_config("text").min_span


# ---- formula --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["$$x^2 + 1$$", "$$\nx^2 + 1\n$$", "\\[x^2 + 1\\]", "\\[ x^2 + 1 \\]",
                                 "\\(x^2 + 1\\)", "$x^2 + 1$", "  \n$$ x^2 + 1 $$\n", "x^2 + 1",
                                 "$$\n\\[ x^2 + 1 \\]\n$$"])
def test_formula_wrappers_are_stripped(raw):
    assert parse_output("formula", raw) == ("x^2 + 1", None)


@pytest.mark.parametrize("raw", ["$a$ + $b$", "\\(a\\) and \\(b\\)", "\\[a\\] = \\[b\\]"])
def test_two_formulas_are_not_mistaken_for_one_wrapper(raw):
    assert strip_formula_wrappers(raw) == raw


def test_escaped_dollar_inside_a_formula_is_kept():
    assert strip_formula_wrappers("$\\$5 + \\$3$") == "\\$5 + \\$3"


def test_formula_with_environment_keeps_its_inner_structure():
    latex = "\\begin{aligned} a &= b \\\\ c &= d \\end{aligned}"
    assert strip_formula_wrappers(f"$$\n{latex}\n$$") == latex


# ---- table ----------------------------------------------------------------------------------------------------


def test_table_output_becomes_a_grid():
    parsed, error = parse_output("table", '<table border="1"><tr><td>a</td><td>b</td></tr></table>')
    assert error is None and isinstance(parsed, TableGrid)
    assert parsed.to_matrix() == [["a", "b"]]


def test_table_output_without_a_table_reports_an_error():
    parsed, error = parse_output("table", "Sorry, I see no table.")
    assert parsed is None and "no table" in error


# ---- extract --------------------------------------------------------------------------------------------------

FILLED = {"invoice_no": "A-17", "seller": {"name": "ACME 公司"}, "items": [{"price": "12.50"}]}


@pytest.mark.parametrize("wrap", ["{}", "```json\n{}\n```", "```\n{}\n```", "```JSON\n{}```", "  ```json {}```  ",
                                  "Here you go:\n```json\n{}\n```\nDone.", "```json\n{}"])
def test_extract_strips_code_fences_and_parses_json(wrap):
    text = wrap.replace("{}", json.dumps(FILLED, ensure_ascii=False, indent=1))
    assert parse_output("extract", text) == (FILLED, None)


def test_extract_accepts_a_top_level_list():
    assert parse_output("extract", '[{"a": 1}]') == ([{"a": 1}], None)


@pytest.mark.parametrize("text", ['{"invoice_no": "A-17", "seller": {"name": ', '{"a": 1,}', "```json\n{'a': 1}\n```"])
def test_extract_bad_json_returns_a_readable_error(text):
    parsed, error = parse_output("extract", text)
    assert parsed is None
    assert error.startswith("the output is not valid JSON") and "line" in error and "column" in error


@pytest.mark.parametrize("text, word", [("", "empty"), ("```json\n```", "empty"), ('"just a string"', "str"),
                                        ("42", "int")])
def test_extract_empty_or_scalar_output_is_an_error(text, word):
    parsed, error = parse_output("extract", text)
    assert parsed is None and word in error


# ---- text and unknown -----------------------------------------------------------------------------------------


def test_text_output_is_not_parsed():
    assert parse_output("text", "# Title\n\nbody $x$ <table>") == (None, None)


def test_parsing_an_unknown_task_is_a_usage_error():
    with pytest.raises(UsageError):
        parse_output("ocr", "x")


@pytest.mark.parametrize("fence, body", [("```json\n{\"a\": 1}\n```", '{"a": 1}'), ("```c++\nint x;\n```", "int x;"),
                                         ("```c#\nvar x;\n```", "var x;"), ("no fence", "no fence")])
def test_code_fence_language_tags_are_not_content(fence, body):
    assert strip_code_fences(fence) == body
