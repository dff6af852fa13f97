"""Document conversion end to end on real parts: a 3-page PDF (pymupdf), the planned layout checkpoint (its
detections are tests/convert/conftest.py's PLAN on every page) and the tiny GLM-OCR checkpoint. Checks the JSON
and Markdown structure, pictures, abandoned blocks, progress events, resume and cancel."""

from __future__ import annotations

import json
import threading

import pytest
from PIL import Image

from glmocr_core.api import RecognizeOptions
from glmocr_core.convert.blocks import DocumentBlock
from glmocr_core.convert.converter import ConvertSettings, DocumentConverter, detect_page
from glmocr_core.convert.markdown import format_markdown, page_marker
from glmocr_core.documents.document import open_document
from glmocr_core.errors import InputError, UsageError
from tests.convert.conftest import DPI, KEPT_LABELS, MAX_NEW, PLAN

TASKS = {"doc_title": "text", "text": "text", "display_formula": "formula", "formula_number": "text",
         "table": "table", "image": "skip", "paragraph_title": "text", "header": "abandon", "footer": "abandon"}


def make_converter(engine, detector, **settings) -> DocumentConverter:
    options = RecognizeOptions(max_new_tokens=settings.pop("max_new_tokens", MAX_NEW))
    return DocumentConverter(engine, detector, ConvertSettings(**{"dpi": DPI, "options": options, **settings}))


def read_outputs(result) -> tuple[str, dict]:
    return result.outputs["md"].read_text(encoding="utf-8"), json.loads(result.outputs["json"].read_text("utf-8"))


def page_blocks(record: dict) -> list[list[DocumentBlock]]:
    return [[DocumentBlock.from_dict(r) for r in page["regions"]] for page in record["pages"]]


@pytest.fixture(scope="module")
def full_run(tiny_engine, planned_detector, three_page_pdf, tmp_path_factory):
    events = []
    out = tmp_path_factory.mktemp("converted")
    result = make_converter(tiny_engine, planned_detector).convert(three_page_pdf, out, progress=events.append)
    return result, events, out


def test_every_page_has_the_planned_regions_in_reading_order(full_run):
    result, _, _ = full_run
    _, record = read_outputs(result)
    assert record["complete"] and record["pages_converted"] == [1, 2, 3] and record["page_count"] == 3
    for number, page in enumerate(record["pages"], start=1):
        assert (page["page"], page["width"], page["height"], page["scale"]) == (number, 300, 200, 1.0)
        regions = page["regions"]
        assert [r["label"] for r in regions] == KEPT_LABELS  # the header and footer are abandoned
        assert [r["order"] for r in regions] == list(range(len(KEPT_LABELS)))
        assert all(r["task"] == TASKS[r["label"]] and r["page"] == number for r in regions)
        planned = [p for p in PLAN if p.label in KEPT_LABELS]
        for region, plan in zip(regions, planned):
            expected = [plan.box[0] * 300, plan.box[1] * 200, plan.box[2] * 300, plan.box[3] * 200]
            assert max(abs(a - b) for a, b in zip(region["bbox"], expected)) <= 1.0
            assert region["bbox_2d"] == [int(region["bbox"][0] / 300 * 1000), int(region["bbox"][1] / 200 * 1000),
                                         int(region["bbox"][2] / 300 * 1000), int(region["bbox"][3] / 200 * 1000)]
            assert region["score"] == pytest.approx(plan.score, abs=1e-5)


def test_recognized_regions_carry_text_parsed_output_and_timings(full_run):
    result, _, _ = full_run
    _, record = read_outputs(result)
    for region in record["pages"][0]["regions"]:
        if region["task"] == "skip":
            assert region["text"] is None and region["image_path"]
            continue
        assert isinstance(region["text"], str) and region["stop_reason"] in ("eos", "max_tokens", "repetition")
        if region["stop_reason"] == "max_tokens":  # the budget was spent: exactly all of it
            assert region["timings"]["new_tokens"] == MAX_NEW
        if region["task"] == "formula":
            assert isinstance(region["parsed"], str)
        if region["task"] == "table":  # random weights write no HTML: the error is kept, the text too
            assert region["parsed"] is not None or region["parse_error"]


def test_each_region_reads_as_the_engine_reads_its_crop_alone(full_run, tiny_engine, three_page_pdf):
    """A page's regions go through one batch per task; each one's text, token count and stop reason equal the
    engine's on that crop alone (greedy batches equal one-by-one runs), whichever way it stopped."""
    from glmocr_core.api import OcrResult
    from glmocr_core.convert.converter import render_for_ocr

    result, _, _ = full_run
    _, record = read_outputs(result)
    image = render_for_ocr(open_document(three_page_pdf), 0, DPI)[0]
    read = [region for region in record["pages"][0]["regions"] if region["task"] != "skip"]
    assert read
    for region in read:
        x0, y0, x1, y1 = region["bbox_2d"]  # the crop the SDK makes (and the converter): bbox_2d back in pixels
        crop = (int(x0 * image.width / 1000), int(y0 * image.height / 1000), int(x1 * image.width / 1000),
                int(y1 * image.height / 1000))
        alone = [item for item in tiny_engine.recognize(image, region["task"], region=crop,
                                                         options=RecognizeOptions(max_new_tokens=MAX_NEW))
                 if isinstance(item, OcrResult)][-1]
        assert (region["text"], region["timings"]["new_tokens"], region["stop_reason"]) == \
            (alone.text, alone.timings.new_tokens, alone.stop_reason)


def test_the_markdown_is_the_formatted_document_with_page_markers_and_pictures(full_run):
    result, _, out = full_run
    markdown, record = read_outputs(result)
    assert markdown == format_markdown(page_blocks(record), page_numbers=[1, 2, 3])
    markers = [markdown.index(page_marker(n)) for n in (1, 2, 3)]
    assert markers == sorted(markers) and markdown.startswith(page_marker(1))
    headings = 0
    for page in record["pages"]:
        by_label = {r["label"]: r for r in page["regions"]}
        title, section = by_label["doc_title"]["text"], by_label["paragraph_title"]["text"]
        headings += bool(title.strip()) + bool(section.strip())
        assert (f"\n# {title.strip()}" in markdown) == bool(title.strip())
        picture = by_label["image"]
        assert f"![image]({picture['image_path']})" in markdown
        with Image.open(out / picture["image_path"]) as saved:
            x0, y0, x1, y1 = (int(v * s / 1000) for v, s in zip(picture["bbox_2d"], (300, 200, 300, 200)))
            assert saved.size == (x1 - x0, y1 - y0)
    assert headings > 0, "the tiny model wrote no title at all: the heading checks did not run"
    assert "$$\n" in markdown


def test_progress_reports_each_page_and_region(full_run):
    _, events, _ = full_run
    first_page = [e for e in events if e.page == 1]
    kinds = [e.kind for e in first_page]
    assert kinds[:2] == ["page", "layout"] and kinds[-1] == "page_done"
    regions = [e for e in first_page if e.kind == "region"]
    assert [e.regions_done for e in regions] == list(range(1, len(KEPT_LABELS) + 1))
    assert {e.block.label for e in regions} == set(KEPT_LABELS)
    assert all(e.regions == len(KEPT_LABELS) and e.pages == 3 for e in regions)
    assert events[-1].kind == "finished" and [e.page for e in events if e.kind == "page_done"] == [1, 2, 3]


def test_a_second_run_skips_the_pages_already_done(full_run, tiny_engine, planned_detector, three_page_pdf):
    result, _, out = full_run
    before = read_outputs(result)
    events = []
    again = make_converter(tiny_engine, planned_detector).convert(three_page_pdf, out, progress=events.append)
    assert again.resumed == [1, 2, 3] and again.converted == [] and not again.cancelled
    assert [e.kind for e in events] == ["page_resumed"] * 3 + ["finished"]
    assert read_outputs(again) == before


def test_cancel_keeps_the_finished_pages_and_the_next_run_goes_on(full_run, tiny_engine, planned_detector,
                                                                 three_page_pdf, tmp_path):
    cancel = threading.Event()

    def stop_during_page_two(event):
        if event.kind == "region" and event.page == 2:
            cancel.set()

    converter = make_converter(tiny_engine, planned_detector)
    stopped = converter.convert(three_page_pdf, tmp_path, progress=stop_during_page_two, cancel=cancel)
    assert stopped.cancelled and stopped.converted == [1] and not stopped.complete
    markdown, record = read_outputs(stopped)
    assert record["pages_converted"] == [1] and not record["complete"]
    assert page_marker(1) in markdown and page_marker(2) not in markdown

    events = []
    resumed = converter.convert(three_page_pdf, tmp_path, progress=events.append)
    assert resumed.resumed == [1] and resumed.converted == [2, 3] and resumed.complete
    assert not [e for e in events if e.page == 1 and e.kind != "page_resumed"]
    assert read_outputs(resumed)[0] == read_outputs(full_run[0])[0]  # as if never interrupted


def test_other_settings_or_another_input_start_over(full_run, tiny_engine, planned_detector, three_page_pdf,
                                                    tmp_path):
    _, _, out = full_run
    fewer_tokens = make_converter(tiny_engine, planned_detector, max_new_tokens=MAX_NEW - 1)
    assert fewer_tokens.convert(three_page_pdf, tmp_path / "a", pages="1").converted == [1]
    assert fewer_tokens.convert(three_page_pdf, tmp_path / "a", pages="1").resumed == [1]
    assert make_converter(tiny_engine, planned_detector).convert(three_page_pdf, tmp_path / "a",
                                                                 pages="1").converted == [1]
    other = tmp_path / "paper.pdf"
    from glmocr_core.testing.images import write_test_pdf

    write_test_pdf(other, pages=4)  # same name, other content
    assert make_converter(tiny_engine, planned_detector).convert(other, out, pages="1").converted == [1]


def test_abandoned_blocks_are_recognized_and_kept_on_request(tiny_engine, planned_detector, three_page_pdf,
                                                             tmp_path):
    converter = make_converter(tiny_engine, planned_detector, include_abandoned=True)
    markdown, record = read_outputs(converter.convert(three_page_pdf, tmp_path, pages="2"))
    regions = record["pages"][0]["regions"]
    assert [r["label"] for r in regions] == [p.label for p in PLAN]
    abandoned = [r for r in regions if r["task"] == "abandon"]
    assert [r["label"] for r in abandoned] == ["header", "footer"] and all(isinstance(r["text"], str)
                                                                           for r in abandoned)
    assert markdown == format_markdown(page_blocks(record), page_numbers=[2], include_abandoned=True)
    assert markdown.startswith(page_marker(2)) and record["pages_selected"] == [2]


def test_a_region_too_thin_for_the_model_is_reported_and_the_page_goes_on(tiny_engine, three_page_pdf, tmp_path):
    from glmocr_core.convert.loading import open_layout_detector
    from glmocr_core.testing.layout_checkpoints import PlannedRegion, build_planned_layout_checkpoint

    plan = [PlannedRegion("text", (0.1, 0.1, 0.9, 0.3)), PlannedRegion("text", (0.0, 0.5012, 0.999, 0.5055))]
    detector = open_layout_detector(build_planned_layout_checkpoint(tmp_path / "thin", plan), "cpu")
    result = make_converter(tiny_engine, detector, dpi=DPI * 2).convert(three_page_pdf, tmp_path / "out", pages="1")
    wide, thin = read_outputs(result)[1]["pages"][0]["regions"]
    assert isinstance(wide["text"], str) and thin["text"] is None and "aspect ratio" in thin["error"]


def test_pages_as_indices_and_an_open_document(tiny_engine, planned_detector, three_page_pdf, tmp_path):
    with open_document(three_page_pdf) as document:
        result = make_converter(tiny_engine, planned_detector).convert(document, tmp_path, pages=[2], name="mine")
        assert document.page_count == 3 and document.render(0, 0.1)  # still open
    assert result.pages == [3] and result.outputs["md"].name == "mine.md"
    with pytest.raises(InputError, match="1..3"):
        make_converter(tiny_engine, planned_detector).convert(three_page_pdf, tmp_path, pages=[3])


def test_settings_are_checked(tiny_engine, planned_detector):
    with pytest.raises(UsageError, match="pdf"):
        make_converter(tiny_engine, planned_detector, formats=("md", "pdf"))
    with pytest.raises(UsageError, match="max_batch"):
        make_converter(tiny_engine, planned_detector, max_batch=0)


def test_detect_page_gives_the_layout_blocks(planned_detector):
    page = Image.new("RGB", (600, 400), "white")
    blocks = detect_page(planned_detector, page)
    assert [b.label for b in blocks] == KEPT_LABELS and blocks[0].bbox[2] <= 600
    assert [b.label for b in detect_page(planned_detector, page, include_abandoned=True)] == [p.label for p in PLAN]
