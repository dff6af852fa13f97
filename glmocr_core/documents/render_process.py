"""PDF pages rendered in a child process, so a page that takes minutes is bounded and can be stopped.

MuPDF cannot be interrupted from Python: PyMuPDF holds the interpreter lock for the whole of a page's render, so a
page of millions of vector operations freezes every thread of the process (the window, Ctrl-C, a Stop button)
until it is done, and its cookie's abort flag can never be set in time. A child process can be killed. One child per
PDF holds its own copy of the file and renders one page at a time; the parent waits in short steps (without the
interpreter lock), so it stays responsive, honours a cancel event and a time limit, and survives a renderer crash.
A killed or crashed child is started again for the next page.

The child is a fresh interpreter (``python -m glmocr_core.documents.render_process``; in a frozen app, the app's
own executable with ``RENDER_WORKER_FLAG``, which its entry point hands to ``main``), not a multiprocessing child:
that would re-run the parent's ``__main__`` script and inherit a process full of Qt and torch threads. Messages are
pickles over the child's stdin and stdout; a reader thread in the parent turns replies into a queue, which gives
a portable wait with a timeout. Where no child process can be started (a locked-down sandbox), pages render in this
process as before.
"""

from __future__ import annotations

import pickle
import queue
import atexit
import subprocess
import sys
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor

from PIL import Image

from ..errors import InputError

# A page that takes longer than this to render is given up (and named in the message). Generous: a dense vector
# map renders in seconds; only pathological pages come near it.
PAGE_RENDER_LIMIT_S = 120.0
# The child's address space; a page that needs more fails in the child instead of swapping the machine.
CHILD_MEMORY_LIMIT_BYTES = 6 << 30
_POLL_S = 0.05
_START_LIMIT_S = 60.0
RENDER_WORKER_FLAG = "--glmocr-render-worker"


class RenderStopped(InputError):
    """A page render ended early: cancelled by the caller, or over its time limit."""


class ChildUnavailable(RuntimeError):
    """No child process can be started here; the caller renders in its own process instead."""


def _limit_memory() -> None:
    try:
        import resource
    except ImportError:  # Windows: no rlimits (a Job object would be needed)
        return
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        wanted = CHILD_MEMORY_LIMIT_BYTES if hard == resource.RLIM_INFINITY else min(hard, CHILD_MEMORY_LIMIT_BYTES)
        resource.setrlimit(resource.RLIMIT_AS, (wanted, hard))
    except (ValueError, OSError):  # macOS refuses RLIMIT_AS; the page size bound still holds
        pass


def _die_with_parent() -> None:
    """Linux: the kernel kills this child when the parent dies, even by SIGKILL (a busy child cannot notice)."""
    if not sys.platform.startswith("linux"):
        return  # elsewhere the parent's atexit hook and its finalizers stop children
    try:
        import ctypes
        import signal

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGKILL))
    except (OSError, AttributeError):
        pass


def main() -> None:
    """The child: read the PDF once from stdin, then render (index, scale) requests until stdin closes."""
    _die_with_parent()
    import pymupdf

    pymupdf.TOOLS.mupdf_display_errors(False)
    pymupdf.TOOLS.mupdf_display_warnings(False)
    _limit_memory()
    requests, replies = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing else may write into the reply pipe
    try:
        pdf = pymupdf.open(stream=pickle.load(requests), filetype="pdf")
        _send(replies, ("ready",))
        while True:
            index, scale = pickle.load(requests)
            _send(replies, _render_one(pymupdf, pdf, index, scale))
    except (EOFError, BrokenPipeError):
        return


def _render_one(pymupdf, pdf, index: int, scale: float) -> tuple:
    try:
        pixmap = pdf.load_page(index).get_pixmap(matrix=pymupdf.Matrix(scale, scale), colorspace=pymupdf.csRGB,
                                                 alpha=False)
    except Exception as exc:  # noqa: BLE001 - any MuPDF fault is the page's problem, reported to the parent
        return ("error", str(exc) or type(exc).__name__)
    return ("ok", pixmap.width, pixmap.height, pixmap.samples)


def _send(stream, message) -> None:
    pickle.dump(message, stream, protocol=pickle.HIGHEST_PROTOCOL)
    stream.flush()


def worker_command() -> list[str]:
    if getattr(sys, "frozen", False):  # a bundled app: its executable knows the flag (see the module docstring)
        return [sys.executable, RENDER_WORKER_FLAG]
    return [sys.executable, "-m", __name__]


class _Child:
    """One running worker: the process, its request pipe, and the queue its replies arrive on."""

    def __init__(self, data: bytes):
        flags = subprocess.CREATE_NO_WINDOW if sys.platform == "win32" else 0
        try:
            self.process = _SPAWNER.submit(subprocess.Popen, worker_command(), stdin=subprocess.PIPE,
                                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                           creationflags=flags).result()
        except OSError as exc:
            raise ChildUnavailable(str(exc)) from exc
        self.replies: queue.Queue = queue.Queue()
        _LIVE_CHILDREN.add(self)
        threading.Thread(target=self._read, name="glmocr-pdf-render-reader", daemon=True).start()
        self.send(data)

    def send(self, message) -> None:
        _send(self.process.stdin, message)

    def _read(self) -> None:
        stream = self.process.stdout
        try:
            while True:
                self.replies.put(pickle.load(stream))
        except Exception:  # noqa: BLE001 - EOF or a torn pipe: the child is gone; the waiter sees None
            self.replies.put(None)

    def stop(self) -> None:
        # Kill first: the reader thread holds stdout's buffer lock while it waits, so closing stdout before the
        # child is gone would block until the page finished. The reader ends on EOF and closes nothing itself.
        if self.process.poll() is None:
            self.process.kill()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:  # pragma: no cover - a child that ignores SIGKILL is the kernel's problem
            pass
        try:
            self.process.stdin.close()
        except OSError:
            pass


# Children are started from one long-lived thread: Linux's parent-death signal fires when the *thread* that started
# a child ends, and pages are often rendered from short-lived threads (the command line's render thread, a pool).
_SPAWNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="glmocr-pdf-render-spawner")

# Every running child, so none outlives the parent: stopped at exit (Ctrl-C included) and when its document goes.
_LIVE_CHILDREN: "weakref.WeakSet[_Child]" = weakref.WeakSet()


@atexit.register
def _stop_all_children() -> None:
    for child in list(_LIVE_CHILDREN):
        child.stop()


class RenderProcess:
    """Renders pages of one PDF in a child process. Thread-safe: requests are served one at a time."""

    def __init__(self, data: bytes, source: str):
        self._data, self._source = data, source
        self._lock = threading.Lock()
        self._slot: list[_Child | None] = [None]  # shared with the finalizer, which must not hold self
        weakref.finalize(self, _stop_slot, self._slot)
        self.starts = 0  # how many children were started (a test and the log can tell a restart)
        self._closed = False

    @property
    def _child(self) -> _Child | None:
        return self._slot[0]

    @_child.setter
    def _child(self, child: _Child | None) -> None:
        self._slot[0] = child

    def render(self, index: int, scale: float, *, cancel: threading.Event | None = None,
               time_limit_s: float = PAGE_RENDER_LIMIT_S) -> Image.Image:
        self._acquire(cancel, index)
        try:
            if self._closed:
                raise InputError("the document is closed", self._source)
            child = self._ensure_child(cancel)
            try:
                child.send((index, scale))
            except OSError:
                self._stop_child()
                raise InputError(f"page {index + 1} crashed the PDF renderer", self._source) from None
            reply = self._wait(child, cancel, time_limit_s, f"rendering page {index + 1}")
            if reply is None:
                self._stop_child()
                if self._closed:
                    raise InputError("the document is closed", self._source)
                raise InputError(f"page {index + 1} crashed the PDF renderer", self._source)
        finally:
            self._lock.release()
        if reply[0] == "error":
            raise InputError(f"page {index + 1} could not be rendered ({reply[1]})", self._source)
        _, width, height, samples = reply
        return Image.frombytes("RGB", (width, height), samples)

    def _acquire(self, cancel, index: int) -> None:
        """Wait for the page ahead of this one, but stop waiting when this render is cancelled."""
        while not self._lock.acquire(timeout=_POLL_S):
            if cancel is not None and cancel.is_set():
                raise RenderStopped(f"rendering page {index + 1} was stopped", self._source)

    def close(self) -> None:
        """Stop the child now, without waiting for a render in progress (Ctrl-C closes documents mid-page); that
        render ends with "the document is closed"."""
        self._closed = True
        self._stop_child()

    @property
    def pid(self) -> int | None:
        return self._child.process.pid if self._child is not None else None

    def _wait(self, child: _Child, cancel, limit: float, what: str):
        deadline = time.monotonic() + limit
        while True:
            try:
                return child.replies.get(timeout=_POLL_S)
            except queue.Empty:
                pass
            if cancel is not None and cancel.is_set():
                self._stop_child()
                raise RenderStopped(f"{what} was stopped", self._source)
            if time.monotonic() > deadline:
                self._stop_child()
                raise RenderStopped(f"{what} took longer than {limit:g} s (a very complex page); it was skipped",
                                    self._source)

    def _ensure_child(self, cancel) -> _Child:
        if self._child is not None and self._child.process.poll() is None:
            return self._child
        self._stop_child()
        child = _Child(self._data)
        self._child = child
        self.starts += 1
        if self._wait(child, cancel, _START_LIMIT_S, "starting the PDF renderer") != ("ready",):
            self._stop_child()
            raise ChildUnavailable("the PDF render process did not start")
        return child

    def _stop_child(self) -> None:
        child, self._child = self._child, None
        if child is not None:
            child.stop()


def _stop_slot(slot: list) -> None:
    child, slot[0] = slot[0], None
    if child is not None:
        child.stop()


if __name__ == "__main__":
    main()
