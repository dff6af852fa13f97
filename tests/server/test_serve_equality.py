"""Remote results equal local ones: our client against our serve gives the in-process engine's tokens, text and
stop reason, one request or sixteen at once, over the OpenAI route and the Ollama one; the scheduler's batches
equal one-by-one runs."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from glmocr_core.api import OcrResult, RecognizeOptions, TextDelta
from glmocr_core.backends.remote import RemoteEngine
from glmocr_core.backends.settings import RemoteSettings
from glmocr_core.engine import BatchItem
from glmocr_core.server.scheduler import BatchScheduler, Job, JobFailed, take_batch
from glmocr_core.server.settings import ServerLimits

from .conftest import drawn_image

REGIONS = [(x, y, x + 90 + 7 * i, y + 40 + 3 * i) for i, (x, y) in
           enumerate([(0, 0), (20, 10), (40, 30), (60, 50), (80, 0), (100, 20), (120, 40), (140, 60)] * 2)]


def _final(items) -> OcrResult:
    items = list(items)
    assert all(isinstance(i, TextDelta) for i in items[:-1]) and isinstance(items[-1], OcrResult)
    return items[-1]


def _same(remote: OcrResult, local: OcrResult) -> None:
    assert remote.token_ids == local.token_ids
    assert remote.text == local.text and remote.stop_reason == local.stop_reason
    assert remote.prompt_tokens == local.prompt_tokens and remote.image_grid_thw == local.image_grid_thw
    assert remote.parsed == local.parsed and remote.parse_error == local.parse_error
    assert remote.timings.new_tokens == len(local.token_ids)


@pytest.fixture(scope="module", params=["openai", "ollama"])
def remote(request, server):
    engine = RemoteEngine(RemoteSettings(kind=request.param, urls=(server.url,), concurrency=16))
    yield engine
    engine.close()


@pytest.mark.parametrize("task, region, budget", [("text", None, 24), ("formula", (10, 10, 200, 90), 16),
                                                  ("table", None, 40), ("text", (0, 0, 150, 60), 3)])
def test_remote_equals_local(remote, local_engine, image, task, region, budget):
    options = RecognizeOptions(max_new_tokens=budget)
    items = list(remote.recognize(image, task, region=region, options=options))
    result = _final(items)
    _same(result, _final(local_engine.recognize(image, task, region=region, options=options)))
    assert "".join(i.text for i in items[:-1]).strip() == result.text


def test_the_repetition_guard_setting_reaches_the_server(remote, local_engine, image):
    options = RecognizeOptions(max_new_tokens=30, repeat_guard=False)
    _same(_final(remote.recognize(image, options=options)), _final(local_engine.recognize(image, options=options)))


def test_sixteen_concurrent_requests_equal_one_by_one(remote, local_engine, image):
    options = RecognizeOptions(max_new_tokens=12)
    results = {}
    for entry in remote.recognize_batch(image, REGIONS, "text", options):
        if isinstance(entry.item, OcrResult):
            results[entry.index] = entry.item
    assert sorted(results) == list(range(len(REGIONS)))
    for index, region in enumerate(REGIONS):
        _same(results[index], _final(local_engine.recognize(image, "text", region=region, options=options)))


def test_sixteen_threads_at_once_equal_one_by_one(server, local_engine):
    remote = RemoteEngine(RemoteSettings(urls=(server.url,), concurrency=16))
    images = [drawn_image(120 + 10 * i, 60 + 5 * i, i) for i in range(16)]
    options = RecognizeOptions(max_new_tokens=10)
    results: dict[int, OcrResult] = {}

    def one(index: int) -> None:
        results[index] = _final(remote.recognize(images[index], options=options))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    remote.close()
    for index, picture in enumerate(images):
        _same(results[index], _final(local_engine.recognize(picture, options=options)))


def test_cancel_closes_the_stream_and_the_server_goes_on(server, local_engine, image):
    remote = RemoteEngine(RemoteSettings(urls=(server.url,)))
    cancel = threading.Event()
    pieces = []
    for item in remote.recognize(image, options=RecognizeOptions(max_new_tokens=64, repeat_guard=False),
                                 cancel=cancel):
        pieces.append(item)
        cancel.set()
    assert isinstance(pieces[-1], OcrResult) and pieces[-1].stop_reason == "cancelled"
    again = _final(remote.recognize(image, options=RecognizeOptions(max_new_tokens=5)))
    _same(again, _final(local_engine.recognize(image, options=RecognizeOptions(max_new_tokens=5))))
    remote.close()


# ------------------------------------------------------------------------------------------------ scheduler


class _Sink:
    def __init__(self):
        self.items, self.done = [], threading.Event()

    def __call__(self, item) -> None:
        self.items.append(item)
        if isinstance(item, (OcrResult, JobFailed)):
            self.done.set()


def test_queued_requests_run_as_batches_equal_to_single_runs(checkpoint, local_engine):
    from glmocr_core.engine import Engine

    scheduler = BatchScheduler(Engine.load(checkpoint, device="cpu"), ServerLimits(max_batch=8))
    images = [drawn_image(100 + 9 * i, 50 + 4 * i, 20 + i) for i in range(16)]
    jobs = [Job(BatchItem(image, options=RecognizeOptions(max_new_tokens=6 + i % 5)), _Sink())
            for i, image in enumerate(images)]
    for job in jobs:  # all waiting before the worker starts: the batches are known in advance
        scheduler.submit(job)
    scheduler.start()
    for job in jobs:
        assert job.sink.done.wait(120)
    scheduler.stop()
    assert list(scheduler.recent_batch_sizes) == [8, 8]
    for job, image in zip(jobs, images):
        _same(job.sink.items[-1], _final(local_engine.recognize(image, options=job.item.options)))


def test_a_bad_request_in_a_batch_fails_alone(checkpoint):
    from glmocr_core.engine import Engine

    scheduler = BatchScheduler(Engine.load(checkpoint, device="cpu"), ServerLimits())
    good = Job(BatchItem(drawn_image(80, 60, 1), options=RecognizeOptions(max_new_tokens=4)), _Sink())
    bad = Job(BatchItem(drawn_image(80, 60, 2), region=(500, 500, 600, 600),
                        options=RecognizeOptions(max_new_tokens=4)), _Sink())
    scheduler.submit(good)
    scheduler.submit(bad)
    scheduler.start()
    assert good.sink.done.wait(60) and bad.sink.done.wait(60)
    scheduler.stop()
    assert isinstance(good.sink.items[-1], OcrResult)
    assert isinstance(bad.sink.items[-1], JobFailed) and bad.sink.items[-1].error.status == 400


def _job(budget: int = 10, **sampling) -> Job:
    return Job(BatchItem(None, prompt="x", options=RecognizeOptions(max_new_tokens=budget, **sampling)), _Sink())


def test_take_batch_groups_by_sampling_and_respects_the_bounds():
    greedy = [_job() for _ in range(3)]
    sampled = _job(do_sample=True, temperature=0.5)
    pending = [greedy[0], sampled, greedy[1], greedy[2]]
    assert take_batch(pending, max_batch=8, max_batch_tokens=10_000) == greedy
    assert take_batch(pending, max_batch=2, max_batch_tokens=10_000) == greedy[:2]
    other = _job(do_sample=True, temperature=0.5)
    assert take_batch([sampled, other], 8, 10_000) == [sampled, other]
    long = _job(budget=600)
    assert take_batch([greedy[0], long, greedy[1]], 8, max_batch_tokens=1000) == [greedy[0], greedy[1]]


def test_seeded_sampling_runs_alone():
    seeded = _job(do_sample=True, temperature=0.5, seed=7)
    twin = _job(do_sample=True, temperature=0.5, seed=7)
    assert take_batch([seeded, twin], 8, 10_000) == [seeded]
    assert seeded not in take_batch([_job(), seeded, _job()], 8, 10_000)


def test_cancelled_waiting_jobs_are_dropped(checkpoint):
    from glmocr_core.engine import Engine

    scheduler = BatchScheduler(Engine.load(checkpoint, device="cpu"), ServerLimits())
    gone, kept = _job(budget=3), _job(budget=3)
    gone.cancelled.set()
    scheduler.submit(gone)
    scheduler.submit(kept)
    scheduler.start()
    assert kept.sink.done.wait(60)
    scheduler.stop()
    assert gone.sink.items == [] and list(scheduler.recent_batch_sizes) == [1]


def test_random_results_keep_shape(remote, image):
    sampled = RecognizeOptions(max_new_tokens=8, do_sample=True, temperature=0.8, top_p=0.9, top_k=50, seed=4)
    first = _final(remote.recognize(image, options=sampled))
    second = _final(remote.recognize(image, options=sampled))
    assert first.token_ids == second.token_ids  # a seeded request runs alone, so it is reproducible
    assert 0 < len(first.token_ids) <= 8 and np.all(np.array(first.token_ids) >= 0)


def test_a_waiting_stream_hears_keepalives():
    import asyncio

    from glmocr_core.server.app import KEEPALIVE, _Channel

    async def first_two() -> list:
        channel = _Channel(asyncio.get_running_loop())
        events = channel.events(keepalive_s=0.01)
        quiet = await events.__anext__()
        channel.put("piece")
        return [quiet, await events.__anext__()]

    assert asyncio.run(first_two()) == [KEEPALIVE, "piece"]
