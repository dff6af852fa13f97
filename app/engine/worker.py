"""The engine's side of the GUI: a worker QObject, living in its own QThread, that owns the engine.

Its slots (load, drain, close) run on that thread; the GUI thread talks to it only through ``EngineHost``
(``app.engine.host``), which queues and cancels jobs through the thread-safe methods below. The engine is whatever the
``EngineLoader`` returns (``glmocr_core.api``): the worker knows the ``OcrEngine`` protocol only, so torch is imported
by the loader, on this thread, and the window opens fast and works without a model.

Streamed text reaches the GUI in throttled pieces (at most one queued signal per ``DELTA_INTERVAL_S``, the first at
once), each with the region's token count so far and the time since its job was taken: the progress a card shows.
The GUI's work per piece and its Python in general compete with decoding for the cores and the GIL, hence the pace
and ``share_gil_with_gui`` (bench/window_bench.py measures the window against the command line).

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

import os
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from glmocr_core.api import STOP_CANCELLED, EngineLoader, OcrEngine, OcrResult, RecognizeOptions, RegionItem, TextDelta
from glmocr_core.documents.pages import DEFAULT_DPI, validate_region
from glmocr_core.errors import GlmOcrError

from app.engine.options import EngineChoice

# At most ~5 text updates a second reach the GUI, however fast tokens come (the first piece goes out at once). Each
# update costs the GUI thread a few milliseconds of Python and layout (the card grows, its header re-flows), taken
# from the cores the model decodes on; at 0.05 s every token of a CPU decode (~13 a second) was an update of its own.
DELTA_INTERVAL_S = 0.2
# The GUI thread runs Python (slots, layouts, timers) while this thread decodes. Every torch op releases the GIL and
# taking it back waits for the GUI thread to let go: up to the interpreter's switch interval (5 ms by default) per
# op, so each burst of GUI work stalled decoding for about its whole length, op after op. A short interval bounds
# each wait. While the GUI thread idles in Qt's event loop it holds no GIL, and the interval changes nothing.
GIL_SWITCH_INTERVAL_S = 0.0005
# torch's OpenMP threads spin at every barrier, waiting for each other. Alone on the cores (the command line) that
# is fastest; in the window the GUI thread, QtWebEngine and the X server wake up now and then on the same cores,
# the thread they preempt holds up the team, and the others spin on, using the very core it needs. On a busy 2-core
# AMD EPYC, real-size model, 2 threads: decode 0.99 -> 2.45 tok/s and prefill 31.6 -> 15.8 s with passive waiting,
# which lets a waiting thread give its core away. libgomp reads the variable when torch loads it, which in the
# window happens on the worker's first model load.
OPENMP_WAIT_ENV, OPENMP_WAIT_POLICY = "OMP_WAIT_POLICY", "PASSIVE"
# Regions decoded together at most. Decode is memory-bound, so rows share each weight read: on CPU a batch of 8 gives
# about 4x the single-region rate (measured on fp32); more rows mostly add padding, memory
# and time to each region's first result. Not a setting on purpose: it is a property of the decoder, not a taste.
MAX_BATCH = 8
NO_MODEL_MESSAGE = "No model is loaded. Get the model or choose its folder first."
NO_RESULT_MESSAGE = "The engine ended without a result for this region."
NO_REMOTE_MESSAGE = "This build of the app cannot reach remote servers."


@dataclass
class LayoutJob:
    request: int
    document: Any  # glmocr_core.documents.Document (thread-safe)
    pages: list[int]  # 0-based, in the order they are laid out
    model_dir: str
    device: str = "auto"
    dpi: int = DEFAULT_DPI


def open_layout_detector(folder: str, device: str):
    """The real layout loader, imported on the worker thread at the first detection (torch comes with it)."""
    from glmocr_core.convert.loading import open_layout_detector as open_detector

    return open_detector(folder, device)


def detect_regions(detector, image) -> list:
    """Every region of a page image, the abandoned ones too (the window shows them dimmed)."""
    from glmocr_core.convert.converter import detect_page

    return detect_page(detector, image, include_abandoned=True)


@dataclass
class OcrJob:
    region_id: str
    document: Any  # glmocr_core.documents.Document (thread-safe)
    page: int
    box: tuple[float, float, float, float] | None  # page units; None = whole page
    task: str = "text"
    options: RecognizeOptions = field(default_factory=RecognizeOptions)
    dpi: int = DEFAULT_DPI
    seq: int = 0


def prefer_passive_openmp(environ=None, modules=None) -> bool:
    """Ask torch's OpenMP runtime to wait passively (``OPENMP_WAIT_POLICY``), unless the user chose a policy or
    torch is loaded already (then it is too late). True when it was set."""
    environ = os.environ if environ is None else environ
    modules = sys.modules if modules is None else modules
    if OPENMP_WAIT_ENV in environ or "torch" in modules:
        return False
    environ[OPENMP_WAIT_ENV] = OPENMP_WAIT_POLICY
    return True


def share_gil_with_gui(interval_s: float = GIL_SWITCH_INTERVAL_S) -> None:
    """Shorten the interpreter's switch interval (process-wide; never lengthened) so decoding keeps its pace while
    the GUI thread runs Python."""
    if sys.getswitchinterval() > interval_s:
        sys.setswitchinterval(interval_s)


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


@dataclass
class Piece:
    """Streamed text on its way to the GUI, with the region's token count when its last part was decoded."""

    text: str
    tokens: int = 0  # 0 where the engine cannot say (TextDelta.tokens)

    def extend(self, delta: TextDelta) -> "Piece":
        return Piece(self.text + delta.text, delta.tokens or self.tokens)


class DeltaThrottle:
    """Collects streamed pieces and says when enough time has passed to send them on."""

    def __init__(self, interval_s: float = DELTA_INTERVAL_S, clock=time.monotonic):
        self.interval_s, self.clock = interval_s, clock
        self.pending, self.last_sent = Piece(""), None

    def add(self, delta: TextDelta) -> Piece | None:
        """Returns the piece to send now, or None to keep collecting."""
        self.pending = self.pending.extend(delta)
        now = self.clock()
        if self.last_sent is not None and now - self.last_sent < self.interval_s:
            return None
        self.last_sent = now
        return self.flush()

    def flush(self) -> Piece | None:
        piece, self.pending = self.pending, Piece("", self.pending.tokens)
        return piece if piece.text else None


class RowThrottle:
    """The batch version: one pace for all rows, so a batch of N regions costs the GUI no more wake-ups per
    second than one region (each wake-up carries every row's new text)."""

    def __init__(self, interval_s: float = DELTA_INTERVAL_S, clock=time.monotonic):
        self.interval_s, self.clock = interval_s, clock
        self.pending: dict[int, Piece] = {}
        self.last_sent = None

    def add(self, row: int, delta: TextDelta) -> dict[int, Piece]:
        """Returns {row: piece} to send now (empty to keep collecting)."""
        self.pending[row] = self.pending.get(row, Piece("")).extend(delta)
        now = self.clock()
        if self.last_sent is not None and now - self.last_sent < self.interval_s:
            return {}
        self.last_sent = now
        ready, self.pending = {r: p for r, p in self.pending.items() if p.text}, {}
        return ready

    def take(self, row: int) -> Piece | None:
        """The row's unsent piece, removed (its result or cancel is about to go out)."""
        piece = self.pending.pop(row, None)
        return piece if piece is not None and piece.text else None


@dataclass
class _BatchRun:
    """Bookkeeping for one recognize_batch call, in the worker thread."""

    jobs: list[OcrJob]
    taken_at: float  # time.monotonic() when the worker took these jobs: progress counts from here
    throttle: RowThrottle
    partial: dict[int, list[str]] = field(default_factory=dict)  # seq -> streamed pieces
    answered: set[int] = field(default_factory=set)  # seqs whose final signal went out
    streamed: bool = False  # the engine yielded at least one item

    def text(self, job: OcrJob) -> str:
        return "".join(self.partial.get(job.seq, []))


class EngineWorker(QObject):
    """Lives in the worker thread. Slots run there; the queue and the stop bookkeeping are shared with the GUI thread
    through the public methods, which take the lock themselves."""

    loading = Signal(str, float)
    ready = Signal(object)  # EngineInfo
    load_failed = Signal(str)
    started = Signal(int, str)  # seq, region_id
    # seq, region_id, text, tokens generated so far (0: unknown), seconds since the worker took the job. Text and
    # progress travel together: one queued signal, one GUI wake-up per interval.
    delta = Signal(int, str, str, int, float)
    finished = Signal(int, str, object)  # seq, region_id, OcrResult
    failed = Signal(int, str, str)  # seq, region_id, message
    cancelled = Signal(int, str, str)  # seq, region_id, partial text
    layout_page = Signal(int, int, object, float)  # request, page, [LayoutBlock], pixels per page unit
    layout_failed = Signal(int, str)  # request, message (the detector could not load, a page could not render)
    layout_done = Signal(int, bool)  # request, whether it was cancelled before its last page
    closed = Signal()

    def __init__(self, loader: EngineLoader, remote_loader: EngineLoader | None = None, layout_loader=None):
        super().__init__()
        self.loader = loader
        self.remote_loader = remote_loader
        self.layout_loader = layout_loader or open_layout_detector
        self.engine: OcrEngine | None = None
        self._detector = None
        self._detector_key: tuple[str, str] | None = None
        self._layout_cancelled: set[int] = set()  # requests the host cancelled
        self._layout_events: dict[int, threading.Event] = {}  # one per request, set on its cancel
        self.delta_interval_s = DELTA_INTERVAL_S  # the pace of text updates (a benchmark may try others)
        self._queue: deque[OcrJob] = deque()
        self._lock = threading.Lock()
        self.cancel_event = threading.Event()  # set exactly when every job inside the engine call is stopped
        self._batch: list[OcrJob] = []  # taken from the queue, not answered yet
        self._decoding: list[OcrJob] = []  # the part of ``batch`` inside the current engine call
        self._stopped: set[int] = set()  # seqs of ``batch`` jobs the host cancelled

    @Slot(object)
    def load(self, choice: EngineChoice) -> None:
        """Load the engine ``choice`` names (closing the current one first): locally, or a remote backend's."""
        self._close_engine()
        loader = self.remote_loader if choice.remote else self.loader
        try:
            if loader is None:
                raise RuntimeError(NO_REMOTE_MESSAGE)
            self.engine = loader(choice.target, progress=self.loading.emit, **choice.options)
        except Exception as exc:  # noqa: BLE001 - any load failure is shown, never raised into Qt
            self.load_failed.emit(readable_error(exc))
            return
        self.ready.emit(self.engine.info)

    @Slot()
    def drain(self) -> None:
        """Run queued jobs until the queue is empty (woken by the host after each submit)."""
        while jobs := self._next_batch():
            self._run_batch(jobs)

    @Slot(object)
    def detect_layout(self, job: LayoutJob) -> None:
        """Lay out the job's pages one by one; every page is answered before the next is rendered."""
        try:
            detector = self._layout_detector(job.model_dir, job.device)
        except Exception as exc:  # noqa: BLE001 - a missing or broken layout model is a message, never a crash
            self.layout_failed.emit(job.request, readable_error(exc))
            self.layout_done.emit(job.request, True)
            return
        for page in job.pages:
            if self._layout_is_cancelled(job.request):
                self.layout_done.emit(job.request, True)
                return
            try:
                image, scale = job.document.ocr_image(page, dpi=job.dpi, cancel=self._layout_cancel_event(job.request))
                blocks = detect_regions(detector, image)
            except Exception as exc:  # noqa: BLE001 - e.g. the document was closed meanwhile
                self.layout_failed.emit(job.request, readable_error(exc))
                self.layout_done.emit(job.request, True)
                return
            self.layout_page.emit(job.request, page, blocks, float(scale))
        self.layout_done.emit(job.request, self._layout_is_cancelled(job.request))

    def cancel_layout(self, request: int) -> None:
        with self._lock:
            self._layout_cancelled.add(request)
            self._layout_events.setdefault(request, threading.Event()).set()  # stops a page render in progress too

    def _layout_cancel_event(self, request: int) -> threading.Event:
        with self._lock:
            return self._layout_events.setdefault(request, threading.Event())

    def _layout_is_cancelled(self, request: int) -> bool:
        with self._lock:
            return request in self._layout_cancelled

    def _layout_detector(self, folder: str, device: str):
        if self._detector is None or self._detector_key != (folder, device):
            self._detector = None
            self._detector = self.layout_loader(folder, device)
            self._detector_key = (folder, device)
        return self._detector

    @Slot()
    def close(self) -> None:
        self._close_engine()
        self._detector = None
        self.closed.emit()
        self.thread().quit()

    # --- requests from the GUI thread (any thread may call these) -----------------------------

    def enqueue(self, jobs: list[OcrJob]) -> None:
        with self._lock:
            self._queue.extend(jobs)

    def cancel_region(self, region_id: str) -> tuple[bool, bool]:
        """Drop the region's queued jobs and stop its running one: (any dropped, any stop requested)."""
        with self._lock:
            dropped = [job for job in self._queue if job.region_id == region_id]
            for job in dropped:
                self._queue.remove(job)
            running = [job for job in self._batch if job.region_id == region_id]
            for job in running:
                self._stop_locked(job)
        return bool(dropped), bool(running)

    def stop_running(self) -> None:
        """Stop every job of the running batch (queued jobs stay queued)."""
        with self._lock:
            self._stop_batch_locked()

    def cancel_everything(self) -> list[OcrJob]:
        """Empty the queue and stop the running batch; returns the queued jobs that were dropped."""
        with self._lock:
            dropped = list(self._queue)
            self._queue.clear()
            self._stop_batch_locked()
        return dropped

    def _stop_locked(self, job: OcrJob) -> None:
        self._stopped.add(job.seq)
        self._update_cancel_event()

    def _stop_batch_locked(self) -> None:
        self._stopped.update(job.seq for job in self._batch)
        self._update_cancel_event()

    def _update_cancel_event(self) -> None:
        live = [job for job in self._decoding if job.seq not in self._stopped]
        if self._decoding and not live:
            self.cancel_event.set()
        else:
            self.cancel_event.clear()

    # --- taking jobs --------------------------------------------------------------------------

    def _next_batch(self) -> list[OcrJob]:
        """The next queued job and up to MAX_BATCH - 1 queued mates it can share an engine call with."""
        with self._lock:
            self._batch, self._decoding = [], []
            self._stopped.clear()
            self.cancel_event.clear()
            if not self._queue:
                return []
            first = self._queue.popleft()
            mates = [job for job in self._queue if same_batch(first, job)][:MAX_BATCH - 1]
            for job in mates:
                self._queue.remove(job)
            self._batch = [first, *mates]
            return list(self._batch)

    def _begin_decoding(self, jobs: list[OcrJob]) -> None:
        with self._lock:
            self._decoding = list(jobs)
            self._update_cancel_event()

    def _is_stopped(self, job: OcrJob) -> bool:
        with self._lock:
            return job.seq in self._stopped

    def _answer(self, signal, job: OcrJob, payload) -> None:
        """Send a job's final signal and forget it (a later stop request for it is then a no-op)."""
        with self._lock:
            self._batch = [j for j in self._batch if j is not job]
            self._decoding = [j for j in self._decoding if j is not job]
        signal.emit(job.seq, job.region_id, payload)

    # --- running ------------------------------------------------------------------------------

    def _run_batch(self, jobs: list[OcrJob]) -> None:
        taken_at = time.monotonic()
        if self.engine is None:
            for job in jobs:
                self._answer(self.failed, job, NO_MODEL_MESSAGE)
            return
        for job in jobs:
            self.started.emit(job.seq, job.region_id)
        self._begin_decoding(jobs)  # from here a Stop of every job sets cancel_event, which also stops the render
        try:
            image, scale = jobs[0].document.ocr_image(jobs[0].page, dpi=jobs[0].dpi, cancel=self.cancel_event)
        except Exception as exc:  # noqa: BLE001 - e.g. the document was closed meanwhile
            for job in jobs:
                if self._is_stopped(job):  # the user stopped it while a heavy page rendered
                    self._answer(self.cancelled, job, "")
                else:
                    self._answer(self.failed, job, readable_error(exc))
            return
        regions = {job.seq: pixel_region(job, scale) for job in jobs}
        # A lone job goes to the engine as is (it gives the same message); in a batch a bad region fails alone.
        valid = jobs if len(jobs) == 1 else [job for job in jobs if not self._failed_check(job, regions[job.seq],
                                                                                              image.size)]
        if len(valid) > 1:
            self._run_together(valid, image, regions, taken_at)
        elif valid:
            self._run_single(valid[0], image, regions[valid[0].seq], taken_at)

    def _failed_check(self, job: OcrJob, region, image_size) -> bool:
        """Fail a job whose region the engine would refuse, before it can spoil the batch."""
        problem = region_problem(region, image_size)
        if problem:
            self._answer(self.failed, job, problem)
        return problem is not None

    def _run_single(self, job: OcrJob, image, region, taken_at: float) -> None:
        if self._is_stopped(job):
            self._answer(self.cancelled, job, "")
            return
        self._begin_decoding([job])
        partial: list[str] = []
        try:
            result = self._recognize(job, image, region, partial, taken_at)
        except Exception as exc:  # noqa: BLE001 - the message goes to the region's card
            self._answer(self.failed, job, readable_error(exc))
            return
        if result is None or result.stop_reason == STOP_CANCELLED:
            self._answer(self.cancelled, job, result.text if result else "".join(partial))
        else:
            self._answer(self.finished, job, result)

    def _recognize(self, job: OcrJob, image, region, partial: list[str], taken_at: float) -> OcrResult | None:
        throttle, result = DeltaThrottle(self.delta_interval_s), None
        stream = self.engine.recognize(image, task=job.task, region=region, options=job.options,
                                       cancel=self.cancel_event)
        for item in stream:
            if isinstance(item, TextDelta):
                partial.append(item.text)
                self._send(job, throttle.add(item), taken_at)
            elif isinstance(item, OcrResult):
                result = item
        self._send(job, throttle.flush(), taken_at)
        return result

    def _run_together(self, jobs: list[OcrJob], image, regions: dict, taken_at: float) -> None:
        run = _BatchRun(jobs, taken_at, RowThrottle(self.delta_interval_s))
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
            for row, piece in run.throttle.add(entry.index, entry.item).items():
                self._send(run.jobs[row], piece, run.taken_at)
        elif isinstance(entry.item, OcrResult):
            self._send(job, run.throttle.take(entry.index), run.taken_at)
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
                self._send(job, run.throttle.take(row), run.taken_at)  # the card shows all it had, then the cancel
                self._answer(self.cancelled, job, run.text(job))

    def _batch_failed(self, run: _BatchRun, image, regions: dict, exc: Exception) -> None:
        if not run.streamed:
            # Refused before any model output (a region our check did not foresee, or the batch as a whole):
            # one by one, each region succeeds or fails on its own.
            for job in run.jobs:
                self._run_single(job, image, regions[job.seq], run.taken_at)
            return
        for job in run.jobs:
            if job.seq not in run.answered:
                self._answer(self.failed, job, readable_error(exc))

    def _answer_leftovers(self, run: _BatchRun) -> None:
        """A well-behaved engine answers every row; anything it left out still gets a final signal."""
        for row, job in enumerate(run.jobs):
            if job.seq not in run.answered:
                self._send(job, run.throttle.take(row), run.taken_at)
                if self._is_stopped(job):
                    self._answer(self.cancelled, job, run.text(job))
                else:
                    self._answer(self.failed, job, NO_RESULT_MESSAGE)

    def _send(self, job: OcrJob, piece: Piece | None, taken_at: float) -> None:
        if piece is not None:
            self.delta.emit(job.seq, job.region_id, piece.text, piece.tokens, time.monotonic() - taken_at)

    def _close_engine(self) -> None:
        engine, self.engine = self.engine, None
        if engine is not None:
            try:
                engine.close()
            except Exception:  # noqa: BLE001 - closing must not stop a shutdown
                pass
