"""``glmocr-studio convert`` and ``glmocr-studio layout`` end to end: the tiny GLM-OCR checkpoint, the planned layout
checkpoint, a real 3-page PDF and images; the outputs' structure, resume, Ctrl-C (a real SIGINT to a child process),
and the exit codes of ``ocr``."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest

from glmocr_core.cli import main
from glmocr_core.convert.blocks import DocumentBlock
from glmocr_core.convert.markdown import format_markdown, page_marker
from glmocr_core.testing.images import write_test_images, write_test_pdf
from tests.convert.conftest import DPI, KEPT_LABELS, MAX_NEW, PLAN


def convert_args(inputs, out, checkpoint, layout, *extra) -> list[str]:
    return ["convert", *map(str, inputs), "--out", str(out), "--model", str(checkpoint), "--layout-model",
            str(layout), "--dpi", str(DPI), "--max-new-tokens", str(MAX_NEW), "--device", "cpu", *map(str, extra)]


def test_a_pdf_converts_and_a_second_run_skips_every_page(capsys, tiny_checkpoint, planned_layout, three_page_pdf,
                                                          tmp_path):
    assert main(convert_args([three_page_pdf], tmp_path, tiny_checkpoint, planned_layout)) == 0
    err = capsys.readouterr().err
    assert err.count(f"{len(KEPT_LABELS)} regions found") == 3 and "page 3 (3/3): done" in err
    markdown = (tmp_path / "paper.md").read_text(encoding="utf-8")
    record = json.loads((tmp_path / "paper.json").read_text(encoding="utf-8"))
    assert record["complete"] and [p["page"] for p in record["pages"]] == [1, 2, 3]
    pages = [[DocumentBlock.from_dict(r) for r in page["regions"]] for page in record["pages"]]
    assert markdown == format_markdown(pages)
    assert all([b.label for b in blocks] == KEPT_LABELS for blocks in pages)
    assert sorted(p.name for p in (tmp_path / "paper_pictures").iterdir()) == [
        f"page-00{n}-05.png" for n in (1, 2, 3)]

    assert main(convert_args([three_page_pdf], tmp_path, tiny_checkpoint, planned_layout)) == 0
    err = capsys.readouterr().err
    assert err.count("done in an earlier run, kept") == 3 and "regions found" not in err
    assert (tmp_path / "paper.md").read_text(encoding="utf-8") == markdown


def test_folders_are_searched_and_mirrored_and_formats_chosen(capsys, tiny_checkpoint, planned_layout, tmp_path):
    source = tmp_path / "in"
    (source / "scans").mkdir(parents=True)
    image = write_test_images(source / "scans")[0]
    write_test_pdf(source / "image0.pdf", pages=1)  # the same name as the image, one folder up
    (source / "notes.txt").write_text("not a document")
    out = tmp_path / "out"
    code = main(convert_args([source, image], out, tiny_checkpoint, planned_layout, "--format", "json",
                             "--pages", "1"))
    assert code == 0, capsys.readouterr().err
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*.json") if ".glmocr-convert" not in p.parts)
    assert written == ["image0-2.json", "image0.json", "scans/image0.json", "scans/image1.json", "scans/image2.json"]
    assert not list(out.rglob("*.md"))


def test_a_folder_converted_into_itself_never_converts_its_own_pictures(capsys, tiny_checkpoint, planned_layout,
                                                                       tmp_path):
    write_test_pdf(tmp_path / "doc.pdf", pages=1)
    (tmp_path / ".hidden").mkdir()
    write_test_images(tmp_path / ".hidden")
    for _ in range(2):
        assert main(convert_args([tmp_path], tmp_path, tiny_checkpoint, planned_layout)) == 0
        assert "doc_pictures" not in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.glob("*.md")) == ["doc.md"]


def test_abandoned_blocks_on_request(capsys, tiny_checkpoint, planned_layout, three_page_pdf, tmp_path):
    assert main(convert_args([three_page_pdf], tmp_path, tiny_checkpoint, planned_layout, "--pages", "2",
                             "--include-abandoned", "--html-tables")) == 0
    record = json.loads((tmp_path / "paper.json").read_text(encoding="utf-8"))
    assert [r["label"] for r in record["pages"][0]["regions"]] == [p.label for p in PLAN]
    assert (tmp_path / "paper.md").read_text(encoding="utf-8").startswith(page_marker(2))


@pytest.mark.timeout(300)
def test_ctrl_c_keeps_the_finished_pages_and_the_next_run_goes_on(tiny_checkpoint, planned_layout, three_page_pdf,
                                                                 tmp_path):
    command = [sys.executable, "-m", "glmocr_core", *convert_args([three_page_pdf], tmp_path, tiny_checkpoint,
                                                                  planned_layout)]
    child = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    lines = []
    for line in child.stderr:  # the first page is done: press Ctrl-C while the second is under way
        lines.append(line)
        if "page 1 (1/3): done" in line:
            child.send_signal(signal.SIGINT)
            break
    lines += child.stderr.read().splitlines()
    assert child.wait(timeout=120) == 130, "".join(lines)
    assert any("run the same command again" in line for line in lines)
    record = json.loads((tmp_path / "paper.json").read_text(encoding="utf-8"))
    done = record["pages_converted"]
    assert not record["complete"] and 1 in done and len(done) < 3
    markdown = (tmp_path / "paper.md").read_text(encoding="utf-8")
    assert page_marker(1) in markdown and page_marker(3) not in markdown

    finished = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    assert finished.stderr.count("done in an earlier run, kept") == len(done)
    assert json.loads((tmp_path / "paper.json").read_text(encoding="utf-8"))["complete"]


# ---- exit codes -----------------------------------------------------------------------------------------------


def test_a_missing_layout_model_says_where_it_comes_from_and_exits_3(capsys, tiny_checkpoint, three_page_pdf,
                                                                      tmp_path):
    assert main(convert_args([three_page_pdf], tmp_path, tiny_checkpoint, tmp_path / "no-layout")) == 3
    err = capsys.readouterr().err
    assert "PaddlePaddle/PP-DocLayoutV3_safetensors" in err and "--layout-model" in err and "Traceback" not in err


def test_the_glm_ocr_folder_as_the_layout_model_exits_3(capsys, tiny_checkpoint, three_page_pdf, tmp_path):
    assert main(convert_args([three_page_pdf], tmp_path, tiny_checkpoint, tiny_checkpoint)) == 3
    assert "GLM-OCR recognition model" in capsys.readouterr().err


def test_bad_inputs_exit_4_and_the_others_still_convert(capsys, tiny_checkpoint, planned_layout, three_page_pdf,
                                                        tmp_path):
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7 broken")
    code = main(convert_args([tmp_path / "missing.pdf", broken, three_page_pdf], tmp_path / "out", tiny_checkpoint,
                             planned_layout, "--pages", "1"))
    err = capsys.readouterr().err
    assert code == 4 and "missing.pdf" in err and "broken.pdf" in err and "Traceback" not in err
    assert (tmp_path / "out" / "paper.md").is_file()


@pytest.mark.parametrize("extra, message", [(["--format", "md,docx"], "docx"), (["--dpi", "5"], "--dpi"),
                                            (["--max-batch", "0"], "max_batch")])
def test_usage_errors_exit_2(capsys, tiny_checkpoint, planned_layout, three_page_pdf, tmp_path, extra, message):
    assert main(convert_args([three_page_pdf], tmp_path, tiny_checkpoint, planned_layout, *extra)) == 2
    assert message in capsys.readouterr().err


# ---- layout ---------------------------------------------------------------------------------------------------


def layout_records(capsys, *argv) -> tuple[int, list[dict], str]:
    code = main(["layout", *map(str, argv)])
    captured = capsys.readouterr()
    return code, [json.loads(line) for line in captured.out.splitlines()], captured.err


def test_layout_prints_one_object_per_page_in_the_pages_pixels(capsys, planned_layout, three_page_pdf):
    code, records, err = layout_records(capsys, three_page_pdf, "--layout-model", planned_layout, "--pages", "2-3",
                                        "--dpi", DPI * 2, "--json", "--device", "cpu")
    assert code == 0, err
    assert [(r["source"], r["page"], r["width"], r["height"]) for r in records] == [
        (str(three_page_pdf), 2, 600, 400), (str(three_page_pdf), 3, 600, 400)]
    regions = records[0]["regions"]
    assert [r["label"] for r in regions] == KEPT_LABELS and [r["order"] for r in regions] == list(range(8))
    assert set(regions[0]) == {"label", "task", "score", "bbox", "order"}
    planned = [p for p in PLAN if p.label in KEPT_LABELS]
    for region, plan in zip(regions, planned):
        assert all(isinstance(v, int) for v in region["bbox"])
        expected = [plan.box[0] * 600, plan.box[1] * 400, plan.box[2] * 600, plan.box[3] * 400]
        assert max(abs(a - b) for a, b in zip(region["bbox"], expected)) <= 1.0


def test_layout_raw_is_transformers_post_processing(capsys, planned_layout, planned_detector, tmp_path):
    image = write_test_images(tmp_path)[0]
    code, (record,), _ = layout_records(capsys, image, "--layout-model", planned_layout, "--raw", "--threshold",
                                        0.75, "--json")
    assert code == 0
    from PIL import Image

    raw = planned_detector.detect_raw(Image.open(image).convert("RGB"), 0.75)
    assert [r["label"] for r in record["regions"]] == [planned_detector.labels[i] for i in raw["labels"].tolist()]
    assert [r["label"] for r in record["regions"]] == [p.label for p in PLAN if p.score >= 0.75]  # no footer
    assert [r["bbox"] for r in record["regions"]] == raw["boxes"].tolist()
    assert [r["order"] for r in record["regions"]] == raw["order_seq"].tolist()
    assert record["regions"][0]["task"] == "abandon"  # the header: raw keeps every label


def test_layout_threshold_and_abandoned_in_sdk_mode(capsys, planned_layout, tmp_path):
    image = write_test_images(tmp_path)[0]
    _, (high,), _ = layout_records(capsys, image, "--layout-model", planned_layout, "--threshold", 0.92, "--json")
    assert [r["label"] for r in high["regions"]] == ["doc_title"]
    _, (everything,), _ = layout_records(capsys, image, "--layout-model", planned_layout, "--include-abandoned",
                                         "--json")
    assert [r["label"] for r in everything["regions"]] == [p.label for p in PLAN]


def test_layout_plain_text_and_errors(capsys, planned_layout, tmp_path):
    image = write_test_images(tmp_path)[0]
    assert main(["layout", str(image), "--layout-model", str(planned_layout)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{image} page 1 (300x120 px): 8 regions") and "doc_title" in out
    assert main(["layout", str(tmp_path / "nothing.png"), "--layout-model", str(planned_layout)]) == 4
    assert main(["layout", str(image), "--layout-model", str(planned_layout), "--threshold", "2"]) == 2
    assert main(["layout", str(image), "--layout-model", str(tmp_path / "none")]) == 3


def test_info_reports_the_layout_model_folder(capsys, tiny_checkpoint, planned_layout, tmp_path):
    assert main(["info", "--model", str(tiny_checkpoint), "--layout-model", str(planned_layout), "--device",
                 "cpu"]) == 0
    assert f"layout model folder: {planned_layout} (ready)" in capsys.readouterr().out
    assert main(["info", "--model", str(tiny_checkpoint), "--layout-model", str(tmp_path / "x")]) == 0
    assert "(missing)" in capsys.readouterr().out
