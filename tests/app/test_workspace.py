"""The desktop workspace end to end in pytest-qt (offscreen), driven by the fake engine."""

import pymupdf
import pytest
from PIL import Image, ImageDraw
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QImage, QColor
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from glmocr_core.errors import InputError

from app.main_window import MainWindow
from app.page_view import NO_AREA_HINT
from app.paths import MODEL_DIR_ENV
from app.settings import Settings
from fake_engine import FakeFactory
from helpers import header_checkpoint as fake_checkpoint

WAIT_MS = 10000


def make_png(path, size=(400, 300)):
    image = Image.new("RGB", size, "white")
    ImageDraw.Draw(image).text((20, 20), "Hello", fill="black")
    image.save(path)
    return path


def make_pdf(path, pages=3):
    pdf = pymupdf.open()
    for index in range(pages):
        page = pdf.new_page(width=300, height=400)
        page.insert_text((40, 60), f"Page {index + 1}")
    pdf.save(str(path))
    pdf.close()
    return path


@pytest.fixture
def open_window(qtbot, tmp_path, monkeypatch):
    windows = []

    def factory_window(engine=None, with_model=True, **settings_values):
        if with_model:
            monkeypatch.setenv(MODEL_DIR_ENV, str(fake_checkpoint(tmp_path / "model")))
        else:
            monkeypatch.setenv(MODEL_DIR_ENV, str(tmp_path / "no-model-here"))
        settings = Settings(tmp_path / "settings.ini")
        for name, value in settings_values.items():
            settings.set(name, value)
        engine = engine or FakeFactory()
        window = MainWindow(settings, engine_factory=engine)
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        window.activateWindow()
        if with_model:
            qtbot.waitUntil(lambda: window.host.has_model, timeout=WAIT_MS)
        windows.append(window)
        return window

    yield factory_window
    for window in windows:
        window.close()
        assert window.host.thread.wait(WAIT_MS)


def viewport_point(window, x, y) -> QPoint:
    return window.page_view.mapFromScene(QPointF(x, y))


def drag_on_page(window, start, end):
    viewport = window.page_view.viewport()
    a, b = viewport_point(window, *start), viewport_point(window, *end)
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, a)
    QTest.mouseMove(viewport, (a + b) / 2)
    QTest.mouseMove(viewport, b)
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, b)


def only_region(window):
    assert len(window.session.regions) == 1
    return window.session.regions[0]


# --- documents in -------------------------------------------------------------------------


def test_open_image_shows_page(open_window, qtbot, tmp_path):
    window = open_window()
    assert window.open_path(str(make_png(tmp_path / "scan.png")))
    assert window.center.currentWidget() is window.page_view
    assert window.session.kind == "image" and window.session.page_count == 1
    assert "scan.png" in window.windowTitle()
    qtbot.waitUntil(window.page_view.is_rendered, timeout=WAIT_MS)
    assert window.settings.get("recent_files")[0].endswith("scan.png")
    assert window.settings.get("last_folder") == str(tmp_path.resolve())


def test_open_multi_page_pdf_thumbnails_and_navigation(open_window, qtbot, tmp_path):
    window = open_window()
    assert window.open_path(str(make_pdf(tmp_path / "three.pdf", pages=3)))
    assert window.thumbnails.count() == 3
    qtbot.waitUntil(lambda: all(not window.thumbnails.item(i).icon().isNull() for i in range(3)), timeout=WAIT_MS)
    window.page_view.setFocus()
    QTest.keyClick(window.page_view, Qt.Key.Key_PageDown)
    assert window.page_view.page == 1 and window.thumbnails.currentRow() == 1
    assert window.page_label.text() == "Page 2 of 3"
    window.thumbnails.setCurrentRow(2)
    assert window.page_view.page == 2
    assert not window.actions_by_key["next_page"].isEnabled()
    QTest.keyClick(window.page_view, Qt.Key.Key_PageUp)
    assert window.page_view.page == 1


def test_broken_file_gives_a_message_not_a_crash(open_window, tmp_path):
    window = open_window()
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    assert not window.open_path(str(broken))
    assert "broken.png" in window.last_error
    assert window.session is None and window.center.currentWidget() is window.empty_state


def test_paste_image_from_clipboard(open_window):
    window = open_window()
    image = QImage(320, 200, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    QApplication.clipboard().setImage(image)
    window.page_view.setFocus()
    window.actions_by_key["paste"].trigger()
    assert window.session is not None and window.session.path is None
    assert window.document.page_size(0) == (320.0, 200.0)


def test_paste_file_path_from_clipboard(open_window, tmp_path):
    window = open_window()
    path = make_png(tmp_path / "copied.png")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    QApplication.clipboard().setMimeData(mime)
    window.paste()
    assert window.session.name == "copied.png"


def send_drop(window, mime) -> bool:
    position = QPointF(window.width() / 2, window.height() / 2)
    enter = QDragEnterEvent(position, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    if not enter.isAccepted():
        return False
    drop = QDropEvent(position, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, drop)
    return drop.isAccepted()


def test_drop_file_url_opens_the_pdf(open_window, tmp_path):
    window = open_window()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(make_pdf(tmp_path / "dropped.pdf", pages=2)))])
    assert send_drop(window, mime)
    assert window.session.name == "dropped.pdf" and window.thumbnails.count() == 2


def test_drop_raw_image_data(open_window):
    window = open_window()
    image = QImage(150, 90, QImage.Format.Format_RGB32)
    image.fill(QColor("gray"))
    mime = QMimeData()
    mime.setImageData(image)
    assert send_drop(window, mime)
    assert window.session.path is None and window.document.page_size(0) == (150.0, 90.0)


def test_drop_from_browser_uses_image_bytes_not_the_web_link(open_window, tmp_path):
    window = open_window()
    png = make_png(tmp_path / "web.png", size=(64, 48)).read_bytes()
    mime = QMimeData()
    mime.setUrls([QUrl("https://example.com/picture.png")])
    mime.setData("image/png", png)
    assert send_drop(window, mime)
    assert window.document.page_size(0) == (64.0, 48.0)


def test_drop_of_a_web_link_alone_explains_why_not(open_window):
    window = open_window()
    mime = QMimeData()
    mime.setUrls([QUrl("https://example.com/picture.png")])
    send_drop(window, mime)
    assert "offline" in window.last_error and window.session is None


# --- regions --------------------------------------------------------------------------------


def test_draw_region_change_task_and_delete(open_window, tmp_path):
    window = open_window(auto_run=False)
    window.open_path(str(make_png(tmp_path / "page.png")))
    drag_on_page(window, (40, 50), (240, 150))
    region = only_region(window)
    x0, y0, x1, y1 = region.box
    assert abs(x0 - 40) <= 2 and abs(y0 - 50) <= 2 and abs(x1 - 240) <= 2 and abs(y1 - 150) <= 2
    assert region.task == "text" and window.page_view.selected_region_id() == region.id
    assert window.region_list.topLevelItemCount() == 1 and window.results.card(region.id) is not None
    QTest.keyClick(window.page_view, Qt.Key.Key_2)
    assert region.task == "formula" and window.default_task() == "formula"
    QTest.keyClick(window.page_view, Qt.Key.Key_3)
    assert region.task == "table" and window.settings.get("default_task") == "table"
    assert window.region_list.topLevelItem(0).text(1) == "Table"
    QTest.keyClick(window.page_view, Qt.Key.Key_Delete)
    assert window.session.regions == [] and window.page_view.items_by_id == {}
    assert window.region_list.topLevelItemCount() == 0 and window.results.cards == {}


def test_new_region_takes_the_default_task(open_window, tmp_path):
    window = open_window(auto_run=False, default_task="extract")
    window.open_path(str(make_png(tmp_path / "page.png")))
    drag_on_page(window, (10, 10), (100, 100))
    assert only_region(window).task == "extract"


def test_zero_area_and_off_page_drags_are_ignored_with_a_hint(open_window, qtbot, tmp_path):
    factory = FakeFactory()
    window = open_window(engine=factory)
    window.open_path(str(make_png(tmp_path / "page.png")))
    drag_on_page(window, (100, 40), (100, 200))  # a vertical line: no area
    assert window.session.regions == []
    assert window.statusBar().currentMessage() == NO_AREA_HINT
    window.statusBar().clearMessage()
    drag_on_page(window, (-5, -5), (-2, 250))  # left of the page
    assert window.session.regions == [] and window.statusBar().currentMessage() == NO_AREA_HINT
    assert factory.engine.calls == []


def test_resize_a_region_with_its_corner_handle(open_window, tmp_path):
    window = open_window(auto_run=False)
    window.open_path(str(make_png(tmp_path / "page.png")))
    drag_on_page(window, (40, 40), (140, 140))
    region = only_region(window)
    viewport = window.page_view.viewport()
    corner, target = viewport_point(window, 140, 140), viewport_point(window, 200, 180)
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, corner)
    QTest.mouseMove(viewport, target)
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, target)
    x0, y0, x1, y1 = region.box
    assert abs(x0 - 40) <= 2 and abs(y0 - 40) <= 2 and abs(x1 - 200) <= 3 and abs(y1 - 180) <= 3


def test_selection_moves_between_view_list_and_cards(open_window, tmp_path):
    window = open_window(auto_run=False)
    window.open_path(str(make_png(tmp_path / "page.png")))
    first = window.add_region(0, (10, 10, 100, 60))
    second = window.add_region(0, (10, 100, 100, 160))
    QTest.mouseClick(window.results.card(first.id), Qt.MouseButton.LeftButton)
    assert window.page_view.selected_region_id() == first.id
    assert window.region_list.selected_id() == first.id
    window.region_list.topLevelItem(1).setSelected(True)
    window.region_list.setCurrentItem(window.region_list.topLevelItem(1))
    assert window.results.selected_id == second.id and window.page_view.selected_region_id() == second.id
    assert window.results.card(second.id).property("selected") is True
    assert window.results.card(first.id).property("selected") is False


def test_region_list_follows_reading_order(open_window, tmp_path):
    window = open_window(auto_run=False)
    window.open_path(str(make_png(tmp_path / "page.png")))
    lower = window.add_region(0, (10, 200, 100, 260))
    upper = window.add_region(0, (10, 10, 100, 60))
    ids = [window.region_list.topLevelItem(i).data(0, Qt.ItemDataRole.UserRole) for i in range(2)]
    assert ids == [upper.id, lower.id]


# --- running OCR -----------------------------------------------------------------------------


def test_ocr_streams_into_the_card_then_finishes(open_window, qtbot, tmp_path):
    factory = FakeFactory(tokens=["Hello ", "wide ", "world"], pause_after=1)
    window = open_window(engine=factory)
    window.open_path(str(make_png(tmp_path / "page.png")))
    drag_on_page(window, (40, 50), (240, 150))
    region = only_region(window)
    card = window.results.card(region.id)
    qtbot.waitUntil(lambda: card.stream_view.toPlainText() == "Hello ", timeout=WAIT_MS)
    assert region.state == "running" and "Running" in window.region_list.state_of(region.id)
    factory.engine.release.set()
    qtbot.waitUntil(lambda: region.state == "done", timeout=WAIT_MS)
    assert card.view.text() == "Hello wide world"
    assert "Done" in window.region_list.state_of(region.id)
    assert region.result["text"] == "Hello wide world"
    assert "tok/s" in window.speed_label.text()
    (size, task, box), = factory.engine.calls
    assert size == (400, 300) and task == "text" and abs(box[0] - 40) <= 2


def test_whole_page_runs_the_page_without_a_crop(open_window, qtbot, tmp_path):
    factory = FakeFactory(tokens=["page"])
    window = open_window(engine=factory)
    window.open_path(str(make_pdf(tmp_path / "doc.pdf", pages=2)))
    window.go_to_page(1)
    window.actions_by_key["whole_page"].trigger()
    region = only_region(window)
    qtbot.waitUntil(lambda: region.state == "done", timeout=WAIT_MS)
    assert region.page == 1 and factory.engine.calls[0][2] is None


def test_text_deltas_are_throttled(open_window, qtbot, tmp_path):
    factory = FakeFactory(tokens=[f"w{i} " for i in range(400)])
    window = open_window(engine=factory)
    deltas = []
    window.host.text_delta.connect(lambda rid, text: deltas.append(text))
    window.open_path(str(make_png(tmp_path / "page.png")))
    window.add_region(0, (0, 0, 200, 100))
    region = only_region(window)
    qtbot.waitUntil(lambda: region.state == "done", timeout=WAIT_MS)
    assert 0 < len(deltas) < 400 and "".join(deltas) == region.text


def test_cancel_mid_stream_keeps_the_partial_text(open_window, qtbot, tmp_path):
    factory = FakeFactory(tokens=["one ", "two ", "three"], pause_after=2)
    window = open_window(engine=factory)
    window.open_path(str(make_png(tmp_path / "page.png")))
    drag_on_page(window, (10, 10), (200, 100))
    region = only_region(window)
    assert factory.engine.paused.wait(10)
    window.page_view.setFocus()
    QTest.keyClick(window.page_view, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: region.state == "cancelled", timeout=WAIT_MS)
    assert region.text == "one two "
    card = window.results.card(region.id)
    assert card.view.text() == "one two " and card.message.isVisibleTo(card)
    assert "Cancelled" in window.region_list.state_of(region.id)


def test_worker_error_shows_in_the_card_and_the_app_keeps_working(open_window, qtbot, tmp_path):
    factory = FakeFactory(error=InputError("the region is too thin for the model"))
    window = open_window(engine=factory)
    window.open_path(str(make_png(tmp_path / "page.png")))
    region = window.add_region(0, (10, 10, 200, 100))
    qtbot.waitUntil(lambda: region.state == "failed", timeout=WAIT_MS)
    card = window.results.card(region.id)
    assert "too thin" in card.message.text() and card.message.isVisibleTo(card)
    assert "too thin" in window.statusBar().currentMessage()
    factory.engine.error = None
    window.select_region(region.id)
    window.actions_by_key["rerun"].trigger()
    qtbot.waitUntil(lambda: region.state == "done", timeout=WAIT_MS)
    assert not card.message.isVisibleTo(card)


def test_close_during_a_job_stops_the_worker(open_window, qtbot, tmp_path):
    factory = FakeFactory(pause_after=1)
    window = open_window(engine=factory)
    window.open_path(str(make_png(tmp_path / "page.png")))
    window.add_region(0, (10, 10, 200, 100))
    assert factory.engine.paused.wait(10)
    window.close()
    assert window.host.thread.isFinished() and factory.engine.closed
    assert window.settings.get("window/geometry")


# --- without a model ------------------------------------------------------------------------


def test_without_a_model_the_app_still_opens_and_draws(open_window, tmp_path):
    window = open_window(with_model=False)
    assert window.first_run.isVisibleTo(window) and "No model loaded" in window.first_run.title.text()
    assert "no-model-here" in window.first_run.text.text()
    window.open_path(str(make_png(tmp_path / "page.png")))
    drag_on_page(window, (10, 10), (200, 100))
    region = only_region(window)
    assert region.state == "queued"
    assert "No model is loaded" in window.results.card(region.id).stream_view.placeholderText()
    assert "No model" in window.statusBar().currentMessage()


def test_queued_regions_run_once_a_model_arrives(open_window, qtbot, tmp_path):
    window = open_window(with_model=False)
    window.open_path(str(make_png(tmp_path / "page.png")))
    region = window.add_region(0, (10, 10, 200, 100))
    window.load_model(str(fake_checkpoint(tmp_path / "later-model")))
    qtbot.waitUntil(lambda: region.state == "done", timeout=WAIT_MS)
    assert not window.first_run.isVisibleTo(window)
    assert "later-model" in window.model_label.text() and "cpu" in window.model_label.text()


def test_model_load_failure_is_explained(open_window, qtbot, tmp_path):
    window = open_window(engine=FakeFactory(fail_with="model.safetensors is truncated"), with_model=False)
    window.load_model(str(fake_checkpoint(tmp_path / "broken-model")))
    qtbot.waitUntil(lambda: "truncated" in window.first_run.text.text(), timeout=WAIT_MS)
    assert window.first_run.title.text() == "The model could not be loaded"


def test_model_manager_hook(open_window):
    window = open_window(with_model=False)
    calls = []
    window.model_manager_requested.connect(lambda: calls.append(1))
    window.first_run.get_button.click()
    assert calls == [1]


def test_model_manager_default_explains_where_to_get_it(open_window):
    window = open_window(with_model=False)
    window.first_run.get_button.click()
    assert "huggingface.co/zai-org/GLM-OCR" in window.message_box.text()
    window.message_box.close()


# --- manners ---------------------------------------------------------------------------------


def test_about_box_lists_versions_and_model(open_window):
    window = open_window()
    window.actions_by_key["about"].trigger()
    text = window.message_box.text()
    assert "PySide6" in text and "Qt" in text and "Python" in text and "model" in text.lower()
    assert "cpu" in text
    window.message_box.close()


def test_window_geometry_is_remembered(open_window, tmp_path):
    window = open_window()
    window.resize(640, 480)  # the offscreen screen is small: stay inside it
    size = (window.width(), window.height())
    window.close()
    again = open_window()
    assert (again.width(), again.height()) == size == (640, 480)


def test_frequent_actions_have_shortcuts_and_controls_have_names(open_window):
    window = open_window()
    for key in ("open", "paste", "zoom_in", "zoom_out", "fit_page", "fit_width", "prev_page", "next_page",
                "whole_page", "delete", "cancel", "task_text", "task_formula", "task_table", "task_extract"):
        assert not window.actions_by_key[key].shortcut().isEmpty(), key
    for widget in (window.page_view, window.region_list, window.results, window.thumbnails):
        assert widget.accessibleName()


def test_card_buttons_stop_and_rerun_their_region(open_window, qtbot, tmp_path):
    factory = FakeFactory(tokens=["a ", "b ", "c"], pause_after=1)
    window = open_window(engine=factory)
    window.open_path(str(make_png(tmp_path / "page.png")))
    region = window.add_region(0, (10, 10, 200, 100))
    card = window.results.card(region.id)
    assert factory.engine.paused.wait(10)
    card.cancel_button.click()
    qtbot.waitUntil(lambda: region.state == "cancelled", timeout=WAIT_MS)
    assert region.text == "a " and card.rerun_button.isVisibleTo(card)
    factory.engine.pause_after = None
    card.rerun_button.click()
    qtbot.waitUntil(lambda: region.state == "done", timeout=WAIT_MS)
    assert region.text == "a b c"
