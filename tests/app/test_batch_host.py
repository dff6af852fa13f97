"""Batched regions in the worker: queued jobs of one page share one recognize_batch call (fake engine)."""

import pytest
from PIL import Image

from glmocr_core.api import TextDelta
from glmocr_core.documents.document import document_from_image

from app.engine.host import EngineHost
from app.engine.worker import MAX_BATCH, OcrJob, Piece, RowThrottle
from fake_engine import FakeFactory

WAIT_MS = 10000


def tag(region) -> str:
    return "page" if region is None else f"x{int(region[0])}"


def script(region, length=4):
    """Each region streams its own words, so a delta in the wrong card shows."""
    return [f"{tag(region)}.{i} " for i in range(length)]


@pytest.fixture
def page():
    return document_from_image(Image.new("RGB", (400, 200), "white"))


@pytest.fixture
def start_host(qtbot):
    hosts = []

    def start(**fake_knobs):
        factory = FakeFactory(tokens_for=script, **fake_knobs)
        host = EngineHost(factory)
        hosts.append(host)
        with qtbot.waitSignal(host.model_ready, timeout=WAIT_MS):
            host.load_model("/models/fake")
        return host, factory

    yield start
    for host in hosts:
        assert host.shutdown(), "worker thread did not stop"


class Events:
    """Everything a host says, per region."""

    def __init__(self, host):
        self.started, self.text, self.finished, self.failed, self.cancelled = [], {}, {}, {}, {}
        host.job_started.connect(self.started.append)
        host.text_delta.connect(lambda rid, text: self.text.__setitem__(rid, self.text.get(rid, "") + text))
        host.job_finished.connect(lambda rid, result: self.finished.__setitem__(rid, result))
        host.job_failed.connect(lambda rid, message: self.failed.__setitem__(rid, message))
        host.job_cancelled.connect(lambda rid, partial: self.cancelled.__setitem__(rid, partial))

    def answered(self) -> int:
        return len(self.finished) + len(self.failed) + len(self.cancelled)


def jobs_at(page, xs, **kwargs):
    return [OcrJob(f"r{x}", page, 0, (x, 10, x + 40, 60), **kwargs) for x in xs]


@pytest.mark.parametrize("results_at_end", [True, False], ids=["results-at-end", "results-as-rows-end"])
def test_queued_regions_of_a_page_share_one_batch_and_land_in_their_own_cards(qtbot, page, start_host,
                                                                              results_at_end):
    host, factory = start_host(results_at_end=results_at_end)
    events = Events(host)
    host.submit_many(jobs_at(page, [10, 60, 110]) + [OcrJob("whole", page, 0, None)])
    qtbot.waitUntil(lambda: events.answered() == 4, timeout=WAIT_MS)
    assert len(factory.engine.batch_calls) == 1 and factory.engine.calls == []
    size, task, regions = factory.engine.batch_calls[0]
    assert size == (400, 200) and task == "text" and regions[-1] is None and len(regions) == 4
    assert sorted(events.started) == ["r10", "r110", "r60", "whole"]
    for region_id, region in [("r10", regions[0]), ("r60", regions[1]), ("r110", regions[2]), ("whole", None)]:
        expected = "".join(script(region))
        assert events.finished[region_id].text == expected
        assert events.text[region_id] == expected  # its deltas, and only its deltas
    assert not host.is_pending("r10")


def test_batches_hold_at_most_the_limit_and_only_matching_jobs(qtbot, page, start_host):
    host, factory = start_host()
    events = Events(host)
    xs = list(range(0, 10 * (MAX_BATCH + 2), 10))
    host.submit_many(jobs_at(page, xs) + [OcrJob("formula", page, 0, (0, 100, 50, 150), task="formula")])
    qtbot.waitUntil(lambda: events.answered() == len(xs) + 1, timeout=WAIT_MS)
    assert [len(regions) for _, _, regions in factory.engine.batch_calls] == [MAX_BATCH, 2]
    assert [task for _, task, _ in factory.engine.calls] == ["formula"]  # another task: alone, not batched
    assert len(events.finished) == len(xs) + 1


@pytest.mark.parametrize("results_at_end", [True, False], ids=["results-at-end", "results-as-rows-end"])
def test_stopping_one_region_mid_batch_keeps_the_others_running(qtbot, page, start_host, results_at_end):
    host, factory = start_host(pause_after=2, results_at_end=results_at_end)
    events = Events(host)
    host.submit_many(jobs_at(page, [10, 60, 110]))
    assert factory.engine.paused.wait(10)
    host.cancel("r60")
    factory.engine.release.set()
    qtbot.waitUntil(lambda: events.answered() == 3, timeout=WAIT_MS)
    assert events.cancelled == {"r60": "x60.0 x60.1 "}  # what had streamed when it was stopped
    assert events.text["r60"] == "x60.0 x60.1 "  # nothing of its row after the stop
    assert events.finished["r10"].text == "".join(script((10,)))
    assert events.finished["r110"].text == "".join(script((110,)))
    assert factory.engine.ended == ["eos"]  # the model itself was not stopped
    assert factory.engine.rows_stopped == [1]  # the engine took just that row out of the batch


def test_a_stopped_long_row_leaves_the_batch_instead_of_decoding_to_its_end(qtbot, page, start_host):
    def long_middle_row(region):
        return script(region, 100_000 if region and region[0] == 60 else 3)

    host, factory = start_host(pause_after=1, results_at_end=False)
    factory.engine.tokens_for = long_middle_row
    events = Events(host)
    host.submit_many(jobs_at(page, [10, 60]))
    assert factory.engine.paused.wait(10)
    host.cancel("r60")
    factory.engine.release.set()
    host.submit(OcrJob("next", page, 0, None, task="table"))
    qtbot.waitUntil(lambda: events.answered() == 3, timeout=WAIT_MS)
    assert events.cancelled == {"r60": "x60.0 "} and events.finished["r10"].text == "x10.0 x10.1 x10.2 "
    assert events.finished["next"].task == "table"
    assert factory.engine.rows_stopped == [1]  # the 100,000-token row stopped at once, not at its end
    assert factory.engine.ended == ["eos", "eos"]  # the batch (its other row done) and then "next"


def test_stopping_every_row_stops_the_model(qtbot, page, start_host):
    host, factory = start_host(pause_after=1)
    events = Events(host)
    host.submit_many(jobs_at(page, [10, 60]))
    assert factory.engine.paused.wait(10)
    host.cancel("r10")
    host.cancel("r60")  # the last live row: the shared cancel event stops the decoder
    qtbot.waitUntil(lambda: events.answered() == 2, timeout=WAIT_MS)
    assert events.cancelled == {"r10": "x10.0 ", "r60": "x60.0 "}
    assert factory.engine.ended == ["cancelled"]


def test_cancel_all_stops_the_batch_and_drops_the_queue(qtbot, page, start_host):
    host, factory = start_host(pause_after=2)
    events = Events(host)
    host.submit_many(jobs_at(page, [10, 60]) + [OcrJob("later", page, 0, None, task="table")])
    assert factory.engine.paused.wait(10)
    host.cancel_all()
    qtbot.waitUntil(lambda: events.answered() == 3, timeout=WAIT_MS)
    assert events.cancelled == {"r10": "x10.0 x10.1 ", "r60": "x60.0 x60.1 ", "later": ""}
    assert factory.engine.calls == [] and factory.engine.ended == ["cancelled"]


def test_cancel_current_stops_the_whole_running_batch(qtbot, page, start_host):
    host, factory = start_host(pause_after=1)
    events = Events(host)
    host.submit_many(jobs_at(page, [10, 60]))
    assert factory.engine.paused.wait(10)
    host.cancel_current()
    qtbot.waitUntil(lambda: events.answered() == 2, timeout=WAIT_MS)
    assert sorted(events.cancelled) == ["r10", "r60"]


def test_a_region_off_the_page_fails_alone_before_the_batch(qtbot, page, start_host):
    host, factory = start_host()
    events = Events(host)
    host.submit_many(jobs_at(page, [10, 900, 110]))
    qtbot.waitUntil(lambda: events.answered() == 3, timeout=WAIT_MS)
    assert list(events.failed) == ["r900"] and "outside" in events.failed["r900"]
    assert sorted(events.finished) == ["r10", "r110"]
    assert [len(regions) for _, _, regions in factory.engine.batch_calls] == [2]


def test_a_region_the_engine_refuses_fails_alone_and_the_rest_still_run(qtbot, page, start_host):
    host, factory = start_host(refuse=lambda region: region is not None and region[0] == 60)
    events = Events(host)
    host.submit_many(jobs_at(page, [10, 60, 110]))
    qtbot.waitUntil(lambda: events.answered() == 3, timeout=WAIT_MS)
    assert list(events.failed) == ["r60"] and "refused by the fake engine" in events.failed["r60"]
    assert {rid: r.text for rid, r in events.finished.items()} == {
        "r10": "".join(script((10,))), "r110": "".join(script((110,)))}
    assert len(factory.engine.batch_calls) == 1 and len(factory.engine.calls) == 3  # then one by one


def test_resubmitting_a_region_of_a_running_batch_silences_its_old_row(qtbot, page, start_host):
    host, factory = start_host(pause_after=1)
    events = Events(host)
    host.submit_many(jobs_at(page, [10, 60]))
    assert factory.engine.paused.wait(10)
    host.submit(OcrJob("r60", page, 0, (60, 10, 100, 60), task="formula"))
    factory.engine.release.set()
    qtbot.waitUntil(lambda: events.answered() == 2, timeout=WAIT_MS)
    assert "r60" not in events.cancelled  # the old run is stale, not news
    assert events.finished["r60"].task == "formula" and events.finished["r10"].task == "text"


def test_row_throttle_sends_every_row_at_one_pace():
    now = [0.0]
    throttle = RowThrottle(interval_s=0.05, clock=lambda: now[0])
    assert throttle.add(0, TextDelta("a", 1)) == {0: Piece("a", 1)}
    assert throttle.add(1, TextDelta("b", 1)) == {} and throttle.add(0, TextDelta("c", 2)) == {}
    now[0] = 0.06
    assert throttle.add(2, TextDelta("d", 1)) == {1: Piece("b", 1), 0: Piece("c", 2), 2: Piece("d", 1)}
    assert throttle.add(1, TextDelta("e", 3)) == {}
    assert throttle.take(1) == Piece("e", 3) and throttle.take(1) is None
