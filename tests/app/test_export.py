"""Export to Markdown, CSV and JSON, checked against golden files (GLMOCR_UPDATE_GOLDEN=1 rewrites them)."""

import json
import os
from pathlib import Path

import pytest

from app.document.model import DONE, QUEUED, DocumentSession, Region
from app.document.export import (document_json_text, document_markdown, export_json, export_markdown,
                        export_tables_csv, planned_csv_paths)

GOLDEN = Path(__file__).parent / "golden"
SPANNED_TABLE = ("<table><tr><th colspan=\"2\">Results</th><th>n</th></tr>"
                 "<tr><td rowspan=\"2\">A</td><td>x, \"quoted\"</td><td>1</td></tr>"
                 "<tr><td>é ünï</td><td>2</td></tr></table>")
PLAIN_TABLE = "<table><tr><th>Name</th><th>Value</th></tr><tr><td>a|b</td><td>3</td></tr></table>"


def _result(task, text, parsed=None, parse_error=None):
    return {"task": task, "text": text, "parsed": parsed, "parse_error": parse_error, "stop_reason": "eos"}


def make_document() -> DocumentSession:
    """Regions added out of reading order, with one user edit per kind that supports it."""
    doc = DocumentSession(path="/docs/paper.pdf", content_hash="sha256:abc", kind="pdf", page_count=2, name="paper.pdf")
    doc.add_region(Region(page=1, box=(10, 10, 300, 200), task="table", id="t2", state=DONE, text=PLAIN_TABLE,
                          result=_result("table", PLAIN_TABLE)))
    doc.add_region(Region(page=0, box=(20, 400, 500, 600), task="text", id="txt", state=DONE,
                          text="Energy is $E=mc^2$.\n\n## Notes\n\n- first\n- second",
                          result=_result("text", "Energy is $E=mc^2$.")))
    doc.add_region(Region(page=0, box=(20, 100, 500, 160), task="formula", id="f1", state=DONE,
                          text="$$\\frac{a}{b}$$", result=_result("formula", "$$\\frac{a}{b}$$", "\\frac{a}{b}"),
                          edited_text="\\frac{a}{b} + c"))
    doc.add_region(Region(page=0, box=(20, 200, 500, 300), task="table", id="t1", state=DONE, text=SPANNED_TABLE,
                          result=_result("table", SPANNED_TABLE)))
    doc.add_region(Region(page=1, box=(10, 300, 300, 400), task="extract", id="e1", state=DONE,
                          text='```json\n{"name": "", "total": 0}\n```', result=_result("extract", "x"),
                          edited_text='{"name": "Ada", "total": 12.5}', schema='{"name": "", "total": ""}'))
    doc.add_region(Region(page=1, box=(10, 500, 300, 600), task="extract", id="e2", state=DONE,
                          text='{"broken": ', result=_result("extract", '{"broken": ', None, "bad json")))
    doc.add_region(Region(page=1, box=(10, 700, 300, 800), task="text", id="q", state=QUEUED))
    return doc


def check_golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if os.environ.get("GLMOCR_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(actual.encode("utf-8"))
    assert actual == path.read_bytes().decode("utf-8")  # bytes: CSV's CRLF must survive


def test_markdown_export_matches_golden():
    check_golden("export_document.md", document_markdown(make_document()))


def test_json_export_matches_golden_and_has_everything():
    text = document_json_text(make_document())
    check_golden("export_document.json", text)
    data = json.loads(text)
    assert [r["id"] for r in data["regions"]] == ["f1", "t1", "txt", "t2", "e1", "e2", "q"]
    formula = data["regions"][0]
    assert formula["edited"] and formula["parsed"] == "\\frac{a}{b} + c" and formula["model_text"] == "$$\\frac{a}{b}$$"
    assert data["regions"][5]["parse_error"].startswith("the output is not valid JSON")


def test_csv_export_matches_golden_with_and_without_bom(tmp_path):
    written = export_tables_csv(make_document(), tmp_path, "paper")
    assert [p.name for p in written] == ["paper-p1-table1.csv", "paper-p2-table2.csv"]
    for path in written:
        check_golden(f"export_tables/{path.name}", path.read_bytes().decode("utf-8"))
    excel = export_tables_csv(make_document(), tmp_path / ".", "paper", excel=True, overwrite=True)
    assert excel[0].read_bytes().startswith(b"\xef\xbb\xbf")
    assert excel[0].read_bytes()[3:] == written[0].read_bytes().replace(b"\xef\xbb\xbf", b"")


def test_csv_export_refuses_to_overwrite_anything(tmp_path):
    doc = make_document()
    first, second = planned_csv_paths(doc, tmp_path, "paper")
    second.write_text("keep me")
    with pytest.raises(FileExistsError, match="table2"):
        export_tables_csv(doc, tmp_path, "paper")
    assert not first.exists() and second.read_text() == "keep me"


def test_user_reorder_wins_over_geometry():
    doc = make_document()
    doc.set_user_order(["e1", "txt"])
    markdown = document_markdown(doc)
    assert markdown.index('"Ada"') < markdown.index("Energy") < markdown.index("\\frac")


def test_file_exports_do_not_overwrite_silently(tmp_path):
    doc = make_document()
    export_markdown(doc, tmp_path / "out.md")
    export_json(doc, tmp_path / "out.json")
    with pytest.raises(FileExistsError):
        export_markdown(doc, tmp_path / "out.md")
    doc.region("txt").edited_text = "Changed."
    export_markdown(doc, tmp_path / "out.md", overwrite=True)
    assert "Changed." in (tmp_path / "out.md").read_text()
    assert json.loads((tmp_path / "out.json").read_text())["document"]["content_hash"] == "sha256:abc"


def test_a_csv_export_that_fails_half_way_changes_nothing(tmp_path, monkeypatch):
    import errno
    import os

    from app.document import atomic

    doc = make_document()
    first, second = planned_csv_paths(doc, tmp_path, "paper")
    first.write_text("old first")
    real_write = atomic._write_all
    calls = []

    def full_on_the_second_table(fd, data):
        calls.append(data)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_write(fd, data)

    monkeypatch.setattr(atomic, "_write_all", full_on_the_second_table)
    with pytest.raises(atomic.WriteError, match="disk is full"):
        export_tables_csv(doc, tmp_path, "paper", overwrite=True)
    assert first.read_text() == "old first" and not second.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["paper-p1-table1.csv"]  # no temporary files left
