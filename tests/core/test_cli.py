"""The ``glmocr-studio`` command line (``ocr``, ``info``): end-to-end parity with transformers' greedy generate, the JSON
contract, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from PIL import Image

from glmocr_core.cli import main
from glmocr_core.tasks.specs import task_prompt
from glmocr_core.testing.images import write_test_images, write_test_pdf

TASK_CASES = ["text", "formula", "table"]
MAX_NEW = 24


@pytest.fixture(scope="module")
def image_files(tmp_path_factory):
    return write_test_images(tmp_path_factory.mktemp("cli-images"))


@pytest.fixture(scope="module")
def reference(tiny_checkpoint):
    pytest.importorskip("transformers")
    from tests.core.reference import Reference

    return Reference(tiny_checkpoint)


def _run(capsys, *argv) -> tuple[int, list[dict], str]:
    code = main(list(map(str, argv)))
    captured = capsys.readouterr()
    records = [json.loads(line) for line in captured.out.splitlines() if line.startswith("{")]
    return code, records, captured.err


@pytest.mark.reference
@pytest.mark.parametrize("task", TASK_CASES)
def test_cli_tokens_and_text_equal_reference_greedy(capsys, tiny_checkpoint, image_files, reference, task):
    code, records, err = _run(capsys, "ocr", *image_files, "--model", tiny_checkpoint, "--task", task,
                              "--max-new-tokens", MAX_NEW, "--json")
    assert code == 0, err
    assert len(records) == len(image_files)
    texts = set()
    for record, path in zip(records, image_files):
        image = Image.open(path).convert("RGB")
        tokens, text, margins = reference.generate(image, task_prompt(task), MAX_NEW)
        # no near-ties: every greedy choice wins by far more than the fp32 noise between the two implementations
        # (max |Δlogits| seen in the parity tests is 2.4e-5)
        assert min(margins) > 2e-4, "the test checkpoint must have wide logit margins"
        assert record["token_ids"] == tokens
        assert record["text"] == text.strip()
        assert record["stop_reason"] == ("eos" if tokens[-1] in (59246, 59253) else "max_tokens")
        assert record["prompt_tokens"] == reference.inputs(image, task_prompt(task))["input_ids"].shape[1]
        texts.add(record["text"])
    assert len(texts) > 1, "different images should give different outputs"


def test_json_record_has_the_contract_fields(capsys, tiny_checkpoint, image_files):
    code, records, _ = _run(capsys, "ocr", image_files[0], "--model", tiny_checkpoint, "--max-new-tokens", 5,
                            "--json")
    assert code == 0
    record = records[0]
    for key in ("source", "page", "task", "text", "token_ids", "stop_reason", "prompt_tokens", "image_grid_thw",
                "timings"):
        assert key in record
    assert set(record["timings"]) >= {"load_s", "preprocess_s", "first_token_s", "decode_s", "new_tokens"}
    assert record["timings"]["new_tokens"] == len(record["token_ids"]) <= 5
    assert record["source"] == str(image_files[0]) and record["page"] == 1 and record["task"] == "text"
    assert record["image_grid_thw"][0] == 1


def test_plain_mode_prints_text_on_stdout_and_progress_on_stderr(capsys, tiny_checkpoint, image_files):
    code = main(["ocr", str(image_files[0]), "--model", str(tiny_checkpoint), "--max-new-tokens", "6"])
    out, err = capsys.readouterr()
    assert code == 0
    assert "{" not in out.splitlines()[0] if out.strip() else True
    assert "tokens" in err and "page 1/1" in err


def test_pdf_pages_and_region(capsys, tiny_checkpoint, tmp_path):
    pdf = write_test_pdf(tmp_path / "doc.pdf", pages=3)
    code, records, err = _run(capsys, "ocr", pdf, "--model", tiny_checkpoint, "--pages", "2-3", "--dpi", 72,
                              "--region", "10,10,200,150", "--max-new-tokens", 4, "--json")
    assert code == 0, err
    assert [r["page"] for r in records] == [2, 3]
    assert records[0]["region"] == [10, 10, 200, 150]
    # a 190x140 crop at 72 dpi -> 196x140 pixels -> a 14x10 patch grid
    assert records[0]["image_grid_thw"] == [1, 10, 14]


def test_repeated_regions_decode_as_a_batch_equal_to_single_runs(capsys, tiny_checkpoint, image_files):
    boxes = ["0,0,150,60", "100,30,300,120", "10,10,290,110"]
    code, batch, err = _run(capsys, "ocr", image_files[0], "--model", tiny_checkpoint, "--json",
                            "--max-new-tokens", 12, *[arg for box in boxes for arg in ("--region", box)])
    assert code == 0, err
    assert [r["region"] for r in batch] == [[float(v) for v in box.split(",")] for box in boxes]
    for record, box in zip(batch, boxes):
        _, single, _ = _run(capsys, "ocr", image_files[0], "--model", tiny_checkpoint, "--json",
                            "--max-new-tokens", 12, "--region", box)
        assert record["token_ids"] == single[0]["token_ids"] and record["text"] == single[0]["text"]


def test_extract_task_with_schema(capsys, tiny_checkpoint, image_files, tmp_path):
    schema = tmp_path / "schema.json"
    schema.write_text('{"name": "", "total": ""}', encoding="utf-8")
    code, records, _ = _run(capsys, "ocr", image_files[0], "--model", tiny_checkpoint, "--task", "extract",
                            "--schema", schema, "--max-new-tokens", 4, "--json")
    assert code == 0
    assert records[0]["task"] == "extract"
    assert records[0]["parse_error"]  # random weights do not write JSON; the error is reported, the text kept


# ----------------------------------------------------------------------------------------------------- exit codes


def test_usage_errors_exit_2(capsys, tiny_checkpoint, image_files):
    assert main(["ocr", str(image_files[0]), "--model", str(tiny_checkpoint), "--task", "extract"]) == 2
    assert "--schema" in capsys.readouterr().err
    assert main(["ocr", str(image_files[0]), "--model", str(tiny_checkpoint), "--region", "1,2,3"]) == 2
    with pytest.raises(SystemExit) as info:
        main(["ocr", str(image_files[0]), "--task", "poetry"])
    assert info.value.code == 2


def test_model_errors_exit_3(capsys, tmp_path, image_files):
    assert main(["ocr", str(image_files[0]), "--model", str(tmp_path)]) == 3
    err = capsys.readouterr().err
    assert "glmocr-studio: error:" in err and "config.json" in err and "Traceback" not in err


@pytest.mark.parametrize("content", [b"", b"\x89PNG\r\n\x1a\n\x00\x00truncated", b"%PDF-1.7 broken"])
def test_input_errors_exit_4(capsys, tiny_checkpoint, tmp_path, content):
    bad = tmp_path / "bad.png"
    bad.write_bytes(content)
    assert main(["ocr", str(bad), "--model", str(tiny_checkpoint), "--max-new-tokens", "2"]) == 4
    err = capsys.readouterr().err
    assert "bad.png" in err and "Traceback" not in err


def test_bad_input_does_not_stop_the_batch(capsys, tiny_checkpoint, image_files, tmp_path):
    missing = tmp_path / "missing.png"
    code, records, err = _run(capsys, "ocr", missing, image_files[0], "--model", tiny_checkpoint,
                              "--max-new-tokens", 2, "--json")
    assert code == 4
    assert len(records) == 1 and "missing.png" in err


def test_region_outside_the_page_exits_4(capsys, tiny_checkpoint, image_files):
    assert main(["ocr", str(image_files[0]), "--model", str(tiny_checkpoint), "--region", "900,900,950,950"]) == 4
    assert "outside" in capsys.readouterr().err


def test_info_reports_device_dtype_backend_threads(capsys, tiny_checkpoint):
    assert main(["info", "--model", str(tiny_checkpoint), "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    for word in ("device: cpu", "dtype: float32", "attention backend", "threads:", "ready"):
        assert word in out
    # what auto chose and why (the suite's CPU has no flags), and the kernels a load of this model runs
    assert "precision: auto → exact (its vector units have no fast int8-group kernel)" in out
    assert "CPU kernels (" in out and "one_row: " in out and "many_rows: " in out
    assert "int8 groups" not in out  # exact precision has none


def test_info_on_fast_precision_says_where_its_int8_groups_change_ways(capsys, tiny_checkpoint):
    assert main(["info", "--model", str(tiny_checkpoint), "--device", "cpu", "--precision", "fast"]) == 0
    out = capsys.readouterr().out
    from glmocr_core.runtime import plane_rows, quantize

    beyond = "a widened float32 GEMM beyond" if quantize.pack_block() is not None else plane_rows.NO_WIDENING
    assert "int8 groups: the 4-bit kernel up to " in out and beyond in out


# ---- bounds on what the command line reads and writes ------------------------------------------------------------


def test_a_schema_that_is_not_a_regular_file_is_refused_without_reading_it(image_files, tiny_checkpoint, capsys):
    assert main(["ocr", str(image_files[0]), "--model", str(tiny_checkpoint), "--task", "extract",
                 "--schema", "/dev/zero"]) == 4
    assert "not a regular file" in capsys.readouterr().err


@pytest.mark.timeout(60)
def test_a_schema_fifo_does_not_hang(image_files, tiny_checkpoint, tmp_path, capsys):
    fifo = tmp_path / "schema.fifo"
    os.mkfifo(fifo)
    assert main(["ocr", str(image_files[0]), "--model", str(tiny_checkpoint), "--task", "extract",
                 "--schema", str(fifo)]) == 4
    assert "not a regular file" in capsys.readouterr().err


def test_an_oversized_schema_is_refused(image_files, tiny_checkpoint, tmp_path, capsys):
    big = tmp_path / "big.json"
    big.write_text('{"a": "' + "x" * (2 << 20) + '"}')
    assert main(["ocr", str(image_files[0]), "--model", str(tiny_checkpoint), "--task", "extract",
                 "--schema", str(big)]) == 4
    assert "larger than" in capsys.readouterr().err


@pytest.mark.parametrize("tokens", ["0", "16385", "1000000000"])
def test_the_token_budget_is_bounded_before_anything_is_allocated(image_files, tiny_checkpoint, capsys, tokens):
    assert main(["ocr", str(image_files[0]), "--model", str(tiny_checkpoint), "--max-new-tokens", tokens]) == 2
    assert "between 1 and 16384" in capsys.readouterr().err


def test_a_reader_that_closes_the_pipe_gets_no_traceback(image_files, tiny_checkpoint):
    command = (f"{sys.executable} -m glmocr_core ocr {image_files[0]} {image_files[0]} --model {tiny_checkpoint} "
               f"--max-new-tokens 4 --json | head -c 10")
    finished = subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True, timeout=300)
    assert "Traceback" not in finished.stderr and len(finished.stdout) == 10


def test_a_full_disk_on_stdout_is_a_clear_error(image_files, tiny_checkpoint):
    with open("/dev/full", "w") as full:
        finished = subprocess.run([sys.executable, "-m", "glmocr_core", "ocr", str(image_files[0]), "--model",
                                   str(tiny_checkpoint), "--max-new-tokens", "4"], stdout=full, stderr=subprocess.PIPE,
                                  text=True, timeout=300)
    assert finished.returncode == 6 and "cannot write the output" in finished.stderr
    assert "Traceback" not in finished.stderr


@pytest.mark.parametrize("command", ["convert", "layout"])
def test_the_glmocr_studio_command_sends_convert_and_layout_to_the_core(capsys, command):
    from app.launch import wants_command_line

    assert wants_command_line([command, "paper.pdf"])
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0 and "--layout-model" in capsys.readouterr().out
