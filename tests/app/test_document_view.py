"""The document view: the regions formatted as one Markdown document (edits included), a click on a paragraph
selecting its region, and the fallback without web views."""

import pytest
from PIL import Image
from PySide6.QtCore import QUrl

from app.document import converted
from app.document.model import DocumentSession, Region
from app.results import web
from app.results.document_view import BLOCK_SCHEME, DocumentView

WAIT_MS = 20_000


def laid_out_session() -> DocumentSession:
    session = DocumentSession(path=None, page_count=2)
    regions = [
        Region(page=0, box=(0, 0, 100, 10), label="header", layout_task="abandon", layout_order=0, excluded=True,
               state="done", text="Running head"),
        Region(page=0, box=(0, 20, 100, 40), label="doc_title", layout_task="text", layout_order=1, state="done",
               text="A Title"),
        Region(page=0, box=(0, 50, 100, 70), task="formula", label="display_formula", layout_task="formula",
               layout_order=2, state="done", text="E = mc^2"),
        Region(page=0, box=(0, 80, 50, 99), label="image", layout_task="skip", layout_order=3),
        Region(page=1, box=(0, 0, 100, 30), label="text", layout_task="text", layout_order=0, state="done",
               text="model words", edited_text="my words"),
    ]
    for region in regions:
        session.add_region(region)
    return session


def test_the_markdown_is_the_core_formatters_with_the_users_edits():
    session = laid_out_session()
    text = converted.document_markdown(session, stem="paper")
    assert text == ("<!-- page 1 -->\n\n# A Title\n\n$$\nE = mc^2\n$$\n\n![image](paper_pictures/page-001-02.png)"
                    "\n\n<!-- page 2 -->\n\nmy words\n")
    assert "Running head" not in text  # left out
    session.regions[0].excluded = False
    assert "Running head" in converted.document_markdown(session)


def test_export_writes_the_markdown_and_its_pictures_atomically(tmp_path):
    session = laid_out_session()
    target = tmp_path / "paper.md"
    written = converted.export_converted_markdown(session, target, lambda region: b"PNG-" + region.label.encode())
    assert target.read_text(encoding="utf-8") == converted.document_markdown(session, stem="paper")
    assert (tmp_path / "paper_pictures" / "page-001-02.png").read_bytes() == b"PNG-image"
    assert set(written) == {target, tmp_path / "paper_pictures" / "page-001-02.png"}
    with pytest.raises(FileExistsError):
        converted.export_converted_markdown(session, target, lambda region: b"")


def test_a_click_on_a_paragraph_selects_its_region_and_a_selection_marks_it(qtbot):
    if not web.webengine_available() or web.web_failure():
        pytest.skip("QtWebEngine is not available here")
    view = DocumentView()
    qtbot.addWidget(view)
    view.resize(500, 400)
    view.show()
    session = laid_out_session()
    title = session.regions[1]
    with qtbot.waitSignal(view.web.rendered, timeout=WAIT_MS):
        view.show_session(session)
    assert [region_id for region_id, _ in view.blocks] == [r.id for r in session.regions[1:]]
    qtbot.wait(100)  # the click watcher is installed after the render
    with qtbot.waitSignal(view.region_clicked, timeout=WAIT_MS) as clicked:
        view.web.run_script(f'document.querySelector(\'[data-block="{title.id}"]\').click()')
    assert clicked.args == [title.id]
    view.select(session.regions[4].id)
    found = []
    view.web.page().runJavaScript("document.querySelector('.doc-block.selected').dataset.block", 0, found.append)
    qtbot.waitUntil(lambda: bool(found), timeout=WAIT_MS)
    assert found == [session.regions[4].id]


def test_without_web_views_the_paragraphs_show_as_source_and_still_select(qtbot, monkeypatch):
    monkeypatch.setattr("app.results.document_view.make_katex_view", lambda *a, **k: None)
    view = DocumentView()
    qtbot.addWidget(view)
    session = laid_out_session()
    view.show_session(session)
    assert view.web is None and "my words" in view.source.toPlainText() and not view.notice.isHidden()
    with qtbot.waitSignal(view.region_clicked) as clicked:
        view.source.anchorClicked.emit(QUrl(f"{BLOCK_SCHEME}:{session.regions[2].id}"))
    assert clicked.args == [session.regions[2].id]


def test_the_window_view_follows_results_and_a_click_goes_to_the_region(make_studio, qtbot, tmp_path):
    Image.new("RGB", (200, 300), "white").save(tmp_path / "page.png")
    studio = make_studio(auto_run=False)
    assert studio.documents.open_path(str(tmp_path / "page.png"))
    region = studio.regions.add_region(0, (10, 10, 150, 60), run=False)
    region.label, region.layout_order, region.layout_task = "doc_title", 0, "text"
    view = studio.window.document_view
    assert view.markdown == ""  # nothing recognized yet
    studio.regions.on_job_finished(region.id, _result("Found"))
    qtbot.waitUntil(lambda: view.markdown == "<!-- page 1 -->\n\n# Found\n", timeout=WAIT_MS)
    studio.regions.select_region("")
    view.region_clicked.emit(region.id)
    assert studio.window.page_view.selected_region_id() == region.id


def _result(text):
    from glmocr_core.api import OcrResult

    return OcrResult(text=text, task="text")
