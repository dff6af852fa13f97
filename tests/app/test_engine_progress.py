"""Live progress from the worker: the region's token count and the time since its job was taken, with each
throttled text update, for one region and for every row of a batch (the real engine on the tiny checkpoint), and
0 tokens from an engine that cannot count them (the fake)."""

import pytest
from PIL import Image

from glmocr_core.api import RecognizeOptions
from glmocr_core.documents.document import document_from_image
from glmocr_core.loader import load_engine

from app.engine.host import EngineHost
from app.engine.worker import OcrJob
from fake_engine import FakeFactory

WAIT_MS = 60_000
TOKENS = 12


class Heard:
    """Every text and progress signal in the order the GUI thread got them."""

    def __init__(self, host: EngineHost):
        self.events: list[tuple] = []
        self.finished: dict[str, object] = {}
        host.text_delta.connect(lambda rid, text: self.events.append(("text", rid, text)))
        host.progress.connect(lambda rid, tokens, elapsed: self.events.append(("progress", rid, tokens, elapsed)))
        host.job_finished.connect(lambda rid, result: self.finished.__setitem__(rid, result))

    def of(self, kind: str, region_id: str) -> list[tuple]:
        return [e for e in self.events if e[0] == kind and e[1] == region_id]


@pytest.fixture
def real_host(qtbot, tiny_checkpoint):
    host = EngineHost(load_engine)
    with qtbot.waitSignal(host.model_ready, timeout=WAIT_MS):
        host.load_model(str(tiny_checkpoint))
    yield host
    assert host.shutdown()


@pytest.fixture
def fake_host(qtbot):
    """``fake_host(factory)``: a loaded host on the fake engine, shut down after the test whatever happened."""
    hosts = []

    def make(factory: FakeFactory) -> EngineHost:
        host = EngineHost(factory)
        hosts.append(host)
        with qtbot.waitSignal(host.model_ready, timeout=WAIT_MS):
            host.load_model("/models/fake")
        return host

    yield make
    for host in hosts:
        assert host.shutdown()


@pytest.fixture
def page():
    return document_from_image(Image.new("RGB", (224, 112), "white"))


def options() -> RecognizeOptions:
    return RecognizeOptions(max_new_tokens=TOKENS, repeat_guard=False)  # random weights loop; the guard would cut


def check_region(heard: Heard, region_id: str) -> None:
    progress, texts = heard.of("progress", region_id), heard.of("text", region_id)
    assert progress and len(progress) == len(texts)  # one progress per text update: same pace, same wake-up
    for index, event in enumerate(heard.events):
        if event[0] == "progress" and event[1] == region_id:
            assert heard.events[index - 1][:2] == ("text", region_id)  # right after the text it counts
    counts, times = [p[2] for p in progress], [p[3] for p in progress]
    assert counts == sorted(counts) and counts[0] >= 1 and times == sorted(times) and times[0] >= 0
    result = heard.finished[region_id]
    assert counts[-1] <= len(result.token_ids) <= counts[-1] + 1  # the stop token may come without text


def test_one_region_reports_its_token_count_as_it_streams(qtbot, real_host, page):
    heard = Heard(real_host)
    with qtbot.waitSignal(real_host.job_finished, timeout=WAIT_MS):
        real_host.submit(OcrJob("r1", page, 0, None, options=options()))
    check_region(heard, "r1")


def test_each_row_of_a_batch_reports_its_own_count(qtbot, real_host, page):
    heard = Heard(real_host)
    jobs = [OcrJob(f"r{x}", page, 0, (x, 0, x + 112, 112), options=options()) for x in (0, 112)]
    real_host.submit_many(jobs)
    qtbot.waitUntil(lambda: len(heard.finished) == 2, timeout=WAIT_MS)
    for job in jobs:
        check_region(heard, job.region_id)


def test_an_engine_that_cannot_count_reports_zero_tokens_and_the_time(qtbot, fake_host, page):
    host = fake_host(FakeFactory(tokens=[f"t{i} " for i in range(200)]))
    heard = Heard(host)
    with qtbot.waitSignal(host.job_finished, timeout=WAIT_MS):
        host.submit(OcrJob("r1", page, 0, None))
    progress = heard.of("progress", "r1")
    assert 0 < len(progress) < 200 and {p[2] for p in progress} == {0}  # throttled like the text


def test_a_replaced_run_sends_no_progress(qtbot, fake_host, page):
    factory = FakeFactory(tokens=[f"t{i} " for i in range(20)], pause_after=2)
    host = fake_host(factory)
    heard = Heard(host)
    host.submit(OcrJob("r1", page, 0, None))
    assert factory.engine.paused.wait(10)
    qtbot.waitUntil(lambda: bool(heard.of("progress", "r1")), timeout=WAIT_MS)
    before = len(heard.of("progress", "r1"))
    host.cancel("r1", notify=False)  # what a resubmission or a deletion does: the old run's news is stale
    factory.engine.release.set()
    qtbot.wait(200)
    assert len(heard.of("progress", "r1")) == before
