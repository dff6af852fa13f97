"""The background side of the GUI: a worker QObject in its own QThread that owns the engine.

The GUI thread never touches the model. It calls ``EngineHost`` methods, which queue work for the worker and
return at once; results come back as Qt signals (queued across threads). torch is only imported inside the
worker thread, by the default engine factory, so the window opens fast and works without a model.

Jobs are keyed by a sequence number internally, so a late signal from a cancelled run of a region is never
mistaken for the region's newer run; the public signals carry region ids.

Batching: queued jobs on the same page image with the same task and options are taken together (up to
``MAX_BATCH``) and decoded by one ``Engine.recognize_batch`` call; each region still gets its own started, delta and
finished/failed/cancelled signals, and each region's result arrives as soon as that region ends. Stopping one
region of a running batch: the host marks that job stopped, the engine's ``stop_region`` check takes its row out of
the batch at the next token (so it costs no more compute), and the worker answers it "cancelled" with its partial
text while the other rows keep decoding. When every row still decoding is stopped, the shared cancel event stops
the model at once. A region the model would refuse is checked first and fails alone; if the engine still refuses the
batch before streaming anything, its jobs run one by one so only the bad one fails.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

from PySide6.QtCore import QObject, QThread, Signal, Slot

from glmocr_core.api import STOP_CANCELLED, OcrResult, RecognizeOptions, RegionItem, TextDelta
from glmocr_core.errors import GlmOcrError
from glmocr_core.documents.pages import validate_region

DELTA_INTERVAL_S = 0.05  # at most ~20 text updates a second reach the GUI, however fast tokens come
# Regions decoded together at most. Decode is memory-bound, so rows share each weight read: on CPU a batch of 8 gives
# about 4x the single-region rate (measured for the performance issue, fp32); more rows mostly add padding, memory
# and time to each region's first result. Not a setting on purpose: it is a property of the decoder, not a taste.
MAX_BATCH = 8
NO_MODEL_MESSAGE = "No model is loaded. Get the model or choose its folder first."
NO_RESULT_MESSAGE = "The engine ended without a result for this region."
SHUTDOWN_WAIT_MS = 5000

EngineFactory = Callable[..., Any]  # (model_dir, *, progress, **load_options) -> engine


def load_real_engine(model_dir: str, *, progress=None, **load_options):
    """Default factory. Imported here, in the worker thread, because the engine pulls in torch."""
    from glmocr_core.engine import Engine

    return Engine.load(model_dir, progress=progress, **load_options)


@dataclass
class OcrJob:
    region_id: str
    document: Any  # glmocr_core.documents.Document (thread-safe)
    page: int
    box: tuple[float, float, float, float] | None  # page units; None = whole page
    task: str = "text"
    options: RecognizeOptions = field(default_factory=RecognizeOptions)
    dpi: int = 200
    seq: int = 0


def same_batch(a: OcrJob, b: OcrJob) -> bool:
    """Jobs the engine can decode in one call: one page image, one prompt, one set of options."""
    return (a.document is b.document and a.page == b.page and a.dpi == b.dpi and a.task == b.task
            and a.options == b.options)


def pixel_region(job: OcrJob, scale: float):
    """The job's box in pixels of the page image OCR runs on (None = the whole image)."""
    return None if job.box is None else tuple(v * scale for v in job.box)


def region_problem(region, image_size: tuple[int, int]) -> str | None:
    """Why the engine would refuse this crop (the same check it makes), or None when it is fine."""
    if region is None:
        return None
    try:
        validate_region(region, image_size)
    except GlmOcrError as exc:
        return str(exc)
    return None


def _close(stream) -> None:
    """End a generator we stopped reading, so the engine's decode loop stops now rather than at garbage
    collection."""
    close = getattr(stream, "close", None)
    if callable(close):
        close()


def readable_error(exc: BaseException) -> str:
    """A message for the user: our own errors are already readable; others get their type name."""
    if isinstance(exc, GlmOcrError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class DeltaThrottle:
    """Collects streamed text and says when enough time has passed to send it on."""

    def __init__(self, interval_s: float = DELTA_INTERVAL_S, clock=time.monotonic):
        self.interval_s, self.clock = interval_s, clock
        self.pending, self.last_sent = "", None

    def add(self, text: str) -> str | None:
        """Returns the text to send now, or None to keep collecting."""
        self.pending += text
        now = self.clock()
        if self.last_sent is not None and now - self.last_sent < self.interval_s:
            return None
        self.last_sent = now
        return self.flush()

    def flush(self) -> str | None:
        text, self.pending = self.pending, ""
        return text or None


class RowThrottle:
    """The batch version: one pace for all rows, so a batch of N regions costs the GUI no more wake-ups per
    second than one region (each wake-up carries every row's new text)."""

    def __init__(self, interval_s: float = DELTA_INTERVAL_S, clock=time.monotonic):
        self.interval_s, self.clock = interval_s, clock
        self.pending: dict[int, str] = {}
        self.last_sent = None

    def add(self, row: int, text: str) -> dict[int, str]:
        """Returns {row: text} to send now (empty to keep collecting)."""
        self.pending[row] = self.pending.get(row, "") + text
        now = self.clock()
        if self.last_sent is not None and now - self.last_sent < self.interval_s:
            return {}
        self.last_sent = now
        ready, self.pending = {r: t for r, t in self.pending.items() if t}, {}
        return ready

    def take(self, row: int) -> str | None:
        """The row's unsent text, removed (its result or cancel is about to go out)."""
        return self.pending.pop(row, "") or None


@dataclass
class _BatchRun:
    """Bookkeeping for one recognize_batch call, in the worker thread."""

    jobs: list[OcrJob]
    partial: dict[int, list[str]] = field(default_factory=dict)  # seq -> streamed pieces
    answered: set[int] = field(default_factory=set)  # seqs whose final signal went out
    throttle: RowThrottle = field(default_factory=RowThrottle)
    streamed: bool = False  # the engine yielded at least one item

    def text(self, job: OcrJob) -> str:
        return "".join(self.partial.get(job.seq, []))


class EngineWorker(QObject):
    """Lives in the worker thread. Slots run there; the queue and stop bookkeeping are shared with the GUI thread
    under ``lock``."""

    loading = Signal(str, float)
    ready = Signal(object)  # EngineInfo
    load_failed = Signal(str)
    started = Signal(int, str)  # seq, region_id
    delta = Signal(int, str, str)  # seq, region_id, text
    finished = Signal(int, str, object)  # seq, region_id, OcrResult
    failed = Signal(int, str, str)  # seq, region_id, message
    cancelled = Signal(int, str, str)  # seq, region_id, partial text
    closed = Signal()

    def __init__(self, factory: EngineFactory):
        super().__init__()
        self.factory = factory
        self.engine = None
        self.queue: deque[OcrJob] = deque()
        self.lock = threading.Lock()
        self.cancel_event = threading.Event()  # set exactly when every job inside the engine call is stopped
        self.batch: list[OcrJob] = []  # taken from the queue, not answered yet
        self.decoding: list[OcrJob] = []  # the part of ``batch`` inside the current engine call
        self.stopped: set[int] = set()  # seqs of ``batch`` jobs the host cancelled

    @property
    def current(self) -> OcrJob | None:
        """The first unanswered job of the running batch (None when idle)."""
        with self.lock:
            return self.batch[0] if self.batch else None

    @Slot(str, dict)
    def load(self, model_dir: str, load_options: dict) -> None:
        self._close_engine()
        try:
            self.engine = self.factory(model_dir, progress=self.loading.emit, **load_options)
        except Exception as exc:  # noqa: BLE001 - any load failure is shown, never raised into Qt
            self.load_failed.emit(readable_error(exc))
            return
        self.ready.emit(self.engine.info)

    @Slot()
    def drain(self) -> None:
        """Run queued jobs until the queue is empty (woken by the host after each submit)."""
        while jobs := self._next_batch():
            self._run_batch(jobs)

    @Slot()
    def close(self) -> None:
        self._close_engine()
        self.closed.emit()
        self.thread().quit()

    # --- stop requests (called by the host with ``lock`` held) ------------------------------

    def request_stop(self, job: OcrJob) -> None:
        self.stopped.add(job.seq)
        self._update_cancel_event()

    def stop_everything(self) -> None:
        self.stopped.update(job.seq for job in self.batch)
        self._update_cancel_event()

    def _update_cancel_event(self) -> None:
        live = [job for job in self.decoding if job.seq not in self.stopped]
        if self.decoding and not live:
            self.cancel_event.set()
        else:
            self.cancel_event.clear()

    # --- taking jobs --------------------------------------------------------------------------

    def _next_batch(self) -> list[OcrJob]:
        """The next queued job and up to MAX_BATCH - 1 queued mates it can share an engine call with."""
        with self.lock:
            self.batch, self.decoding = [], []
            self.stopped.clear()
            self.cancel_event.clear()
            if not self.queue:
                return []
            first = self.queue.popleft()
            mates = [job for job in self.queue if same_batch(first, job)][:MAX_BATCH - 1]
            for job in mates:
                self.queue.remove(job)
            self.batch = [first, *mates]
            return list(self.batch)

    def _begin_decoding(self, jobs: list[OcrJob]) -> None:
        with self.lock:
            self.decoding = list(jobs)
            self._update_cancel_event()

    def _is_stopped(self, job: OcrJob) -> bool:
        with self.lock:
            return job.seq in self.stopped

    def _answer(self, signal, job: OcrJob, payload) -> None:
        """Send a job's final signal and forget it (a later stop request for it is then a no-op)."""
        with self.lock:
            self.batch = [j for j in self.batch if j is not job]
            self.decoding = [j for j in self.decoding if j is not job]
        signal.emit(job.seq, job.region_id, payload)

    # --- running ------------------------------------------------------------------------------

    def _run_batch(self, jobs: list[OcrJob]) -> None:
        if self.engine is None:
            for job in jobs:
                self._answer(self.failed, job, NO_MODEL_MESSAGE)
            return
        for job in jobs:
            self.started.emit(job.seq, job.region_id)
        try:
            image, scale = jobs[0].document.ocr_image(jobs[0].page, dpi=jobs[0].dpi)
        except Exception as exc:  # noqa: BLE001 - e.g. the document was closed meanwhile
            for job in jobs:
                self._answer(self.failed, job, readable_error(exc))
            return
        regions = {job.seq: pixel_region(job, scale) for job in jobs}
        # A lone job goes to the engine as is (it gives the same message); in a batch a bad region fails alone.
        valid = jobs if len(jobs) == 1 else [job for job in jobs if not self._failed_check(job, regions[job.seq],
                                                                                              image.size)]
        if len(valid) > 1:
            self._run_together(valid, image, regions)
        elif valid:
            self._run_single(valid[0], image, regions[valid[0].seq])

    def _failed_check(self, job: OcrJob, region, image_size) -> bool:
        """Fail a job whose region the engine would refuse, before it can spoil the batch."""
        problem = region_problem(region, image_size)
        if problem:
            self._answer(self.failed, job, problem)
        return problem is not None

    def _run_single(self, job: OcrJob, image, region) -> None:
        if self._is_stopped(job):
            self._answer(self.cancelled, job, "")
            return
        self._begin_decoding([job])
        partial: list[str] = []
        try:
            result = self._recognize(job, image, region, partial)
        except Exception as exc:  # noqa: BLE001 - the message goes to the region's card
            self._answer(self.failed, job, readable_error(exc))
            return
        if result is None or result.stop_reason == STOP_CANCELLED:
            self._answer(self.cancelled, job, result.text if result else "".join(partial))
        else:
            self._answer(self.finished, job, result)

    def _recognize(self, job: OcrJob, image, region, partial: list[str]) -> OcrResult | None:
        throttle, result = DeltaThrottle(), None
        stream = self.engine.recognize(image, task=job.task, region=region, options=job.options,
                                       cancel=self.cancel_event)
        for item in stream:
            if isinstance(item, TextDelta):
                partial.append(item.text)
                self._send(job, throttle.add(item.text))
            elif isinstance(item, OcrResult):
                result = item
        self._send(job, throttle.flush())
        return result

    def _run_together(self, jobs: list[OcrJob], image, regions: dict) -> None:
        run = _BatchRun(jobs)
        self._begin_decoding(jobs)
        try:
            stream = self.engine.recognize_batch(image, [regions[job.seq] for job in jobs], task=jobs[0].task,
                                                 options=jobs[0].options, cancel=self.cancel_event,
                                                 stop_region=lambda index: self._is_stopped(jobs[index]))
            for entry in stream:
                run.streamed = True
                self._route(run, entry)
                self._answer_stopped(run)
                if len(run.answered) == len(run.jobs):
                    break  # every region has its answer: whatever the model still decodes, nobody waits for it
            _close(stream)
        except Exception as exc:  # noqa: BLE001 - routed to the regions it concerns
            self._batch_failed(run, image, regions, exc)
            return
        self._answer_leftovers(run)

    def _route(self, run: _BatchRun, entry: RegionItem) -> None:
        job = run.jobs[entry.index]
        if job.seq in run.answered:
            return  # a row the user stopped: the model still decodes it, the GUI hears no more of it
        if isinstance(entry.item, TextDelta):
            run.partial.setdefault(job.seq, []).append(entry.item.text)
            for row, text in run.throttle.add(entry.index, entry.item.text).items():
                self._send(run.jobs[row], text)
        elif isinstance(entry.item, OcrResult):
            self._send(job, run.throttle.take(entry.index))
            run.answered.add(job.seq)
            result = entry.item
            if result.stop_reason == STOP_CANCELLED or self._is_stopped(job):
                self._answer(self.cancelled, job, result.text or run.text(job))
            else:
                self._answer(self.finished, job, result)

    def _answer_stopped(self, run: _BatchRun) -> None:
        """Rows the host stopped since the last piece: cancelled now, with what they had streamed."""
        for row, job in enumerate(run.jobs):
            if job.seq not in run.answered and self._is_stopped(job):
                run.answered.add(job.seq)
                self._send(job, run.throttle.take(row))  # the card shows all it had, then the cancel
                self._answer(self.cancelled, job, run.text(job))

    def _batch_failed(self, run: _BatchRun, image, regions: dict, exc: Exception) -> None:
        if not run.streamed:
            # Refused before any model output (a region our check did not foresee, or the batch as a whole):
            # one by one, each region succeeds or fails on its own.
            for job in run.jobs:
                self._run_single(job, image, regions[job.seq])
            return
        for job in run.jobs:
            if job.seq not in run.answered:
                self._answer(self.failed, job, readable_error(exc))

    def _answer_leftovers(self, run: _BatchRun) -> None:
        """A well-behaved engine answers every row; anything it left out still gets a final signal."""
        for row, job in enumerate(run.jobs):
            if job.seq not in run.answered:
                self._send(job, run.throttle.take(row))
                if self._is_stopped(job):
                    self._answer(self.cancelled, job, run.text(job))
                else:
                    self._answer(self.failed, job, NO_RESULT_MESSAGE)

    def _send(self, job: OcrJob, text: str | None) -> None:
        if text:
            self.delta.emit(job.seq, job.region_id, text)

    def _close_engine(self) -> None:
        engine, self.engine = self.engine, None
        if engine is not None:
            try:
                engine.close()
            except Exception:  # noqa: BLE001 - closing must not stop a shutdown
                pass


class EngineHost(QObject):
    """GUI-thread facade: submit, cancel, load, shut down. Re-emits worker signals with region ids only."""

    model_loading = Signal(str, float)  # stage text, fraction 0..1
    model_ready = Signal(object)  # EngineInfo
    model_failed = Signal(str)
    job_started = Signal(str)
    text_delta = Signal(str, str)  # region_id, text since the last delta
    job_finished = Signal(str, object)  # region_id, OcrResult
    job_failed = Signal(str, str)  # region_id, message
    job_cancelled = Signal(str, str)  # region_id, partial text

    _load_requested = Signal(str, dict)
    _wake = Signal()
    _close_requested = Signal()

    def __init__(self, factory: EngineFactory = load_real_engine, parent=None):
        super().__init__(parent)
        self._seq = itertools.count(1)
        self._latest: dict[str, int] = {}  # region_id -> seq of its newest submission
        self.engine_info = None
        self.loading = False
        self.thread = QThread()
        self.thread.setObjectName("glmocr-engine")
        self.worker = EngineWorker(factory)
        self.worker.moveToThread(self.thread)
        self._connect()
        self.thread.start()

    def _connect(self) -> None:
        w = self.worker
        self._load_requested.connect(w.load)
        self._wake.connect(w.drain)
        self._close_requested.connect(w.close)
        w.loading.connect(self.model_loading)
        w.ready.connect(self._on_ready)
        w.load_failed.connect(self._on_load_failed)
        w.started.connect(self._on_started)
        w.delta.connect(self._on_delta)
        w.finished.connect(self._on_finished)
        w.failed.connect(self._on_failed)
        w.cancelled.connect(self._on_cancelled)

    # Real slots on this GUI-thread object, so Qt queues worker signals into the GUI thread.
    @Slot(int, str)
    def _on_started(self, seq, region_id):
        self._forward(seq, region_id, self.job_started, region_id)

    @Slot(int, str, str)
    def _on_delta(self, seq, region_id, text):
        self._forward(seq, region_id, self.text_delta, region_id, text)

    @Slot(int, str, object)
    def _on_finished(self, seq, region_id, result):
        self._forward(seq, region_id, self.job_finished, region_id, result, done=True)

    @Slot(int, str, str)
    def _on_failed(self, seq, region_id, message):
        self._forward(seq, region_id, self.job_failed, region_id, message, done=True)

    @Slot(int, str, str)
    def _on_cancelled(self, seq, region_id, partial):
        self._forward(seq, region_id, self.job_cancelled, region_id, partial, done=True)

    def _forward(self, seq: int, region_id: str, signal, *args, done: bool = False) -> None:
        if self._latest.get(region_id) != seq:
            return  # a superseded run of this region: its news is stale
        if done:
            del self._latest[region_id]
        signal.emit(*args)

    @Slot(object)
    def _on_ready(self, info) -> None:
        self.loading, self.engine_info = False, info
        self.model_ready.emit(info)

    @Slot(str)
    def _on_load_failed(self, message: str) -> None:
        self.loading, self.engine_info = False, None
        self.model_failed.emit(message)

    # --- requests from the GUI -------------------------------------------------------------

    @property
    def has_model(self) -> bool:
        return self.engine_info is not None

    def load_model(self, model_dir: str, **load_options) -> None:
        self.loading, self.engine_info = True, None
        self._load_requested.emit(str(model_dir), load_options)

    def submit(self, job: OcrJob) -> None:
        """Queue a job; a queued or running job of the same region is cancelled first."""
        self.submit_many([job])

    def submit_many(self, jobs: list[OcrJob]) -> None:
        """Queue several jobs at once, so the worker sees them together and can batch those of one page."""
        for job in jobs:
            self.cancel(job.region_id, notify=False)
            job.seq = next(self._seq)
            self._latest[job.region_id] = job.seq
        with self.worker.lock:
            self.worker.queue.extend(jobs)
        if jobs:
            self._wake.emit()

    def is_pending(self, region_id: str) -> bool:
        return region_id in self._latest

    def cancel(self, region_id: str, notify: bool = True) -> None:
        """Cancel one region's job: drop it from the queue, or stop it within a token if it runs (alone or in a
        batch, where the other regions keep running)."""
        with self.worker.lock:
            dropped = [j for j in self.worker.queue if j.region_id == region_id]
            for job in dropped:
                self.worker.queue.remove(job)
            running = [j for j in self.worker.batch if j.region_id == region_id]
            for job in running:
                self.worker.request_stop(job)
        if not notify:
            self._latest.pop(region_id, None)  # a resubmission or deletion: the old run's signals are stale
        elif dropped and not running:
            self._latest.pop(region_id, None)
            self.job_cancelled.emit(region_id, "")

    def cancel_current(self) -> None:
        """Stop what the engine is running now: the current region, or every region of the current batch."""
        with self.worker.lock:
            self.worker.stop_everything()

    def cancel_all(self) -> None:
        with self.worker.lock:
            dropped = list(self.worker.queue)
            self.worker.queue.clear()
            self.worker.stop_everything()
        for job in dropped:
            if self._latest.pop(job.region_id, None) is not None:
                self.job_cancelled.emit(job.region_id, "")

    def shutdown(self, wait_ms: int = SHUTDOWN_WAIT_MS) -> bool:
        """Cancel everything, close the engine in its thread and stop the thread. True if it stopped in time."""
        if not self.thread.isRunning():
            return True
        self._latest.clear()
        self.cancel_all()
        self._close_requested.emit()
        stopped = self.thread.wait(wait_ms)
        if not stopped:
            self.thread.quit()  # the worker may be stuck in a model load; the event loop exits when it returns
        return stopped
