"""Exports say when a result is not the model's whole answer (stopped, interrupted, cut by the repetition guard or
the token budget, still running) or a region failed, in every format; documents of several pages get a heading per
page, one-page documents none."""

import json

import pytest

from app.document.export import (caveat, document_json, document_markdown, document_text, export_tables_csv,
                                 export_text, table_csv_files)
from app.document.model import (CANCELLED, DONE, FAILED, RUNNING, STOPPED_BY_ENGINE, STOPPED_BY_USER,
                                DocumentSession, Region)

TABLE = "<table><tr><td>a</td><td>b</td></tr></table>"


def result(task: str, text: str, stop_reason: str = "eos", tokens: int = 0) -> dict:
    return {"task": task, "text": text, "parsed": None, "parse_error": None, "stop_reason": stop_reason,
            "new_tokens": tokens}


def region(page: int, top: float, task: str = "text", text: str = "words", **fields) -> Region:
    return Region(page=page, box=(10, top, 300, top + 50), task=task, id=f"p{page}-{int(top)}", text=text, **fields)


def document(*regions: Region, pages: int = 1) -> DocumentSession:
    doc = DocumentSession(path="/docs/scan.pdf", kind="pdf", page_count=pages, name="scan.pdf")
    for each in regions:
        doc.add_region(each)
    return doc


def stopped_by_user() -> Region:
    return region(0, 10, text="The first half of a", state=CANCELLED, stop_cause=STOPPED_BY_USER)


@pytest.mark.parametrize("made, expected", [
    (lambda: stopped_by_user(), "partial: stopped"),
    (lambda: region(0, 10, state=CANCELLED, stop_cause=STOPPED_BY_ENGINE),
     "partial: interrupted when the engine stopped"),
    (lambda: region(0, 10, state=DONE, result=result("text", "w", "repetition", 812)),
     "partial: cut by the repetition guard after 812 tokens"),
    (lambda: region(0, 10, state=DONE, result=result("text", "w", "max_tokens", 4096)),
     "partial: cut at the token budget after 4096 tokens"),
    (lambda: region(0, 10, state=DONE, result=result("text", "w", "cancelled", 30)), "partial: stopped after 30 tokens"),
    (lambda: region(0, 10, state=RUNNING), "partial: still being recognized when exported"),
    (lambda: region(0, 10, text="", state=FAILED, error="the page is blank"), "failed: the page is blank"),
    (lambda: region(0, 10, state=DONE, result=result("text", "w")), None),
])
def test_each_kind_of_incomplete_result_has_its_caveat(made, expected):
    assert caveat(made()) == expected


def test_markdown_marks_a_stopped_region_and_lists_a_failed_one():
    doc = document(stopped_by_user(), region(0, 100, text="Whole.", state=DONE, result=result("text", "Whole.")),
                   region(0, 200, text="", state=FAILED, error="out of memory\nwhile decoding"))
    assert document_markdown(doc) == ("> **Partial:** stopped\n\nThe first half of a\n\nWhole.\n\n"
                                      "> **Failed:** out of memory while decoding\n")


def test_text_export_marks_them_too(tmp_path):
    doc = document(stopped_by_user(), region(0, 100, text="Whole *text*.", state=DONE, result=result("text", "x")))
    assert document_text(doc) == "[partial: stopped]\n\nThe first half of a\n\nWhole text.\n"
    written = export_text(doc, tmp_path / "scan.txt")
    assert written.read_text(encoding="utf-8") == document_text(doc)


def test_a_cut_table_has_partial_in_its_csv_name(tmp_path):
    doc = document(region(0, 10, "table", TABLE, state=DONE, result=result("table", TABLE, "max_tokens", 2048)),
                   region(0, 100, "table", TABLE, state=DONE, result=result("table", TABLE)))
    assert [name for name, _ in table_csv_files(doc, "scan")] == ["scan-p1-table1-partial.csv", "scan-p1-table2.csv"]
    assert [p.name for p in export_tables_csv(doc, tmp_path, "scan")] == ["scan-p1-table1-partial.csv",
                                                                          "scan-p1-table2.csv"]


def test_json_says_whether_each_result_is_complete_and_why_not():
    doc = document(stopped_by_user(), region(0, 100, state=DONE, result=result("text", "w")))
    stopped, whole = json.loads(json.dumps(document_json(doc)))["regions"]
    assert (stopped["complete"], stopped["caveat"], stopped["stop_cause"]) == (False, "partial: stopped", "user")
    assert (whole["complete"], whole["caveat"], whole["stop_reason"]) == (True, None, "eos")


def test_several_pages_get_a_heading_each_in_reading_order():
    doc = document(region(1, 10, text="Second page."), region(0, 10, text="First page."),
                   region(2, 10, text=""), pages=3)
    for each in doc.regions:
        each.state = DONE
    assert document_markdown(doc) == "## Page 1\n\nFirst page.\n\n## Page 2\n\nSecond page.\n"
    assert document_text(doc) == "=== Page 1 ===\n\nFirst page.\n\n=== Page 2 ===\n\nSecond page.\n"


def test_a_user_order_across_pages_repeats_the_heading_where_the_page_changes():
    doc = document(region(0, 10, text="A"), region(1, 10, text="B"), region(0, 100, text="C"), pages=2)
    doc.set_user_order(["p0-10", "p1-10", "p0-100"])
    for each in doc.regions:
        each.state = DONE
    assert document_markdown(doc) == "## Page 1\n\nA\n\n## Page 2\n\nB\n\n## Page 1\n\nC\n"


def test_a_one_page_document_has_no_page_heading():
    doc = document(region(0, 10, text="Only.", state=DONE))
    assert document_markdown(doc) == "Only.\n"
