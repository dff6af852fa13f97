"""Runs glmocr_core.checkpoint.download.download_model on a background thread and reports back with queued Qt signals.

The GUI thread only starts, cancels and listens; it never waits on the network or the disk.

The thread is a daemon ``threading.Thread`` rather than a QThread on purpose: a transfer stuck in a network read
cannot be interrupted, and a QThread still running when Qt tears down aborts the whole process. A daemon thread
simply ends with the process; its partial file stays on disk and the next download resumes it.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from PySide6.QtCore import QObject, Signal

from glmocr_core.errors import DownloadCancelled, GlmOcrError

log = logging.getLogger(__name__)
PROGRESS_INTERVAL_S = 0.1  # at most ~10 progress updates a second reach the GUI
SHUTDOWN_WAIT_S = 3.0

Downloader = Callable[..., object]  # the signature of glmocr_core.checkpoint.download.download_model


def download_model(**request):
    """The real download, imported on first use: its HTTP client is not needed to show the window."""
    from glmocr_core.checkpoint.download import download_model as download

    return download(**request)


class DownloadController(QObject):
    """One download at a time. Signals are emitted from the download thread and arrive queued on the GUI thread."""

    # Sizes exceed 2**31, so they travel as Python objects rather than C++ ints.
    progress = Signal(object, object, float, float)  # bytes done, bytes total, bytes/s, seconds left
    status = Signal(str)
    succeeded = Signal(str)  # model folder
    failed = Signal(str)  # readable message
    cancelled = Signal()
    running_changed = Signal(bool)
    _thread_done = Signal(str, object)  # the outcome ("succeeded", "failed", "cancelled") and its payload

    def __init__(self, downloader: Downloader | None = None, parent=None):
        super().__init__(parent)
        self._downloader = downloader or download_model
        self._thread: threading.Thread | None = None
        self._cancel = threading.Event()
        self._last_progress = 0.0
        self._thread_done.connect(self._on_thread_done)

    def is_running(self) -> bool:
        return self._thread is not None

    def start(self, repo_id: str, revision: str, endpoint: str | None, target_dir: str, kind: str | None = None) -> bool:
        """``kind``: which published model (``glmocr_core.checkpoint.hub.HUB_MODELS``); None: GLM-OCR."""
        if self.is_running():
            return False
        self._cancel = threading.Event()
        request = dict(repo_id=repo_id, revision=revision, endpoint=endpoint or None, target_dir=target_dir)
        if kind is not None:
            request["kind"] = kind
        log.info("model download: %s@%s into %s (endpoint %s)", repo_id, revision, target_dir, endpoint or "default")
        self._thread = threading.Thread(target=self._run, args=(request, self._cancel), name="model-download",
                                        daemon=True)
        self._thread.start()
        self.running_changed.emit(True)
        return True

    def cancel(self) -> None:
        """Asks the download to stop; it does so at the next chunk, keeping the partial file for a resume."""
        self._cancel.set()

    def shutdown(self) -> None:
        """Cancel and wait briefly (the app is quitting); a transfer stuck in the network ends with the process."""
        self.cancel()
        thread = self._thread
        if thread is not None:
            thread.join(SHUTDOWN_WAIT_S)

    # --- on the download thread -----------------------------------------------------------------------------------

    def _run(self, request: dict, cancel: threading.Event) -> None:
        outcome: tuple[str, object] = ("failed", "The download stopped before it could say why")
        try:
            folder = self._downloader(**request, progress=self._on_progress, cancel=cancel,
                                      status=lambda text: self._emit(self.status, text))
        except DownloadCancelled:
            outcome = ("cancelled", None)
        except GlmOcrError as exc:
            outcome = ("failed", str(exc))
        except Exception as exc:  # a bug or an unexpected library error: say so, never crash the window
            log.exception("model download failed")
            outcome = ("failed", f"The download stopped because of an unexpected error: {exc}")
        else:
            outcome = ("succeeded", str(folder))
        finally:
            self._emit(self._thread_done, *outcome)

    def _on_progress(self, done: int, total: int, speed: float, eta: float) -> None:
        now = time.monotonic()
        if done >= total or now - self._last_progress >= PROGRESS_INTERVAL_S:
            self._last_progress = now
            self._emit(self.progress, done, total, speed, eta)

    @staticmethod
    def _emit(signal, *args) -> None:
        try:
            signal.emit(*args)
        except RuntimeError:  # the controller was deleted (window closed): nobody is listening any more
            pass

    # --- back on the GUI thread -----------------------------------------------------------------------------------

    def _on_thread_done(self, outcome: str, payload) -> None:
        """The outcome is announced once the download counts as over: whoever hears "succeeded" and asks
        ``is_running`` (a model folder's state) already gets False. Two queued signals from the thread left a
        moment where a finished download still said "downloading"."""
        self._thread = None
        self.running_changed.emit(False)
        if outcome == "succeeded":
            self.succeeded.emit(payload)
        elif outcome == "cancelled":
            self.cancelled.emit()
        else:
            self.failed.emit(payload)
