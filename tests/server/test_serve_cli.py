"""The command line with a remote backend: ``glmocr-studio ocr --backend openai|ollama --url`` against serve prints
exactly what the local engine prints (text, token ids, stop reasons, grids), for images, regions and PDF pages
fanned out over the pool; remote failures exit 5 with one clear line; ``info`` checks a server."""

from __future__ import annotations

import json

import pytest

from glmocr_core.cli import EXIT_REMOTE, EXIT_USAGE, main
from glmocr_core.testing.images import write_test_images, write_test_pdf

from .conftest import API_KEY
from .fakes import free_port


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("remote-cli")
    paths = write_test_images(folder)
    return paths, write_test_pdf(folder / "pages.pdf", pages=4)


def _records(capsys, *argv) -> tuple[int, list[dict], str]:
    code = main(list(map(str, argv)))
    captured = capsys.readouterr()
    records = [json.loads(line) for line in captured.out.splitlines() if line.startswith("{")]
    return code, [{k: v for k, v in r.items() if k != "timings"} for r in records], captured.err


def _local(capsys, checkpoint, *argv):
    code, records, err = _records(capsys, "ocr", *argv, "--model", checkpoint, "--json")
    assert code == 0, err
    return records


@pytest.mark.parametrize("backend", ["openai", "ollama"])
@pytest.mark.parametrize("task", ["text", "table"])
def test_remote_cli_output_equals_local(capsys, server, checkpoint, inputs, backend, task):
    images, _ = inputs
    args = ["--task", task, "--max-new-tokens", 20, *images]
    code, remote, err = _records(capsys, "ocr", *args, "--backend", backend, "--url", server.url, "--json")
    assert code == 0, err
    assert remote == _local(capsys, checkpoint, *args)
    assert len(remote) == 3 and len({r["text"] for r in remote}) > 1


def test_regions_and_pdf_pages_fan_out_and_stay_in_order(capsys, server, checkpoint, inputs):
    _, pdf = inputs
    args = [pdf, "--dpi", 72, "--max-new-tokens", 8, "--region", "0,0,150,100", "--region", "100,50,300,200"]
    code, remote, err = _records(capsys, "ocr", *args, "--backend", "openai", "--url", f"{server.url}/v1",
                                 "--concurrency", 3, "--json")
    assert code == 0, err
    assert [(r["page"], r["region"]) for r in remote] == [(p, box) for p in (1, 2, 3, 4)
                                                          for box in ([0, 0, 150, 100], [100, 50, 300, 200])]
    assert remote == _local(capsys, checkpoint, *args)


def test_a_wrong_key_exits_5_with_one_line(capsys, strict_server, inputs):
    images, _ = inputs
    code, _, err = _records(capsys, "ocr", images[0], "--backend", "openai", "--url", strict_server.url,
                            "--api-key", "wrong", "--max-new-tokens", 4)
    assert code == EXIT_REMOTE and "refused the API key (401)" in err and "Traceback" not in err


def test_the_key_can_come_from_the_environment(capsys, strict_server, inputs, monkeypatch):
    images, _ = inputs
    monkeypatch.setenv("GLMOCR_STUDIO_API_KEY", API_KEY)
    code, records, err = _records(capsys, "ocr", images[0], "--backend", "openai", "--url", strict_server.url,
                                  "--max-new-tokens", 4, "--json")
    assert code == 0, err
    assert len(records) == 1 and len(records[0]["token_ids"]) <= 4


def test_no_server_exits_5(capsys, inputs):
    images, _ = inputs
    code, _, err = _records(capsys, "ocr", images[0], "--backend", "openai", "--url",
                            f"http://127.0.0.1:{free_port()}")
    assert code == EXIT_REMOTE and "cannot connect" in err


def test_a_bad_url_is_a_usage_error(capsys, inputs):
    images, _ = inputs
    code, _, err = _records(capsys, "ocr", images[0], "--backend", "openai", "--url", "127.0.0.1:8080")
    assert code == EXIT_USAGE and "bad server URL" in err


def test_info_checks_a_server(capsys, server):
    assert main(["info", "--backend", "openai", "--url", server.url]) == 0
    assert "status: ready" in capsys.readouterr().out
    assert main(["info", "--backend", "ollama", "--url", server.url, "--model-name", "llava"]) == EXIT_REMOTE
    assert "does not serve 'llava'" in capsys.readouterr().out


def test_serve_refuses_to_bind_beyond_this_machine_without_a_key(capsys, checkpoint):
    assert main(["serve", "--model", str(checkpoint), "--host", "0.0.0.0"]) == EXIT_USAGE
    assert "API key" in capsys.readouterr().err
