"""A 3-page PDF converted end to end from the window: the real worker thread, the tiny GLM-OCR checkpoint and a
tiny layout checkpoint whose detections the test plans (the same regions on every page)."""

import pytest

from glmocr_core.loader import load_engine
from glmocr_core.paths import LAYOUT_MODEL_DIR_ENV
from glmocr_core.testing.layout_checkpoints import PlannedRegion, build_planned_layout_checkpoint

from app.document import converted

WAIT_MS = 240_000
PLAN = [
    PlannedRegion("header", (0.10, 0.03, 0.90, 0.12), 0.8),
    PlannedRegion("doc_title", (0.10, 0.15, 0.90, 0.30), 0.95),
    PlannedRegion("text", (0.10, 0.33, 0.90, 0.50)),
    PlannedRegion("display_formula", (0.20, 0.52, 0.80, 0.65)),
    PlannedRegion("image", (0.10, 0.67, 0.50, 0.86)),
    PlannedRegion("footer", (0.10, 0.88, 0.90, 0.97), 0.7),
]
LABELS = [r.label for r in PLAN]
LEFT_OUT = {"header", "footer"}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def planned_layout(tmp_path_factory):
    return build_planned_layout_checkpoint(tmp_path_factory.mktemp("planned-layout"), PLAN)


@pytest.fixture
def pdf(tmp_path):
    from glmocr_core.testing.images import write_test_pdf

    return write_test_pdf(tmp_path / "paper.pdf", pages=3)


def test_a_three_page_pdf_converts_from_the_window(make_studio, qtbot, tmp_path, monkeypatch, tiny_checkpoint,
                                                   planned_layout, pdf):
    monkeypatch.delenv(LAYOUT_MODEL_DIR_ENV, raising=False)
    studio = make_studio(load_engine, model_env=None, model_dir=str(tiny_checkpoint), auto_run=False,
                         layout_model_dir=str(planned_layout), pdf_dpi=144, device="cpu",
                         **{f"max_new_tokens/{t}": 3 for t in ("text", "table", "formula")})
    qtbot.waitUntil(lambda: studio.host.has_model or "could not" in studio.window.first_run.title.text(),
                    timeout=WAIT_MS)
    assert studio.host.has_model, studio.window.first_run.text.text()
    assert studio.documents.open_path(str(pdf))
    with qtbot.waitSignal(studio.layout.converted, timeout=WAIT_MS):
        studio.layout.convert_document()
        assert studio.window.convert_label.isVisible()
        assert studio.window.convert_label.text().startswith("Converting page 1 of 3")
    assert not studio.window.convert_label.isVisible()

    session = studio.workspace.session
    for page in range(3):
        regions = [r for r in session.reading_order() if r.page == page]
        assert [r.label for r in regions] == LABELS  # one region per block, in the layout's reading order
        assert [r.layout_order for r in regions] == list(range(len(PLAN)))
        assert [r.excluded for r in regions] == [label in LEFT_OUT for label in LABELS]
        assert [r.is_picture for r in regions] == [label == "image" for label in LABELS]
        assert [r.task for r in regions] == ["text", "text", "text", "formula", "text", "text"]
        for region in regions:
            if region.is_readable:
                assert region.state == "done", region.error
            else:
                assert region.state == "queued" and region.result is None  # never run
        width, height = studio.workspace.document.page_size(page)
        title = regions[1]
        assert title.box == pytest.approx((0.10 * width, 0.15 * height, 0.90 * width, 0.30 * height), abs=1.0)

    studio.layout.refresh_document_view()
    view = studio.window.document_view
    expected = converted.document_markdown(session, page_size=studio.workspace.document.page_size)
    assert view.markdown == expected
    assert [f"<!-- page {n} -->" in expected for n in (1, 2, 3)] == [True] * 3
    assert "![image](document_pictures/page-001-03.png)" in expected
    left_out_ids = {r.id for r in session.regions if r.excluded}
    assert not left_out_ids & {region_id for region_id, _ in view.blocks}

    out = tmp_path / "export" / "paper.md"
    out.parent.mkdir()
    studio.file_actions.export_markdown_to(session, out)
    text = out.read_text(encoding="utf-8")
    assert text == converted.document_markdown(session, stem="paper", page_size=studio.workspace.document.page_size)
    pictures = sorted(p.name for p in (out.parent / "paper_pictures").iterdir())
    assert pictures == ["page-001-03.png", "page-002-03.png", "page-003-03.png"]
    for name in pictures:
        assert f"(paper_pictures/{name})" in text
    from PIL import Image

    with Image.open(out.parent / "paper_pictures" / "page-002-03.png") as crop:
        assert crop.size == pytest.approx((0.40 * 300 * 2, 0.19 * 200 * 2), abs=3)  # 144 dpi: 2 px per point
