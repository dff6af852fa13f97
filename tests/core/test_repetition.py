"""Repetition guard on scripted token streams."""

from __future__ import annotations

import random

import pytest

from glmocr_core.runtime.repetition import RepetitionConfig, RepetitionGuard
from glmocr_core.tasks.specs import repetition_config


def _feed(guard: RepetitionGuard, ids: list[int]) -> int | None:
    """Push ids until the guard fires; return how many were pushed at that point (None if it never fired)."""
    for count, token_id in enumerate(ids, start=1):
        if guard.push(token_id):
            return count
    return None


def _varied_words(rng: random.Random, n: int) -> str:
    words = ["the", "invoice", "total", "amount", "table", "row", "page", "見積", "合計", "formula", "x^2", "2024",
             "results", "method", "|", "---", "<td>", "</td>", "...", "quick", "fox", "中文", "数据", "Σ"]
    lines = []
    for _ in range(n):
        lines.append(" ".join(rng.choice(words) for _ in range(rng.randrange(3, 12))))
    return "\n".join(lines)


# ---- loops are caught ---------------------------------------------------------------------------------------


def test_a_looping_line_is_caught_and_trimmed_to_its_first_copy(glm_tokenizer):
    ids = glm_tokenizer.encode("Invoice 2024\n" + "Total amount 1,234.56 EUR\n" * 300)
    guard = RepetitionGuard(boundaries=glm_tokenizer.cut_boundaries())
    fired_at = _feed(guard, ids)
    assert fired_at is not None and fired_at < len(ids) // 2
    assert glm_tokenizer.decode(ids[: guard.trim_point()]) == "Invoice 2024\nTotal amount 1,234.56 EUR\n"


def test_without_line_breaks_the_trim_keeps_exactly_one_period(glm_tokenizer):
    prefix = glm_tokenizer.encode("<table><tr><td>Name</td></tr>")
    unit = glm_tokenizer.encode("<tr><td>same</td><td>cells</td></tr>")
    guard = RepetitionGuard()
    ids = prefix + unit * 100
    fired_at = _feed(guard, ids)
    assert fired_at is not None
    start, period = guard.loop
    assert period == len(unit)
    keep = guard.trim_point()
    assert keep == start + period
    kept, pushed = ids[:keep], ids[:fired_at]
    # everything dropped is a repeat of the kept copy
    assert all(pushed[i] == pushed[i - period] for i in range(keep, fired_at))
    assert glm_tokenizer.decode(kept).count("same") == 1


def test_a_single_token_loop_fires_exactly_at_the_minimum_span():
    config = RepetitionConfig()
    prefix = list(range(100, 150))
    guard = RepetitionGuard(config)
    fired_at = _feed(guard, prefix + [7] * 2000)
    assert fired_at == len(prefix) + config.required_span(1)
    assert guard.trim_point() == len(prefix) + 1


def test_a_long_unit_needs_min_repeats_copies():
    config = RepetitionConfig(max_period=256, min_repeats=4, min_span=64)
    unit = list(range(1000, 1100))  # 100 distinct tokens: four copies = 400 > min_span
    guard = RepetitionGuard(config)
    assert _feed(guard, [1] + unit * 3) is None
    assert _feed(guard, unit) == len(unit)  # the fourth copy completes the loop
    assert guard.trim_point() == 1 + len(unit)


def test_units_longer_than_max_period_are_not_tracked():
    unit = list(range(10))
    assert _feed(RepetitionGuard(RepetitionConfig(max_period=8, min_span=30)), unit * 50) is None
    assert _feed(RepetitionGuard(RepetitionConfig(max_period=16, min_span=30)), unit * 50) is not None


def test_after_firing_the_guard_stays_fired_and_the_trim_point_is_stable():
    guard = RepetitionGuard(RepetitionConfig(min_span=10))
    _feed(guard, [5] * 10)
    keep = guard.trim_point()
    assert guard.detected and guard.push(6) and guard.push(7)
    assert guard.trim_point() == keep


# ---- legitimate repetition is left alone ---------------------------------------------------------------------


def test_a_long_table_of_empty_cells_does_not_trigger(glm_tokenizer):
    rows = "".join(f"<tr><td>Item {i}</td>" + "<td></td>" * 30 + "</tr>" for i in range(60))
    ids = glm_tokenizer.encode("<table>" + rows + "</table>")
    assert len(ids) > 5000
    assert _feed(RepetitionGuard(), ids) is None
    assert _feed(RepetitionGuard(repetition_config("table")), ids) is None


def test_a_blank_form_passes_with_the_table_config_but_a_runaway_row_does_not(glm_tokenizer):
    row = glm_tokenizer.encode("<tr>" + "<td></td>" * 10 + "</tr>")
    header = glm_tokenizer.encode("<table><tr><th>Date</th><th>Signature</th></tr>")
    form = header + row * 12
    assert _feed(RepetitionGuard(repetition_config("table")), form) is None
    guard = RepetitionGuard(repetition_config("table"), boundaries=glm_tokenizer.cut_boundaries())
    assert _feed(guard, header + row * 1000) is not None
    assert guard.trim_point() == len(header) + len(row)


def test_dot_leaders_in_a_table_of_contents_do_not_trigger(glm_tokenizer):
    lines = [f"{i}. Chapter title number {i} " + "." * (40 + i % 7) + f" {3 * i + 1}" for i in range(1, 80)]
    ids = glm_tokenizer.encode("\n".join(lines))
    assert _feed(RepetitionGuard(), ids) is None


def test_a_row_of_many_dots_or_dashes_does_not_trigger(glm_tokenizer):
    ids = glm_tokenizer.encode("Total" + "." * 150 + " 12\n" + "-" * 150 + "\n| --- | --- | --- | --- |\n")
    assert _feed(RepetitionGuard(), ids) is None


def test_normal_text_never_triggers(glm_tokenizer):
    rng = random.Random(7)
    ids = glm_tokenizer.encode(_varied_words(rng, 600))
    assert len(ids) > 10000
    guard = RepetitionGuard(boundaries=glm_tokenizer.cut_boundaries())
    assert _feed(guard, ids) is None
    assert guard.trim_point() == len(ids)


@pytest.mark.parametrize("seed", range(3))
def test_random_token_streams_never_trigger(seed):
    rng = random.Random(seed)
    ids = [rng.randrange(0, 500) for _ in range(20000)]
    assert _feed(RepetitionGuard(), ids) is None


def test_line_ends_are_preferred_over_tag_ends_when_trimming(glm_tokenizer):
    # the intro shares its ending " text\n" with the loop, so the loop's first copy is found rotated
    ids = glm_tokenizer.encode("Intro text\n" + "a <b>bold</b> text\n" * 200)
    guard = RepetitionGuard(boundaries=glm_tokenizer.cut_boundaries())
    assert _feed(guard, ids) is not None
    assert guard.loop[0] < len(glm_tokenizer.encode("Intro text\n")) - 1
    assert glm_tokenizer.decode(ids[: guard.trim_point()]) == "Intro text\na <b>bold</b> text\n"
    lines, tags = glm_tokenizer.cut_boundaries()
    tags_only = RepetitionGuard(boundaries=[tags])
    _feed(tags_only, ids)
    assert glm_tokenizer.decode(ids[: tags_only.trim_point()]).endswith("</b>")
