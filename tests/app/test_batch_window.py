"""Batched regions in the workspace: Run all regions of this page, per-card streaming and stop (fake engine)."""

import pytest
from PIL import Image, ImageDraw
from PySide6.QtWidgets import QMessageBox

from fake_engine import FakeFactory
from helpers import WAIT_MS, header_checkpoint

BOXES = [(20, 20, 180, 80), (220, 20, 380, 80), (20, 150, 380, 280)]


def script(region):
    return [f"at{int(region[0])}y{int(region[1])}.{i} " for i in range(5)]


@pytest.fixture
def make_batch(make_studio, qtbot, tmp_path):
    def make(with_model=True, **fake_knobs):
        factory = FakeFactory(tokens_for=script, **fake_knobs)
        if with_model:
            header_checkpoint(tmp_path / "model")
        studio = make_studio(factory, model_env="model" if with_model else "no-model")
        if with_model:
            qtbot.waitUntil(lambda: studio.host.has_model, timeout=WAIT_MS)
        image = Image.new("RGB", (400, 300), "white")
        ImageDraw.Draw(image).text((30, 30), "Batch", fill="black")
        image.save(tmp_path / "page.png")
        assert studio.documents.open_path(str(tmp_path / "page.png"))
        regions = [studio.regions.add_region(0, box, run=False) for box in BOXES]
        return studio, factory, regions

    return make


def finished(regions):
    return all(region.is_finished for region in regions)


def test_run_all_regions_of_the_page_is_one_batch_with_each_result_in_its_card(make_batch, qtbot):
    studio, factory, regions = make_batch()
    action = studio.actions["run_page"]
    assert not action.shortcut().isEmpty()
    regions_menu = next(a.menu() for a in studio.window.menuBar().actions() if a.text() == "&Regions")
    assert action in regions_menu.actions()
    action.trigger()
    qtbot.waitUntil(lambda: finished(regions), timeout=WAIT_MS)
    assert len(factory.engine.batch_calls) == 1 and factory.engine.calls == []
    assert sorted(factory.engine.batch_calls[0][2]) == sorted(BOXES)
    for region in regions:
        expected = "".join(script(region.box))
        assert region.state == "done" and region.text == expected
        assert studio.results.card(region.id).view.text() == expected
        assert "Done" in studio.window.region_list.state_of(region.id)


def test_cards_stream_together_and_one_card_can_stop_alone(make_batch, qtbot):
    studio, factory, regions = make_batch(pause_after=2)
    studio.regions.run_page_regions()
    assert factory.engine.paused.wait(10)
    qtbot.waitUntil(lambda: all(r.state == "running" for r in regions), timeout=WAIT_MS)
    middle = regions[1]
    studio.results.card(middle.id).cancel_button.click()
    factory.engine.release.set()
    qtbot.waitUntil(lambda: finished(regions), timeout=WAIT_MS)
    assert middle.state == "cancelled" and middle.text == "".join(script(middle.box)[:2])
    assert studio.results.card(middle.id).view.text() == middle.text
    for region in (regions[0], regions[2]):
        assert region.state == "done" and region.text == "".join(script(region.box))


def test_run_all_asks_before_replacing_edits(make_batch, qtbot, monkeypatch):
    studio, factory, regions = make_batch()
    regions[0].edited_text = "mine"
    answers = []
    monkeypatch.setattr(QMessageBox, "question", staticmethod(
        lambda *a, **k: answers.append(a[2]) or QMessageBox.StandardButton.No))
    studio.regions.run_page_regions()
    assert len(answers) == 1 and "1 region" in answers[0]
    assert regions[0].edited_text == "mine" and factory.engine.batch_calls == []
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.StandardButton.Yes))
    studio.regions.run_page_regions()
    qtbot.waitUntil(lambda: finished(regions), timeout=WAIT_MS)
    assert regions[0].edited_text is None and len(factory.engine.batch_calls) == 1


def test_regions_waiting_for_the_model_run_as_one_batch_when_it_loads(make_batch, qtbot, tmp_path):
    studio, factory, regions = make_batch(with_model=False)
    studio.regions.run_page_regions()
    assert all(r.state == "queued" for r in regions)
    studio.model.load_model(str(header_checkpoint(tmp_path / "later-model")))
    qtbot.waitUntil(lambda: finished(regions), timeout=WAIT_MS)
    assert [len(batch[2]) for batch in factory.engine.batch_calls] == [3]
    assert all(r.state == "done" for r in regions)
