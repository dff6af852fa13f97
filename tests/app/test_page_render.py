"""The page renderer: PDF pages render without freezing the window, a slow page is announced and can be skipped."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QThreadPool

from app.window import page_render
from app.window.page_render import PageRenderer
from glmocr_core.documents.document import open_document
from glmocr_core.testing.images import write_heavy_pdf, write_test_pdf


@pytest.fixture(scope="module")
def heavy_pdf(tmp_path_factory):
    return write_heavy_pdf(tmp_path_factory.mktemp("heavy") / "heavy.pdf", 300_000)


@pytest.fixture
def pool():
    pool = QThreadPool()
    pool.setMaxThreadCount(1)  # one render at a time, so the order of the queue is the test's to set
    yield pool
    pool.waitForDone(30_000)


def test_a_page_renders_to_an_image_of_the_asked_scale(qtbot, tmp_path, pool):
    document = open_document(write_test_pdf(tmp_path / "a.pdf", 2))
    renderer = PageRenderer(pool=pool)
    with qtbot.waitSignal(renderer.rendered, timeout=60_000) as got:
        renderer.request(document, 1, 2.0, ticket="t")
    ticket, page, image, scale = got.args
    assert (ticket, page, scale, image.width(), image.height()) == ("t", 1, 2.0, 600, 400)
    document.close()


def test_a_slow_page_is_announced_and_skipping_it_stops_the_render(qtbot, heavy_pdf, pool, monkeypatch):
    monkeypatch.setattr(page_render, "SLOW_RENDER_NOTICE_S", 0.2)
    document = open_document(heavy_pdf)
    renderer = PageRenderer(pool=pool)
    rendered = []
    renderer.rendered.connect(lambda *args: rendered.append(args))
    # The GUI thread's event loop delivers the notice while the page renders: the window is not frozen.
    with qtbot.waitSignal(renderer.slow, timeout=60_000) as slow:
        renderer.request(document, 0, 1.0, ticket="heavy")
    assert slow.args == ["heavy", 0]
    with qtbot.waitSignal(renderer.failed, timeout=20_000) as failed:
        renderer.cancel("heavy")
    assert failed.args[:2] == ["heavy", 0] and "stopped" in failed.args[2]
    assert rendered == []
    document.close()


def test_a_newer_request_supersedes_the_queued_ones(qtbot, tmp_path, heavy_pdf, pool):
    heavy, light = open_document(heavy_pdf), open_document(write_test_pdf(tmp_path / "b.pdf", 3))
    renderer = PageRenderer(pool=pool, latest_only=True)
    rendered = []
    renderer.rendered.connect(lambda ticket, *rest: rendered.append(ticket))
    renderer.request(heavy, 0, 1.0, ticket="busy")  # holds the only thread
    renderer.request(light, 0, 1.0, ticket="stale")
    renderer.request(light, 2, 1.0, ticket="latest")
    renderer.cancel("busy")
    qtbot.waitUntil(lambda: "latest" in rendered, timeout=60_000)
    assert rendered == ["latest"]
    heavy.close()
    light.close()


def test_the_page_view_offers_to_skip_a_slow_page(qtbot, heavy_pdf, monkeypatch):
    from PySide6.QtCore import Qt

    from app.window.page_view import PageView

    monkeypatch.setattr(page_render, "SLOW_RENDER_NOTICE_S", 0.2)
    document = open_document(heavy_pdf)
    view = PageView()
    qtbot.addWidget(view)
    view.resize(800, 600)
    view.show()
    hints = []
    view.hint.connect(hints.append)
    view.set_document(document, 0)
    qtbot.waitUntil(view.skip_button.isVisible, timeout=60_000)
    assert "slow to render" in view.skip_button.text()
    qtbot.mouseClick(view.skip_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: any("stopped" in hint for hint in hints), timeout=20_000)
    assert not view.skip_button.isVisible() and not view.is_rendered()
    document.close()
