"""The worker thread: loading, streaming with a throttle, cancel, errors and shutdown, with the fake engine."""

import pytest
from PIL import Image

from glmocr_core.documents.document import document_from_image
from glmocr_core.errors import InputError

from app.engine.host import EngineHost
from glmocr_core.api import TextDelta

from app.engine.worker import DeltaThrottle, OcrJob, Piece
from fake_engine import FakeFactory

WAIT_MS = 10000


@pytest.fixture
def page():
    return document_from_image(Image.new("RGB", (200, 100), "white"))


def make_host(qtbot, factory):
    host = EngineHost(factory)
    with qtbot.waitSignal(host.model_ready, timeout=WAIT_MS):
        host.load_model("/models/fake")
    return host


@pytest.fixture
def stop_host():
    hosts = []
    yield hosts.append
    for host in hosts:
        assert host.shutdown(), "worker thread did not stop"


def test_throttle_batches_by_time_and_keeps_the_latest_token_count():
    now = [0.0]
    throttle = DeltaThrottle(interval_s=0.05, clock=lambda: now[0])
    assert throttle.add(TextDelta("a", 1)) == Piece("a", 1)  # the first piece goes out at once
    assert throttle.add(TextDelta("b", 2)) is None
    now[0] = 0.06
    assert throttle.add(TextDelta("c", 4)) == Piece("bc", 4)
    assert throttle.add(TextDelta("d", 5)) is None
    assert throttle.flush() == Piece("d", 5) and throttle.flush() is None


def test_throttle_keeps_the_count_of_a_backend_that_cannot_say():
    throttle = DeltaThrottle(interval_s=0.05, clock=lambda: 0.0)
    assert throttle.add(TextDelta("a")) == Piece("a", 0)


def test_load_reports_progress_and_info(qtbot, stop_host):
    host = EngineHost(FakeFactory())
    stop_host(host)
    stages = []
    host.model_loading.connect(lambda stage, fraction: stages.append((stage, fraction)))
    with qtbot.waitSignal(host.model_ready, timeout=WAIT_MS) as ready:
        host.load_model("/models/fake")
    assert ready.args[0].model_dir == "/models/fake" and host.has_model
    assert stages[-1] == ("Ready", 1.0)


def test_load_failure_is_a_message(qtbot, stop_host):
    host = EngineHost(FakeFactory(fail_with="config.json is missing"))
    stop_host(host)
    with qtbot.waitSignal(host.model_failed, timeout=WAIT_MS) as failed:
        host.load_model("/nowhere")
    assert "config.json is missing" in failed.args[0] and not host.has_model


def test_job_streams_throttled_deltas_then_result(qtbot, page, stop_host):
    factory = FakeFactory(tokens=[f"t{i} " for i in range(300)])
    host = make_host(qtbot, factory)
    stop_host(host)
    pieces = []
    host.text_delta.connect(lambda rid, text: pieces.append(text))
    with qtbot.waitSignal(host.job_finished, timeout=WAIT_MS) as finished:
        host.submit(OcrJob("r1", page, 0, (10, 10, 110, 60), task="table"))
    region_id, result = finished.args
    assert region_id == "r1" and result.text == "".join(f"t{i} " for i in range(300))
    assert "".join(pieces) == result.text
    assert len(pieces) < 300  # batched, not one signal per token
    assert factory.engine.calls == [((200, 100), "table", (10.0, 10.0, 110.0, 60.0))]


def test_cancel_mid_stream_keeps_partial_text(qtbot, page, stop_host):
    factory = FakeFactory(tokens=["a", "b", "c", "d"], pause_after=2)
    host = make_host(qtbot, factory)
    stop_host(host)
    with qtbot.waitSignal(host.job_started, timeout=WAIT_MS):
        host.submit(OcrJob("r1", page, 0, None))
    assert factory.engine.paused.wait(10)
    with qtbot.waitSignal(host.job_cancelled, timeout=WAIT_MS) as cancelled:
        host.cancel("r1")
    assert cancelled.args == ["r1", "ab"]


def test_cancel_all_drops_queued_jobs(qtbot, page, stop_host):
    factory = FakeFactory(tokens=["a", "b"], pause_after=1)
    host = make_host(qtbot, factory)
    stop_host(host)
    cancelled = []
    host.job_cancelled.connect(lambda rid, text: cancelled.append((rid, text)))
    host.submit(OcrJob("first", page, 0, None))
    host.submit(OcrJob("second", page, 0, None, task="formula"))  # another task: never in the first one's batch
    assert factory.engine.paused.wait(10)
    host.cancel_all()
    qtbot.waitUntil(lambda: len(cancelled) == 2, timeout=WAIT_MS)
    assert sorted(cancelled) == [("first", "a"), ("second", "")]
    assert len(factory.engine.calls) == 1  # the queued job never reached the engine


def test_engine_error_becomes_failed_signal_and_worker_survives(qtbot, page, stop_host):
    factory = FakeFactory(error=InputError("region is too thin", "page.png"))
    host = make_host(qtbot, factory)
    stop_host(host)
    with qtbot.waitSignal(host.job_failed, timeout=WAIT_MS) as failed:
        host.submit(OcrJob("r1", page, 0, None))
    assert failed.args == ["r1", "page.png: region is too thin"]
    factory.engine.error = None
    with qtbot.waitSignal(host.job_finished, timeout=WAIT_MS):
        host.submit(OcrJob("r2", page, 0, None))


def test_job_without_model_fails_readably(qtbot, page, stop_host):
    host = EngineHost(FakeFactory())
    stop_host(host)
    with qtbot.waitSignal(host.job_failed, timeout=WAIT_MS) as failed:
        host.submit(OcrJob("r1", page, 0, None))
    assert "No model is loaded" in failed.args[1]


def test_resubmitting_a_region_silences_its_old_run(qtbot, page, stop_host):
    factory = FakeFactory(tokens=["x", "y"], pause_after=1)
    host = make_host(qtbot, factory)
    stop_host(host)
    events = []
    host.job_cancelled.connect(lambda rid, text: events.append("cancelled"))
    host.job_finished.connect(lambda rid, res: events.append("finished"))
    host.submit(OcrJob("r1", page, 0, None))
    assert factory.engine.paused.wait(10)
    with qtbot.waitSignal(host.job_finished, timeout=WAIT_MS):
        host.submit(OcrJob("r1", page, 0, None, task="formula"))  # cancels the paused first run
        factory.engine.release.set()  # lets the second run stream past its pause
    assert events == ["finished"]


def test_shutdown_during_a_job_stops_the_thread(qtbot, page):
    factory = FakeFactory(pause_after=3)
    host = make_host(qtbot, factory)
    host.submit(OcrJob("r1", page, 0, None))
    assert factory.engine.paused.wait(10)
    assert host.shutdown()
    assert not host.is_running() and factory.engine.closed


def test_stop_during_a_heavy_page_render_stops_the_render(qtbot, stop_host, tmp_path):
    from glmocr_core.documents.document import open_document
    from glmocr_core.testing.images import write_heavy_pdf

    heavy = open_document(write_heavy_pdf(tmp_path / "heavy.pdf", 300_000))  # tens of seconds to render
    host = make_host(qtbot, FakeFactory(tokens=["a"]))
    stop_host(host)
    with qtbot.waitSignal(host.job_started, timeout=WAIT_MS):
        host.submit(OcrJob("r1", heavy, 0, None))
    with qtbot.waitSignal(host.job_cancelled, timeout=20_000) as cancelled:  # not after the page is done
        host.cancel("r1")
    assert cancelled.args == ["r1", ""]
    with qtbot.waitSignal(host.job_finished, timeout=120_000):  # the worker is free again
        host.submit(OcrJob("r2", document_from_image(Image.new("RGB", (200, 100), "white")), 0, None))
    assert heavy._renderer._child is None  # the page's render was killed, not waited for
    heavy.close()
