"""The GUI-thread face of the engine: submit, cancel, load and shut down, with results as Qt signals.

The GUI thread never touches the model. ``EngineHost`` methods queue work for the ``EngineWorker`` in its own
QThread and return at once; the worker's signals come back queued into this thread. Jobs are keyed by a sequence
number internally, so a late signal from a cancelled run of a region is never mistaken for the region's newer run; the
public signals carry region ids.
"""

from __future__ import annotations

import itertools
import logging

from PySide6.QtCore import QObject, QThread, Signal, Slot

from glmocr_core.api import EngineInfo, EngineLoader

from app.engine.options import LOCAL, EngineChoice
from app.engine.worker import EngineWorker, LayoutJob, OcrJob, prefer_passive_openmp, share_gil_with_gui

SHUTDOWN_WAIT_MS = 5000
log = logging.getLogger(__name__)


class EngineHost(QObject):
    """GUI-thread facade: submit, cancel, load, shut down. Re-emits worker signals with region ids only."""

    model_loading = Signal(str, float)  # stage text, fraction 0..1
    model_ready = Signal(object)  # EngineInfo
    model_failed = Signal(str)
    job_started = Signal(str)
    text_delta = Signal(str, str)  # region_id, text since the last delta
    # region_id, tokens generated so far (0 where the engine cannot say), seconds since the worker took the job:
    # right after each text_delta, at the same throttled pace
    progress = Signal(str, int, float)
    job_finished = Signal(str, object)  # region_id, OcrResult
    job_failed = Signal(str, str)  # region_id, message
    job_cancelled = Signal(str, str)  # region_id, partial text
    layout_page = Signal(int, int, object, float)  # request, page, [LayoutBlock], pixels per page unit
    layout_failed = Signal(int, str)  # request, message
    layout_done = Signal(int, bool)  # request, cancelled

    _load_requested = Signal(object)  # EngineChoice
    _layout_requested = Signal(object)  # LayoutJob
    _wake = Signal()
    _close_requested = Signal()

    def __init__(self, loader: EngineLoader, parent=None, remote_loader: EngineLoader | None = None,
                 layout_loader=None):
        super().__init__(parent)
        self._seq = itertools.count(1)
        self._layout_requests = itertools.count(1)
        self._layout_running: set[int] = set()
        self._latest: dict[str, int] = {}  # region_id -> seq of its newest submission
        self.engine_info: EngineInfo | None = None
        self.choice: EngineChoice | None = None  # what was loaded last (or is loading)
        self.loading = False
        share_gil_with_gui()  # the worker's decode loop and this thread's slots share one interpreter
        if prefer_passive_openmp():  # and the cores: before the worker's first load imports torch
            log.info("torch's OpenMP threads will wait passively (OMP_WAIT_POLICY=PASSIVE) next to the GUI")
        self.thread = QThread()
        self.thread.setObjectName("glmocr-engine")
        self.worker = EngineWorker(loader, remote_loader, layout_loader)
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
        self._layout_requested.connect(w.detect_layout)
        w.layout_page.connect(self._on_layout_page)
        w.layout_failed.connect(self._on_layout_failed)
        w.layout_done.connect(self._on_layout_done)

    # Real slots on this GUI-thread object, so Qt queues worker signals into the GUI thread.
    @Slot(int, str)
    def _on_started(self, seq, region_id):
        self._forward(seq, region_id, self.job_started, region_id)

    @Slot(int, str, str, int, float)
    def _on_delta(self, seq, region_id, text, tokens, elapsed_s):
        if self._latest.get(region_id) == seq:  # news of the region's newest run only
            self.text_delta.emit(region_id, text)
            self.progress.emit(region_id, tokens, elapsed_s)

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

    @Slot(int, int, object, float)
    def _on_layout_page(self, request, page, blocks, scale):
        self.layout_page.emit(request, page, blocks, scale)

    @Slot(int, str)
    def _on_layout_failed(self, request, message):
        self.layout_failed.emit(request, message)

    @Slot(int, bool)
    def _on_layout_done(self, request, cancelled):
        self._layout_running.discard(request)
        self.layout_done.emit(request, cancelled)

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
        """Load the in-process engine from ``model_dir``."""
        self.load(EngineChoice(LOCAL, str(model_dir), load_options))

    def load(self, choice: EngineChoice) -> None:
        """Load the engine ``choice`` names, local or remote (the current one is closed first)."""
        self.loading, self.engine_info, self.choice = True, None, choice
        self._load_requested.emit(choice)

    def submit(self, job: OcrJob) -> None:
        """Queue a job; a queued or running job of the same region is cancelled first."""
        self.submit_many([job])

    def submit_many(self, jobs: list[OcrJob]) -> None:
        """Queue several jobs at once, so the worker sees them together and can batch those of one page."""
        for job in jobs:
            self.cancel(job.region_id, notify=False)
            job.seq = next(self._seq)
            self._latest[job.region_id] = job.seq
        self.worker.enqueue(jobs)
        if jobs:
            self._wake.emit()

    def detect_layout(self, document, pages: list[int], model_dir: str, device: str = "auto", dpi: int = 0) -> int:
        """Lay out ``pages`` of ``document`` in the worker thread; the answers (``layout_page`` per page, then
        ``layout_done``) carry the returned request number."""
        request = next(self._layout_requests)
        options = {"dpi": dpi} if dpi else {}
        self._layout_running.add(request)
        self._layout_requested.emit(LayoutJob(request, document, list(pages), str(model_dir), device, **options))
        return request

    def cancel_layout(self, request: int | None = None) -> None:
        """Stop a layout request (default: every running one) before its next page."""
        for running in [request] if request is not None else list(self._layout_running):
            self.worker.cancel_layout(running)

    def is_pending(self, region_id: str) -> bool:
        return region_id in self._latest

    def cancel(self, region_id: str, notify: bool = True) -> None:
        """Cancel one region's job: drop it from the queue, or stop it within a token if it runs (alone or in a
        batch, where the other regions keep running)."""
        dropped, running = self.worker.cancel_region(region_id)
        if not notify:
            self._latest.pop(region_id, None)  # a resubmission or deletion: the old run's signals are stale
        elif dropped and not running:
            self._latest.pop(region_id, None)
            self.job_cancelled.emit(region_id, "")

    def cancel_current(self) -> None:
        """Stop what the engine is running now: the current region, or every region of the current batch."""
        self.worker.stop_running()

    def cancel_all(self) -> None:
        self.cancel_layout()
        for job in self.worker.cancel_everything():
            if self._latest.pop(job.region_id, None) is not None:
                self.job_cancelled.emit(job.region_id, "")

    def is_running(self) -> bool:
        """Whether the worker thread still runs (it stops on shutdown, unless a model load holds it)."""
        return self.thread.isRunning()

    def wait(self, ms: int) -> bool:
        """Wait up to ``ms`` for the worker thread to end; True when it has."""
        return self.thread.wait(ms)

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
