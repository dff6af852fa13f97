"""PDF pages render in a child process: same pixels, and a page that takes too long is stopped, not waited for."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from glmocr_core.documents import render_process
from glmocr_core.documents.document import PdfDocument, RenderStopped, open_document
from glmocr_core.testing.images import write_heavy_pdf, write_test_pdf

HEAVY_OPERATIONS = 300_000  # tens of seconds of rendering on any machine this runs on; the tests stop it long before


@pytest.fixture(scope="module")
def heavy_pdf(tmp_path_factory):
    return write_heavy_pdf(tmp_path_factory.mktemp("heavy") / "heavy.pdf", HEAVY_OPERATIONS)


@pytest.fixture
def pdf_bytes(tmp_path):
    return write_test_pdf(tmp_path / "three.pdf", 3).read_bytes()


@pytest.mark.parametrize("scale", [0.5, 1.0, 200 / 72])
def test_the_child_renders_the_same_pixels_as_this_process(pdf_bytes, scale):
    isolated, here = PdfDocument("a.pdf", pdf_bytes, 10**8), PdfDocument("a.pdf", pdf_bytes, 10**8, False)
    try:
        for page in range(3):
            assert isolated.render(page, scale).tobytes() == here.render(page, scale).tobytes()
        assert isolated._renderer.starts == 1  # one child served every page
    finally:
        isolated.close()
        here.close()


def test_a_page_over_its_time_limit_is_stopped_and_the_next_page_renders(heavy_pdf):
    document = open_document(heavy_pdf)
    try:
        document.render(0, 0.01)  # the child is up
        with pytest.raises(RenderStopped, match="took longer than 0.5 s"):
            document._renderer.render(0, 1.0, time_limit_s=0.5)
        assert document.render(0, 0.01).size == (6, 8)
        assert document._renderer.starts == 2  # the stuck child was killed, a fresh one served the next page
    finally:
        document.close()


def test_cancel_stops_a_render_in_progress(heavy_pdf):
    document = open_document(heavy_pdf)
    cancel = threading.Event()
    try:
        document.render(0, 0.01)
        # Set from another thread while this one waits: the wait never holds the interpreter lock, unlike MuPDF.
        threading.Timer(0.3, cancel.set).start()
        with pytest.raises(RenderStopped, match="was stopped"):
            document.ocr_image(0, dpi=200, cancel=cancel)
    finally:
        document.close()


def test_a_child_started_from_a_thread_that_ended_lives_on(pdf_bytes):
    # Linux's parent-death signal follows the thread that started the child; the command line renders each page on a
    # thread of its own, so a child tied to the first one would die before page 2.
    document = PdfDocument("a.pdf", pdf_bytes, 10**8)
    try:
        starter = threading.Thread(target=document.render, args=(0, 0.5))
        starter.start()
        starter.join()
        assert document.render(1, 0.5).size == (150, 100)
        assert document._renderer.starts == 1
    finally:
        document.close()


def test_a_renderer_that_dies_is_replaced(pdf_bytes):
    document = PdfDocument("a.pdf", pdf_bytes, 10**8)
    try:
        document.render(0, 0.5)
        os.kill(document._renderer.pid, signal.SIGKILL)
        document._renderer._child.process.wait(10)
        assert document.render(1, 0.5).size == (150, 100)
        assert document._renderer.starts == 2
    finally:
        document.close()


def test_closing_the_document_ends_its_child(pdf_bytes):
    document = PdfDocument("a.pdf", pdf_bytes, 10**8)
    document.render(0, 0.5)
    process = document._renderer._child.process
    document.close()
    assert process.poll() is not None


def test_without_child_processes_pages_render_here(pdf_bytes, monkeypatch):
    monkeypatch.setattr(render_process, "worker_command", lambda: ["/nonexistent/python"])
    document = PdfDocument("a.pdf", pdf_bytes, 10**8)
    try:
        assert document.render(2, 0.5).size == (150, 100)
        assert document._renderer is None  # fell back for good, so later pages do not try again
    finally:
        document.close()


def test_the_frozen_app_runs_the_worker_through_its_own_executable(monkeypatch):
    monkeypatch.setattr(render_process.sys, "frozen", True, raising=False)
    assert render_process.worker_command() == [render_process.sys.executable, render_process.RENDER_WORKER_FLAG]


@pytest.mark.timeout(180)
def test_ctrl_c_on_the_command_line_ends_a_run_on_a_real_heavy_page(heavy_pdf, tiny_checkpoint):
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-m", "glmocr_core", "ocr", str(heavy_pdf), "--model",
                              str(tiny_checkpoint), "--device", "cpu"], stderr=subprocess.PIPE, text=True)
    lines = []
    for line in child.stderr:  # the notice comes while MuPDF is busy: the main thread is not blocked by it
        lines.append(line)
        if "slow to render" in line:
            child.send_signal(signal.SIGINT)
            break
    assert child.wait(timeout=30) == 130, "".join(lines)
    assert "interrupted" in child.stderr.read()
