"""When QtWebEngine's render process dies, or a web view cannot be made, results fall back to their source view with
a short note and the app keeps running (issue 13, point 1). The process is really killed."""

import os
import signal

import pytest

from app.document.model import DONE, Region
from app.resources_setup import katex_available
from app.results import make_result_view, web
from app.results.cards import ResultsPanel

needs_katex = pytest.mark.skipif(not katex_available(), reason="run `python -m app.resources_setup` first")


@pytest.fixture(autouse=True)
def web_views_work_again():
    web.reset_web_failure()
    yield
    web.reset_web_failure()  # later tests get real web views again (Chromium starts a new render process)


def region(task, text, parsed=None):
    result = {"task": task, "text": text, "parsed": parsed, "parse_error": None, "stop_reason": "eos"}
    return Region(page=0, box=(0, 0, 10, 10), task=task, state=DONE, text=text, result=result)


def kill_render_processes(qtbot, *views) -> None:
    """SIGKILL the Chromium process behind each view (one process may serve several)."""
    qtbot.waitUntil(lambda: all(view.page().renderProcessPid() > 0 for view in views), timeout=15_000)
    for pid in {view.page().renderProcessPid() for view in views}:
        os.kill(pid, signal.SIGKILL)


@needs_katex
def test_a_killed_render_process_leaves_every_result_as_source_with_a_note(qtbot):
    formula, text = region("formula", "\\frac{a}{b}", "\\frac{a}{b}"), region("text", "Hello $x^2$ world")
    panel = ResultsPanel()
    qtbot.addWidget(panel)
    panel.resize(420, 600)
    panel.sync([formula, text])
    panel.show()
    formula_view, text_view = panel.card(formula.id).view, panel.card(text.id).view
    with qtbot.waitSignals([formula_view.preview.rendered, text_view.preview.rendered], timeout=15_000):
        pass
    with qtbot.waitSignals([formula_view.preview.failed, text_view.preview.failed], timeout=15_000):
        kill_render_processes(qtbot, formula_view.preview, text_view.preview)
    qtbot.waitUntil(lambda: formula_view.preview is None and text_view.preview is None, timeout=15_000)
    assert "stopped" in formula_view.notice.text() and formula_view.notice.isVisibleTo(formula_view)
    assert formula_view.source.toPlainText() == "\\frac{a}{b}" and not formula_view.source.isReadOnly()
    assert "Hello" in text_view.fallback.toPlainText() and "x^2" in text_view.fallback.toPlainText()  # math as LaTeX
    assert text_view.notice.isVisibleTo(text_view) and "stopped" in text_view.notice.text()
    assert web.web_failure().startswith("the web page process ended")
    # The app goes on: edits still reach the region, and a new card shows source at once.
    with qtbot.waitSignal(formula_view.edited, timeout=5_000):
        formula_view.set_latex("\\frac{a}{c}")
    assert formula.edited_text == "\\frac{a}{c}"
    later = make_result_view(region("formula", "y", "y"))
    qtbot.addWidget(later)
    assert later.preview is None and later.source.toPlainText() == "y"
    assert later.notice.isVisibleTo(later) and "process ended" in later.notice.text()  # says why: not "not installed"


def test_a_web_view_that_cannot_be_created_gives_source_views(qtbot, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("GPU process unavailable")

    monkeypatch.setattr(web, "katex_view_class", lambda: broken)
    monkeypatch.setattr(web, "webengine_available", lambda: True)
    text = make_result_view(region("text", "Some **bold** and $y$"))
    qtbot.addWidget(text)
    text.show()
    assert text.preview is None and "bold" in text.fallback.toPlainText()
    assert text.notice.isVisibleTo(text)
    assert "GPU process unavailable" in web.web_failure()


def test_a_result_page_that_cannot_load_gives_source_views(qtbot, tmp_path, monkeypatch):
    (tmp_path / "web").mkdir()  # a resources folder whose results.html is missing (a broken install)
    monkeypatch.setenv("GLMOCR_RESOURCES_DIR", str(tmp_path))
    view = make_result_view(region("formula", "x^2", "x^2"))
    qtbot.addWidget(view)
    view.show()
    qtbot.waitUntil(lambda: view.preview is None, timeout=15_000)
    assert "could not be loaded" in view.notice.text() and view.source.toPlainText() == "x^2"
