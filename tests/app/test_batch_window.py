"""Batched regions in the workspace: Run all regions of this page, per-card streaming and stop (fake engine)."""

import pytest
from PIL import Image, ImageDraw
from PySide6.QtWidgets import QMessageBox

from app.main_window import MainWindow
from app.paths import MODEL_DIR_ENV
from app.settings import Settings
from fake_engine import FakeFactory
from helpers import header_checkpoint as fake_checkpoint

WAIT_MS = 10000
BOXES = [(20, 20, 180, 80), (220, 20, 380, 80), (20, 150, 380, 280)]


def script(region):
    return [f"at{int(region[0])}y{int(region[1])}.{i} " for i in range(5)]


@pytest.fixture
def make_window(qtbot, tmp_path, monkeypatch):
    windows = []

    def make(with_model=True, **fake_knobs):
        folder = fake_checkpoint(tmp_path / "model") if with_model else tmp_path / "no-model"
        monkeypatch.setenv(MODEL_DIR_ENV, str(folder))
        factory = FakeFactory(tokens_for=script, **fake_knobs)
        window = MainWindow(Settings(tmp_path / "settings.ini"), engine_factory=factory)
        qtbot.addWidget(window)
        if with_model:
            qtbot.waitUntil(lambda: window.host.has_model, timeout=WAIT_MS)
        image = Image.new("RGB", (400, 300), "white")
        ImageDraw.Draw(image).text((30, 30), "Batch", fill="black")
        image.save(tmp_path / "page.png")
        assert window.open_path(str(tmp_path / "page.png"))
        regions = [window.add_region(0, box, run=False) for box in BOXES]
        windows.append(window)
        return window, factory, regions

    yield make
    for window in windows:
        window.close()
        assert window.host.thread.wait(WAIT_MS)


def finished(regions):
    return all(region.is_finished for region in regions)


def test_run_all_regions_of_the_page_is_one_batch_with_each_result_in_its_card(make_window, qtbot):
    window, factory, regions = make_window()
    action = window.actions_by_key["run_page"]
    assert not action.shortcut().isEmpty()
    regions_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Regions")
    assert action in regions_menu.actions()
    action.trigger()
    qtbot.waitUntil(lambda: finished(regions), timeout=WAIT_MS)
    assert len(factory.engine.batch_calls) == 1 and factory.engine.calls == []
    assert sorted(factory.engine.batch_calls[0][2]) == sorted(BOXES)
    for region in regions:
        expected = "".join(script(region.box))
        assert region.state == "done" and region.text == expected
        assert window.results.card(region.id).view.text() == expected
        assert "Done" in window.region_list.state_of(region.id)


def test_cards_stream_together_and_one_card_can_stop_alone(make_window, qtbot):
    window, factory, regions = make_window(pause_after=2)
    window.run_page_regions()
    assert factory.engine.paused.wait(10)
    qtbot.waitUntil(lambda: all(r.state == "running" for r in regions), timeout=WAIT_MS)
    middle = regions[1]
    window.results.card(middle.id).cancel_button.click()
    factory.engine.release.set()
    qtbot.waitUntil(lambda: finished(regions), timeout=WAIT_MS)
    assert middle.state == "cancelled" and middle.text == "".join(script(middle.box)[:2])
    assert window.results.card(middle.id).view.text() == middle.text
    for region in (regions[0], regions[2]):
        assert region.state == "done" and region.text == "".join(script(region.box))


def test_run_all_asks_before_replacing_edits(make_window, qtbot, monkeypatch):
    window, factory, regions = make_window()
    regions[0].edited_text = "mine"
    answers = []
    monkeypatch.setattr(QMessageBox, "question", staticmethod(
        lambda *a, **k: answers.append(a[2]) or QMessageBox.StandardButton.No))
    window.run_page_regions()
    assert len(answers) == 1 and "1 region" in answers[0]
    assert regions[0].edited_text == "mine" and factory.engine.batch_calls == []
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.StandardButton.Yes))
    window.run_page_regions()
    qtbot.waitUntil(lambda: finished(regions), timeout=WAIT_MS)
    assert regions[0].edited_text is None and len(factory.engine.batch_calls) == 1


def test_regions_waiting_for_the_model_run_as_one_batch_when_it_loads(make_window, qtbot, tmp_path):
    window, factory, regions = make_window(with_model=False)
    window.run_page_regions()
    assert all(r.state == "queued" for r in regions)
    window.load_model(str(fake_checkpoint(tmp_path / "later-model")))
    qtbot.waitUntil(lambda: finished(regions), timeout=WAIT_MS)
    assert [len(batch[2]) for batch in factory.engine.batch_calls] == [3]
    assert all(r.state == "done" for r in regions)
