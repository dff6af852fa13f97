"""States that are true: a waiting card says what it waits for (the model loading, no model, the regions ahead of it
in the queue, a template), never "Waiting for the model…" while the model is there; a region the user stopped is
stopped by the user, one the engine dropped (unload, shutdown, a crash) is marked so; an Extract region with no
template waits for one instead of failing; live token counts reach the results panel."""

import threading

import pytest
from PySide6.QtTest import QTest
from PySide6.QtCore import Qt

from app.document.model import CANCELLED, DONE, QUEUED, STOPPED_BY_ENGINE, STOPPED_BY_USER
from app.window.regions import MODEL_LOADING, NO_MODEL_YET, TEMPLATE_FIRST, queued_behind
from fake_engine import FakeEngine, FakeFactory
from helpers import WAIT_MS, header_checkpoint, make_png

OLD_PLACEHOLDER = "Waiting for the model…"


@pytest.fixture
def page(tmp_path):
    return str(make_png(tmp_path / "page.png", size=(600, 400)))


@pytest.fixture
def with_model(make_studio, qtbot, tmp_path, page):
    def make(**engine_knobs):
        header_checkpoint(tmp_path / "model")
        factory = FakeFactory(**engine_knobs)
        studio = make_studio(factory, model_env="model")
        qtbot.waitUntil(lambda: studio.host.has_model, timeout=WAIT_MS)
        assert studio.documents.open_path(page)
        studio.factory = factory
        return studio

    return make


def waiting_text(studio, region) -> str:
    return studio.results.card(region.id).stream_view.placeholderText()


def test_queued_cards_say_how_many_regions_are_ahead(with_model, qtbot):
    studio = with_model(pause_after=1)
    first = studio.regions.add_region(0, (10, 10, 200, 100))
    assert studio.factory.engine.paused.wait(10)
    second = studio.regions.add_region(0, (10, 150, 200, 250), task="formula")
    third = studio.regions.add_region(0, (300, 150, 500, 250), task="table")
    assert waiting_text(studio, second) == queued_behind(1) == "Queued behind 1 region…"
    assert waiting_text(studio, third) == queued_behind(2) == "Queued behind 2 regions…"
    studio.factory.engine.release.set()
    qtbot.waitUntil(lambda: all(r.state == DONE for r in (first, second, third)), timeout=WAIT_MS)


def test_the_model_loading_and_no_model_are_said_as_they_are(make_studio, qtbot, tmp_path, page):
    gate = threading.Event()

    def slow_loader(model_dir, *, progress=None, **options):
        progress("Reading weights", 0.3)
        gate.wait(20)
        return FakeEngine.load(model_dir)

    studio = make_studio(slow_loader, model_env="nothing-here")
    assert studio.documents.open_path(page)
    waiting = studio.regions.add_region(0, (10, 10, 200, 100))
    assert waiting_text(studio, waiting) == NO_MODEL_YET
    studio.model.load_model(str(header_checkpoint(tmp_path / "model")))
    qtbot.waitUntil(lambda: waiting_text(studio, waiting) == MODEL_LOADING, timeout=WAIT_MS)
    gate.set()
    qtbot.waitUntil(lambda: waiting.state == DONE, timeout=WAIT_MS)


def test_a_card_never_waits_for_a_model_that_is_loaded(with_model):
    studio = with_model(pause_after=0)
    running = studio.regions.add_region(0, (10, 10, 200, 100))
    assert studio.factory.engine.paused.wait(10)
    queued = studio.regions.add_region(0, (10, 150, 200, 250), task="formula")
    assert OLD_PLACEHOLDER not in (waiting_text(studio, running), waiting_text(studio, queued))
    studio.factory.engine.release.set()


def test_the_users_stop_and_the_engines_are_told_apart(with_model, qtbot):
    studio = with_model(pause_after=1)
    stopped = studio.regions.add_region(0, (10, 10, 200, 100))
    assert studio.factory.engine.paused.wait(10)
    studio.results.card(stopped.id).cancel_button.click()
    qtbot.waitUntil(lambda: stopped.state == CANCELLED, timeout=WAIT_MS)
    assert stopped.stop_cause == STOPPED_BY_USER
    studio.factory.engine.paused.clear()
    cut = studio.regions.add_region(0, (10, 150, 200, 250))
    assert studio.factory.engine.paused.wait(10)
    studio.host.cancel_all()  # what a shutdown or an unload does: nobody pressed Stop
    qtbot.waitUntil(lambda: cut.state == CANCELLED, timeout=WAIT_MS)
    assert cut.stop_cause == STOPPED_BY_ENGINE


def test_a_region_the_app_stopped_under_is_restored_as_cut_by_the_engine(make_studio, tmp_path, page):
    from app.document.model import RUNNING, DocumentSession, Region
    from app.document.session_file import save_session

    session = DocumentSession(path=page, name="page.png")
    session.add_region(Region(page=0, box=(1, 1, 50, 50), state=RUNNING, text="half a sen"))
    path = save_session(session, tmp_path / "s.glmocr-session")
    studio = make_studio(FakeFactory())
    assert studio.file_actions.open_session_file(str(path))
    (region,) = studio.workspace.session.regions
    assert (region.state, region.stop_cause, region.text) == (CANCELLED, STOPPED_BY_ENGINE, "half a sen")


def test_esc_on_the_page_is_the_users_stop(with_model, qtbot):
    studio = with_model(pause_after=1)
    region = studio.regions.add_region(0, (10, 10, 200, 100))
    assert studio.factory.engine.paused.wait(10)
    studio.window.page_view.setFocus()
    QTest.keyClick(studio.window.page_view, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: region.state == CANCELLED, timeout=WAIT_MS)
    assert region.stop_cause == STOPPED_BY_USER


def test_an_extract_region_without_a_template_waits_for_one(with_model, qtbot):
    studio = with_model(tokens=['{"total": ', '"3"}'])
    region = studio.regions.add_region(0, (10, 10, 200, 100), task="extract")
    qtbot.wait(50)
    assert region.state == QUEUED and studio.factory.engine.calls == []
    assert waiting_text(studio, region) == TEMPLATE_FIRST
    studio.regions.run_waiting()  # the model arriving again does not run it either
    assert studio.factory.engine.calls == []
    studio.regions.on_template_chosen(region.id, '{"total": ""}')
    qtbot.waitUntil(lambda: region.state == DONE, timeout=WAIT_MS)
    assert region.schema == '{"total": ""}' and len(studio.factory.engine.calls) == 1


def test_live_token_counts_reach_the_results_panel(with_model, monkeypatch):
    studio = with_model()
    region = studio.regions.add_region(0, (10, 10, 200, 100), run=False)
    shown = []
    monkeypatch.setattr(studio.results, "set_progress", lambda *args: shown.append(args), raising=False)
    studio.regions.on_progress(region.id, 17, 3.5)
    studio.regions.on_progress("a region of no open document", 1, 0.1)
    assert shown == [(region.id, 17, 3.5)]


def test_live_progress_from_the_engine_reaches_the_running_card(with_model, qtbot, monkeypatch):
    studio = with_model(pause_after=3)
    shown = []
    monkeypatch.setattr(studio.results, "set_progress", lambda *args: shown.append(args))
    region = studio.regions.add_region(0, (10, 10, 200, 100))
    assert studio.factory.engine.paused.wait(10)
    qtbot.waitUntil(lambda: bool(shown), timeout=WAIT_MS)
    assert shown[-1][0] == region.id and shown[-1][1] >= 0 and shown[-1][2] >= 0  # (the fake engine counts none)
    studio.factory.engine.release.set()
    qtbot.waitUntil(lambda: region.state == DONE, timeout=WAIT_MS)


def test_a_result_cut_by_the_budget_runs_again_with_twice_the_budget(with_model, qtbot):
    studio = with_model(tokens=["cut ", "short"])
    studio.settings.set("max_new_tokens/text", 300)
    region = studio.regions.add_region(0, (10, 10, 200, 100))
    qtbot.waitUntil(lambda: region.state == DONE, timeout=WAIT_MS)
    studio.results.larger_budget_requested.emit(region.id)  # the card's "larger budget" button
    qtbot.waitUntil(lambda: region.state == DONE and len(studio.factory.engine.calls) == 2, timeout=WAIT_MS)
    assert region.max_new_tokens == 600
    studio.results.larger_budget_requested.emit(region.id)
    assert region.max_new_tokens == 1200
    studio.actions["undo"].trigger()
    assert region.max_new_tokens == 600
