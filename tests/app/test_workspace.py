"""The desktop workspace end to end in pytest-qt (offscreen): the composed app, driven by the fake engine."""

import pytest
from PySide6.QtCore import QMimeData, Qt, QUrl
from PySide6.QtGui import QColor, QImage
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from glmocr_core.errors import InputError

from app.window.page_view import NO_AREA_HINT
from fake_engine import FakeFactory
from helpers import WAIT_MS, drag_on_page, header_checkpoint, make_pdf, make_png, send_drop, viewport_point


@pytest.fixture
def open_studio(make_studio, qtbot, tmp_path):
    def open_(engine=None, with_model=True, **settings_values):
        if with_model:
            header_checkpoint(tmp_path / "model")
        studio = make_studio(engine or FakeFactory(), model_env="model" if with_model else "no-model-here",
                             **settings_values)
        studio.window.activateWindow()
        if with_model:
            qtbot.waitUntil(lambda: studio.host.has_model, timeout=WAIT_MS)
        return studio

    return open_


def only_region(studio):
    assert len(studio.workspace.session.regions) == 1
    return studio.workspace.session.regions[0]


# --- documents in -------------------------------------------------------------------------


def test_open_image_shows_page(open_studio, qtbot, tmp_path):
    studio = open_studio()
    window = studio.window
    assert studio.documents.open_path(str(make_png(tmp_path / "scan.png")))
    assert window.center.currentWidget() is window.page_area
    assert studio.workspace.session.kind == "image" and studio.workspace.session.page_count == 1
    assert "scan.png" in window.windowTitle()
    qtbot.waitUntil(window.page_view.is_rendered, timeout=WAIT_MS)
    assert window.settings.get("recent_files")[0].endswith("scan.png")
    assert window.settings.get("last_folder") == str(tmp_path.resolve())


def test_open_multi_page_pdf_thumbnails_and_navigation(open_studio, qtbot, tmp_path):
    studio = open_studio()
    window = studio.window
    assert studio.documents.open_path(str(make_pdf(tmp_path / "three.pdf", pages=3)))
    assert window.thumbnails.count() == 3
    qtbot.waitUntil(lambda: all(not window.thumbnails.item(i).icon().isNull() for i in range(3)), timeout=WAIT_MS)
    window.page_view.setFocus()
    QTest.keyClick(window.page_view, Qt.Key.Key_PageDown)
    assert window.page_view.page == 1 and window.thumbnails.currentRow() == 1
    assert window.page_label.text() == "Page 2 of 3"
    window.thumbnails.setCurrentRow(2)
    assert window.page_view.page == 2
    assert not studio.actions["next_page"].isEnabled()
    QTest.keyClick(window.page_view, Qt.Key.Key_PageUp)
    assert window.page_view.page == 1


def test_broken_file_gives_a_message_not_a_crash(open_studio, tmp_path):
    studio = open_studio()
    window = studio.window
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    assert not studio.documents.open_path(str(broken))
    assert "broken.png" in window.last_error
    assert studio.workspace.session is None and window.center.currentWidget() is window.empty_state


def test_paste_image_from_clipboard(open_studio):
    studio = open_studio()
    window = studio.window
    image = QImage(320, 200, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    QApplication.clipboard().setImage(image)
    window.page_view.setFocus()
    studio.actions["paste"].trigger()
    assert studio.workspace.session is not None and studio.workspace.session.path is None
    assert studio.workspace.document.page_size(0) == (320.0, 200.0)


def test_paste_file_path_from_clipboard(open_studio, tmp_path):
    studio = open_studio()
    path = make_png(tmp_path / "copied.png")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    QApplication.clipboard().setMimeData(mime)
    studio.documents.paste()
    assert studio.workspace.session.name == "copied.png"


def test_drop_file_url_opens_the_pdf(open_studio, tmp_path):
    studio = open_studio()
    window = studio.window
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(make_pdf(tmp_path / "dropped.pdf", pages=2)))])
    assert send_drop(window, mime)
    assert studio.workspace.session.name == "dropped.pdf" and window.thumbnails.count() == 2


def test_drop_raw_image_data(open_studio):
    studio = open_studio()
    window = studio.window
    image = QImage(150, 90, QImage.Format.Format_RGB32)
    image.fill(QColor("gray"))
    mime = QMimeData()
    mime.setImageData(image)
    assert send_drop(window, mime)
    assert studio.workspace.session.path is None and studio.workspace.document.page_size(0) == (150.0, 90.0)


def test_drop_from_browser_uses_image_bytes_not_the_web_link(open_studio, tmp_path):
    studio = open_studio()
    window = studio.window
    png = make_png(tmp_path / "web.png", size=(64, 48)).read_bytes()
    mime = QMimeData()
    mime.setUrls([QUrl("https://example.com/picture.png")])
    mime.setData("image/png", png)
    assert send_drop(window, mime)
    assert studio.workspace.document.page_size(0) == (64.0, 48.0)


def test_drop_of_a_web_link_alone_explains_why_not(open_studio):
    studio = open_studio()
    window = studio.window
    mime = QMimeData()
    mime.setUrls([QUrl("https://example.com/picture.png")])
    send_drop(window, mime)
    assert "offline" in window.last_error and studio.workspace.session is None


# --- regions --------------------------------------------------------------------------------


def test_draw_region_change_task_and_delete(open_studio, tmp_path):
    studio = open_studio(auto_run=False)
    window = studio.window
    studio.documents.open_path(str(make_png(tmp_path / "page.png")))
    drag_on_page(window, (40, 50), (240, 150))
    region = only_region(studio)
    x0, y0, x1, y1 = region.box
    assert abs(x0 - 40) <= 2 and abs(y0 - 50) <= 2 and abs(x1 - 240) <= 2 and abs(y1 - 150) <= 2
    assert region.task == "text" and window.page_view.selected_region_id() == region.id
    assert window.region_list.topLevelItemCount() == 1 and window.results.card(region.id) is not None
    QTest.keyClick(window.page_view, Qt.Key.Key_2)
    assert region.task == "formula" and studio.regions.default_task() == "formula"
    QTest.keyClick(window.page_view, Qt.Key.Key_3)
    assert region.task == "table" and window.settings.get("default_task") == "table"
    assert window.region_list.topLevelItem(0).text(1) == "Table"
    QTest.keyClick(window.page_view, Qt.Key.Key_Delete)
    assert studio.workspace.session.regions == [] and window.page_view.items_by_id == {}
    assert window.region_list.topLevelItemCount() == 0 and window.results.cards == {}


def test_new_region_takes_the_default_task(open_studio, tmp_path):
    studio = open_studio(auto_run=False, default_task="extract")
    window = studio.window
    studio.documents.open_path(str(make_png(tmp_path / "page.png")))
    drag_on_page(window, (10, 10), (100, 100))
    assert only_region(studio).task == "extract"


def test_zero_area_and_off_page_drags_are_ignored_with_a_hint(open_studio, qtbot, tmp_path):
    factory = FakeFactory()
    studio = open_studio(engine=factory)
    window = studio.window
    studio.documents.open_path(str(make_png(tmp_path / "page.png")))
    drag_on_page(window, (100, 40), (100, 200))  # a vertical line: no area
    assert studio.workspace.session.regions == []
    assert window.statusBar().currentMessage() == NO_AREA_HINT
    window.statusBar().clearMessage()
    drag_on_page(window, (-5, -5), (-2, 250))  # left of the page
    assert studio.workspace.session.regions == [] and window.statusBar().currentMessage() == NO_AREA_HINT
    assert factory.engine.calls == []


def test_resize_a_region_with_its_corner_handle(open_studio, tmp_path):
    studio = open_studio(auto_run=False)
    window = studio.window
    studio.documents.open_path(str(make_png(tmp_path / "page.png")))
    drag_on_page(window, (40, 40), (140, 140))
    region = only_region(studio)
    viewport = window.page_view.viewport()
    corner, target = viewport_point(window, 140, 140), viewport_point(window, 200, 180)
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, corner)
    QTest.mouseMove(viewport, target)
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, target)
    x0, y0, x1, y1 = region.box
    assert abs(x0 - 40) <= 2 and abs(y0 - 40) <= 2 and abs(x1 - 200) <= 3 and abs(y1 - 180) <= 3


def test_selection_moves_between_view_list_and_cards(open_studio, tmp_path):
    studio = open_studio(auto_run=False)
    window = studio.window
    studio.documents.open_path(str(make_png(tmp_path / "page.png")))
    first = studio.regions.add_region(0, (10, 10, 100, 60))
    second = studio.regions.add_region(0, (10, 100, 100, 160))
    QTest.mouseClick(window.results.card(first.id), Qt.MouseButton.LeftButton)
    assert window.page_view.selected_region_id() == first.id
    assert window.region_list.selected_id() == first.id
    window.region_list.topLevelItem(1).setSelected(True)
    window.region_list.setCurrentItem(window.region_list.topLevelItem(1))
    assert window.results.selected_id == second.id and window.page_view.selected_region_id() == second.id
    assert window.results.card(second.id).property("selected") is True
    assert window.results.card(first.id).property("selected") is False


def test_region_list_follows_reading_order(open_studio, tmp_path):
    studio = open_studio(auto_run=False)
    window = studio.window
    studio.documents.open_path(str(make_png(tmp_path / "page.png")))
    lower = studio.regions.add_region(0, (10, 200, 100, 260))
    upper = studio.regions.add_region(0, (10, 10, 100, 60))
    ids = [window.region_list.topLevelItem(i).data(0, Qt.ItemDataRole.UserRole) for i in range(2)]
    assert ids == [upper.id, lower.id]


# --- running OCR -----------------------------------------------------------------------------


def test_ocr_streams_into_the_card_then_finishes(open_studio, qtbot, tmp_path):
    factory = FakeFactory(tokens=["Hello ", "wide ", "world"], pause_after=1)
    studio = open_studio(engine=factory)
    window = studio.window
    studio.documents.open_path(str(make_png(tmp_path / "page.png")))
    drag_on_page(window, (40, 50), (240, 150))
    region = only_region(studio)
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


def test_whole_page_runs_the_page_without_a_crop(open_studio, qtbot, tmp_path):
    factory = FakeFactory(tokens=["page"])
    studio = open_studio(engine=factory)
    studio.documents.open_path(str(make_pdf(tmp_path / "doc.pdf", pages=2)))
    studio.documents.go_to_page(1)
    studio.actions["whole_page"].trigger()
    region = only_region(studio)
    qtbot.waitUntil(lambda: region.state == "done", timeout=WAIT_MS)
    assert region.page == 1 and factory.engine.calls[0][2] is None


def test_text_deltas_are_throttled(open_studio, qtbot, tmp_path):
    factory = FakeFactory(tokens=[f"w{i} " for i in range(400)])
    studio = open_studio(engine=factory)
    deltas = []
    studio.host.text_delta.connect(lambda rid, text: deltas.append(text))
    studio.documents.open_path(str(make_png(tmp_path / "page.png")))
    studio.regions.add_region(0, (0, 0, 200, 100))
    region = only_region(studio)
    qtbot.waitUntil(lambda: region.state == "done", timeout=WAIT_MS)
    assert 0 < len(deltas) < 400 and "".join(deltas) == region.text


def test_cancel_mid_stream_keeps_the_partial_text(open_studio, qtbot, tmp_path):
    factory = FakeFactory(tokens=["one ", "two ", "three"], pause_after=2)
    studio = open_studio(engine=factory)
    window = studio.window
    studio.documents.open_path(str(make_png(tmp_path / "page.png")))
    drag_on_page(window, (10, 10), (200, 100))
    region = only_region(studio)
    assert factory.engine.paused.wait(10)
    window.page_view.setFocus()
    QTest.keyClick(window.page_view, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: region.state == "cancelled", timeout=WAIT_MS)
    assert region.text == "one two "
    card = window.results.card(region.id)
    assert card.view.text() == "one two " and card.message.isVisibleTo(card)
    assert "Stopped" in window.region_list.state_of(region.id)  # the user pressed Esc: their Stop


def test_worker_error_shows_in_the_card_and_the_app_keeps_working(open_studio, qtbot, tmp_path):
    factory = FakeFactory(error=InputError("the region is too thin for the model"))
    studio = open_studio(engine=factory)
    window = studio.window
    studio.documents.open_path(str(make_png(tmp_path / "page.png")))
    region = studio.regions.add_region(0, (10, 10, 200, 100))
    qtbot.waitUntil(lambda: region.state == "failed", timeout=WAIT_MS)
    card = window.results.card(region.id)
    assert "too thin" in card.message.text() and card.message.isVisibleTo(card)
    assert "too thin" in window.statusBar().currentMessage()
    factory.engine.error = None
    studio.regions.select_region(region.id)
    studio.actions["rerun"].trigger()
    qtbot.waitUntil(lambda: region.state == "done", timeout=WAIT_MS)
    assert not card.message.isVisibleTo(card)


def test_close_during_a_job_stops_the_worker(open_studio, qtbot, tmp_path):
    factory = FakeFactory(pause_after=1)
    studio = open_studio(engine=factory)
    window = studio.window
    studio.documents.open_path(str(make_png(tmp_path / "page.png")))
    studio.regions.add_region(0, (10, 10, 200, 100))
    assert factory.engine.paused.wait(10)
    window.close()
    assert not studio.host.is_running() and factory.engine.closed
    assert window.settings.get("window/geometry")


# --- without a model ------------------------------------------------------------------------


def test_without_a_model_the_app_still_opens_and_draws(open_studio, tmp_path):
    studio = open_studio(with_model=False)
    window = studio.window
    assert window.first_run.isVisibleTo(window) and "No model loaded" in window.first_run.title.text()
    assert "no-model-here" in window.first_run.text.text()
    studio.documents.open_path(str(make_png(tmp_path / "page.png")))
    drag_on_page(window, (10, 10), (200, 100))
    region = only_region(studio)
    assert region.state == "queued"
    assert "No model is loaded" in window.results.card(region.id).stream_view.placeholderText()
    assert "No model" in window.statusBar().currentMessage()


def test_queued_regions_run_once_a_model_arrives(open_studio, qtbot, tmp_path):
    studio = open_studio(with_model=False)
    window = studio.window
    studio.documents.open_path(str(make_png(tmp_path / "page.png")))
    region = studio.regions.add_region(0, (10, 10, 200, 100))
    studio.model.load_model(str(header_checkpoint(tmp_path / "later-model")))
    qtbot.waitUntil(lambda: region.state == "done", timeout=WAIT_MS)
    assert not window.first_run.isVisibleTo(window)
    assert "later-model" in window.model_label.text() and "Local: CPU" in window.model_label.text()


def test_model_load_failure_is_explained(open_studio, qtbot, tmp_path):
    studio = open_studio(engine=FakeFactory(fail_with="model.safetensors is truncated"), with_model=False)
    window = studio.window
    studio.model.load_model(str(header_checkpoint(tmp_path / "broken-model")))
    qtbot.waitUntil(lambda: "truncated" in window.first_run.text.text(), timeout=WAIT_MS)
    assert window.first_run.title.text() == "The model could not be loaded"


def test_get_the_model_opens_the_model_manager(open_studio):
    studio = open_studio(with_model=False)
    studio.window.first_run.get_button.click()
    assert studio.model.manager.isVisible()
    assert "huggingface.co/zai-org/GLM-OCR" in studio.model.manager.intro.text()
    studio.model.manager.close()


# --- manners ---------------------------------------------------------------------------------


def test_about_box_lists_versions_and_model(open_studio):
    studio = open_studio()
    window = studio.window
    studio.actions["about"].trigger()
    text = window.message_box.text()
    assert "PySide6" in text and "Qt" in text and "Python" in text and "model" in text.lower()
    assert "cpu" in text
    window.message_box.close()


def test_window_geometry_is_remembered(open_studio, tmp_path):
    studio = open_studio()
    window = studio.window
    window.resize(640, 480)  # the offscreen screen is small: stay inside it
    size = (window.width(), window.height())
    window.close()
    again = open_studio().window
    assert (again.width(), again.height()) == size == (640, 480)


def test_frequent_actions_have_shortcuts_and_controls_have_names(open_studio):
    studio = open_studio()
    window = studio.window
    for key in ("open", "paste", "zoom_in", "zoom_out", "fit_page", "fit_width", "prev_page", "next_page",
                "whole_page", "delete", "cancel", "task_text", "task_formula", "task_table", "task_extract"):
        assert not studio.actions[key].shortcut().isEmpty(), key
    for widget in (window.page_view, window.region_list, window.results, window.thumbnails):
        assert widget.accessibleName()


def test_card_buttons_stop_and_rerun_their_region(open_studio, qtbot, tmp_path):
    factory = FakeFactory(tokens=["a ", "b ", "c"], pause_after=1)
    studio = open_studio(engine=factory)
    window = studio.window
    studio.documents.open_path(str(make_png(tmp_path / "page.png")))
    region = studio.regions.add_region(0, (10, 10, 200, 100))
    card = window.results.card(region.id)
    assert factory.engine.paused.wait(10)
    card.cancel_button.click()
    qtbot.waitUntil(lambda: region.state == "cancelled", timeout=WAIT_MS)
    assert region.text == "a " and card.rerun_button.isVisibleTo(card)
    factory.engine.pause_after = None
    card.rerun_button.click()
    qtbot.waitUntil(lambda: region.state == "done", timeout=WAIT_MS)
    assert region.text == "a b c"
