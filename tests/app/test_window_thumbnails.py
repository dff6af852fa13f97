"""PDF thumbnails at open: every page has its own place in the list (picture and number visible, the selection around
both), from the first layout on and after the pictures arrive, without any relayout."""

from itertools import pairwise

import pytest
from PySide6.QtCore import QRect

from fake_engine import FakeFactory
from helpers import WAIT_MS, make_pdf

PAGES = 4


@pytest.fixture
def opened_pdf(make_studio, qtbot, tmp_path):
    studio = make_studio(FakeFactory())
    rendered = []
    studio.documents.thumb_renderer.rendered.connect(lambda *args: rendered.append(args[1]))
    assert studio.documents.open_path(str(make_pdf(tmp_path / "pages.pdf", pages=PAGES)))
    return studio, rendered


def item_rects(thumbs) -> list[QRect]:
    return [thumbs.visualItemRect(thumbs.item(row)) for row in range(thumbs.count())]


def assert_one_place_each(thumbs) -> None:
    rects = item_rects(thumbs)
    label_height = thumbs.fontMetrics().height()
    picture_height = thumbs.iconSize().height() * 0.9  # a 300×400 page fills nearly the whole icon box
    for row, rect in enumerate(rects):
        assert rect.height() >= picture_height + label_height, (row, rect)  # picture and number both inside
        assert rect.width() >= thumbs.iconSize().width() * 0.7, (row, rect)
    for above, below in pairwise(rects):
        assert below.top() >= above.bottom(), (above, below)  # never drawn on top of each other


def test_thumbnails_have_their_own_place_before_the_pictures_arrive(opened_pdf, qtbot):
    studio, _ = opened_pdf
    thumbs = studio.window.thumbnails
    qtbot.wait(50)  # the list's own (first) layout runs from the event loop
    assert thumbs.count() == PAGES
    assert_one_place_each(thumbs)


def test_thumbnails_keep_their_places_when_the_pictures_arrive(opened_pdf, qtbot):
    studio, rendered = opened_pdf
    thumbs = studio.window.thumbnails
    qtbot.waitUntil(lambda: len(rendered) == PAGES, timeout=WAIT_MS)
    qtbot.wait(50)
    assert_one_place_each(thumbs)
    thumbs.setCurrentRow(2)
    selected = thumbs.visualItemRect(thumbs.item(2))
    assert selected.height() >= thumbs.iconSize().height() * 0.9  # the selection is around the whole page
