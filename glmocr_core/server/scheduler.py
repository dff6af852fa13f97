"""Batching concurrent requests into the engine's batch decoding.

One worker thread owns the engine (an engine is driven from one thread at a time). Requests wait in a FIFO queue;
whenever the engine is free the worker takes the oldest waiting request and, with it, every later one that can
share its batch, up to ``max_batch`` requests and ``max_batch_tokens`` (rows × the longest token budget, which is
what the KV cache is sized by). Requests can share a batch when their sampling settings agree (``sampling_key``);
images, prompts, tasks and budgets may differ, and a request that is seeded sampling always runs alone, so its
result does not depend on what else was waiting. A batch runs until its last row ends; rows that end early leave
it (the engine stops decoding them), and requests that arrive meanwhile join the next batch. The oldest request is
always in the next batch, so none waits behind later ones for long. After a batch of several requests the worker
waits up to ``gather_s`` (20 ms) for more before taking the next one: their clients send their next requests as
soon as they have their results, and so land in one batch instead of alternating with the others. (A lone client
never waits.)

Results are handed back through each job's ``sink`` (called on the worker thread). A client that goes away sets the
job's ``cancelled`` flag: a waiting job is dropped, a running one leaves its batch at the next token.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

from ..api import OcrResult
from ..engine import BatchItem, sampling_key
from ..errors import GlmOcrError
from .errors import ApiError
from .settings import ServerLimits

log = logging.getLogger(__name__)


@dataclass
class JobFailed:
    """What a job's sink receives instead of a result."""

    error: ApiError


@dataclass(eq=False)
class Job:
    item: BatchItem
    sink: Callable[[object], None]  # receives TextDelta pieces, then one OcrResult or one JobFailed
    cancelled: threading.Event = field(default_factory=threading.Event)

    @property
    def key(self) -> tuple:
        return sampling_key(self.item.options)

    @property
    def budget(self) -> int:
        return self.item.options.max_new_tokens

    @property
    def runs_alone(self) -> bool:
        return self.item.options.do_sample and self.item.options.seed is not None


def take_batch(pending: list[Job], max_batch: int, max_batch_tokens: int) -> list[Job]:
    """The oldest job and the later ones that fit with it, in queue order."""
    head = pending[0]
    chosen, longest = [head], head.budget
    for job in pending[1:]:
        if head.runs_alone or len(chosen) == max_batch:
            break
        fits = (len(chosen) + 1) * max(longest, job.budget) <= max_batch_tokens
        if job.key == head.key and not job.runs_alone and fits:
            chosen.append(job)
            longest = max(longest, job.budget)
    return chosen


class BatchScheduler:
    def __init__(self, engine, limits: ServerLimits):
        self.engine, self.limits = engine, limits
        self._pending: list[Job] = []
        self._wake = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.batches = self.requests = self.largest_batch = 0  # since start, for /health and the benchmark
        self.recent_batch_sizes: deque[int] = deque(maxlen=1000)  # bounded: a server runs for months

    def start(self) -> None:
        self._thread = threading.Thread(target=self._work, name="glmocr-serve-engine", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float | None = None) -> None:
        """Finish every queued job, then end the worker."""
        with self._wake:
            self._stopping = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def submit(self, job: Job) -> None:
        with self._wake:
            if self._stopping:
                raise ApiError(503, "the server is shutting down", kind="server_error", code="shutting_down")
            if len(self._pending) >= self.limits.max_queued:
                raise ApiError(503, f"the server is busy ({len(self._pending)} requests waiting); try again shortly",
                               kind="server_error", code="busy", headers={"Retry-After": "1"})
            self._pending.append(job)
            self._wake.notify()

    @property
    def waiting(self) -> int:
        return len(self._pending)

    # ------------------------------------------------------------------------------------------------ worker

    def _work(self) -> None:
        while (batch := self._next_batch()) is not None:
            self._count(len(batch))
            self._run(batch)

    def _count(self, size: int) -> None:
        self.batches, self.requests = self.batches + 1, self.requests + size
        self.largest_batch = max(self.largest_batch, size)
        self.recent_batch_sizes.append(size)

    def _next_batch(self) -> list[Job] | None:
        with self._wake:
            while True:
                if not self._wait_for_work():
                    return None
                if self.recent_batch_sizes and self.recent_batch_sizes[-1] > 1:
                    self._gather()
                self._pending = [job for job in self._pending if not job.cancelled.is_set()]
                if self._pending:
                    batch = take_batch(self._pending, self.limits.max_batch, self.limits.max_batch_tokens)
                    self._pending = [job for job in self._pending if job not in batch]
                    return batch

    def _wait_for_work(self) -> bool:
        """Until a job waits (True) or the scheduler stops with nothing left (False). Holds the lock."""
        while True:
            self._pending = [job for job in self._pending if not job.cancelled.is_set()]
            if self._pending:
                return True
            if self._stopping:
                return False
            self._wake.wait()

    def _gather(self) -> None:
        """Wait a moment for the clients of the batch that just ended, who send their next requests as soon as they
        have their results, so that they join the next batch instead of the one after."""
        deadline = time.monotonic() + self.limits.gather_s
        while len(self._pending) < self.limits.max_batch and not self._stopping:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._wake.wait(left)

    def _run(self, batch: list[Job]) -> None:
        finished: set[int] = set()
        emitted = False
        try:
            for entry in self.engine.recognize_many([job.item for job in batch],
                                                    stop_item=lambda i: batch[i].cancelled.is_set()):
                emitted = True
                finished.update([entry.index] if isinstance(entry.item, OcrResult) else [])
                batch[entry.index].sink(entry.item)
        except GlmOcrError as exc:
            if len(batch) > 1 and not emitted:  # items are checked before decoding: find the bad one alone
                for job in batch:
                    self._run([job])
                return
            self._fail(batch, finished, ApiError(400, str(exc)))
        except Exception:
            log.exception("the engine failed on a batch of %d request(s)", len(batch))
            self._fail(batch, finished, ApiError(500, "the engine failed on this request; see the server log",
                                                 kind="server_error", code="internal_error"))

    def _fail(self, batch: list[Job], finished: set[int], error: ApiError) -> None:
        for index, job in enumerate(batch):
            if index not in finished:
                job.sink(JobFailed(error))
