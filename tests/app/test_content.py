"""What a region's result reads as when it has no parsed value (an edit, an old session): the core's parsers, so it
matches what a live result of the same text shows."""

from glmocr_core.tasks.parsing import parse_output

from app.document.content import extract_data, formula_latex, region_markdown
from app.document.model import DONE, Region


def finished(task: str, text: str, edited: str | None = None) -> Region:
    return Region(page=0, box=(0, 0, 10, 10), task=task, state=DONE, text=text, edited_text=edited,
                  result={"task": task, "text": text, "parsed": None})


def test_formula_text_without_parsed_latex_reads_like_a_live_result():
    for text in ("$$x^2$$", "\\[\\frac{a}{b}\\]", "$$\\[x\\]$$", "$a$ + $b$"):
        assert formula_latex(finished("formula", text)) == parse_output("formula", text)[0]
    assert formula_latex(finished("formula", "$a$ + $b$")) == "$a$ + $b$"  # two formulas, not one wrapped one


def test_extract_json_is_found_in_a_fence_inside_prose():
    data, error = extract_data(finished("extract", 'Here it is:\n```json\n{"a": 1}\n```\nthanks'))
    assert (data, error) == ({"a": 1}, None)
    assert region_markdown(finished("extract", '```json\n{"a": 1}')) == '```json\n{\n  "a": 1\n}\n```'


def test_extract_errors_are_the_cores_and_scalars_are_refused():
    assert extract_data(finished("extract", '{"a": ')) == parse_output("extract", '{"a": ')
    data, error = extract_data(finished("extract", "{}", edited="42"))
    assert data is None and "object or list" in error
