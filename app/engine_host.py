"""The background side of the GUI: a worker QObject in its own QThread that owns the engine.

The GUI thread never touches the model. It calls ``EngineHost`` methods, which queue work for the worker and
return at once; results come back as Qt signals (queued across threads). torch is only imported inside the
worker thread, by the default engine factory, so the window opens fast and works without a model.

Jobs are keyed by a sequence number internally, so a late signal from a cancelled run of a region is never
mistaken for the region's newer run; the public signals carry region ids.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

from PySide6.QtCore import QObject, QThread, Signal, Slot

from glmocr_core.api import STOP_CANCELLED, OcrResult, RecognizeOptions, TextDelta
from glmocr_core.errors import GlmOcrError

DELTA_INTERVAL_S = 0.05  # at most ~20 text updates a second reach the GUI, however fast tokens come
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


class EngineWorker(QObject):
    """Lives in the worker thread. Slots run there; the queue and cancel flag are shared with the GUI thread."""

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
        self.cancel_event = threading.Event()
        self.current: OcrJob | None = None

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
        while (job := self._next_job()) is not None:
            self._run(job)

    @Slot()
    def close(self) -> None:
        self._close_engine()
        self.closed.emit()
        self.thread().quit()

    def _next_job(self) -> OcrJob | None:
        with self.lock:
            if not self.queue:
                self.current = None
                return None
            self.current = self.queue.popleft()
            self.cancel_event.clear()
            return self.current

    def _run(self, job: OcrJob) -> None:
        if self.engine is None:
            self.failed.emit(job.seq, job.region_id, "No model is loaded. Get the model or choose its folder first.")
            return
        self.started.emit(job.seq, job.region_id)
        partial = []
        try:
            result = self._recognize(job, partial)
        except Exception as exc:  # noqa: BLE001 - the message goes to the region's card
            self.failed.emit(job.seq, job.region_id, readable_error(exc))
            return
        if result is None or result.stop_reason == STOP_CANCELLED:
            self.cancelled.emit(job.seq, job.region_id, result.text if result else "".join(partial))
        else:
            self.finished.emit(job.seq, job.region_id, result)

    def _recognize(self, job: OcrJob, partial: list[str]) -> OcrResult | None:
        image, scale = job.document.ocr_image(job.page, dpi=job.dpi)
        region = None if job.box is None else tuple(v * scale for v in job.box)
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
        self.cancel(job.region_id, notify=False)
        job.seq = next(self._seq)
        self._latest[job.region_id] = job.seq
        with self.worker.lock:
            self.worker.queue.append(job)
        self._wake.emit()

    def is_pending(self, region_id: str) -> bool:
        return region_id in self._latest

    def cancel(self, region_id: str, notify: bool = True) -> None:
        """Cancel one region's job: drop it from the queue, or stop it within a token if it runs."""
        with self.worker.lock:
            dropped = [j for j in self.worker.queue if j.region_id == region_id]
            for job in dropped:
                self.worker.queue.remove(job)
            running = self.worker.current is not None and self.worker.current.region_id == region_id
            if running:
                self.worker.cancel_event.set()
        if not notify:
            self._latest.pop(region_id, None)  # a resubmission or deletion: the old run's signals are stale
        elif dropped and not running:
            self._latest.pop(region_id, None)
            self.job_cancelled.emit(region_id, "")

    def cancel_current(self) -> None:
        with self.worker.lock:
            if self.worker.current is not None:
                self.worker.cancel_event.set()

    def cancel_all(self) -> None:
        with self.worker.lock:
            dropped = list(self.worker.queue)
            self.worker.queue.clear()
            if self.worker.current is not None:
                self.worker.cancel_event.set()
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
