"""Runs glmocr_core.model_files.download_model on a QThread and reports back with queued signals.

The GUI thread only starts, cancels and listens; it never waits on the network or the disk.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

import shiboken6
from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal

from glmocr_core import model_files
from glmocr_core.errors import GlmOcrError

log = logging.getLogger(__name__)
PROGRESS_INTERVAL_S = 0.1  # at most ~10 progress updates a second reach the GUI
SHUTDOWN_WAIT_MS = 3000

Downloader = Callable[..., object]  # the signature of model_files.download_model


class _DownloadThread(QThread):
    # Sizes exceed 2**31, so they travel as Python objects rather than C++ ints.
    progress = Signal(object, object, float, float)  # bytes done, bytes total, bytes/s, seconds left
    status = Signal(str)
    succeeded = Signal(str)  # model folder
    failed = Signal(str)  # readable message
    cancelled = Signal()

    def __init__(self, downloader: Downloader, request: dict, cancel: threading.Event):
        super().__init__()
        self.downloader, self.request, self.cancel = downloader, request, cancel
        self._last_emit = 0.0

    def run(self) -> None:
        try:
            folder = self.downloader(**self.request, progress=self._on_progress, cancel=self.cancel,
                                     status=self.status.emit)
        except model_files.DownloadCancelled:
            self.cancelled.emit()
        except GlmOcrError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # a bug or an unexpected library error: say so, never crash the window
            log.exception("model download failed")
            self.failed.emit(f"The download stopped because of an unexpected error: {exc}")
        else:
            self.succeeded.emit(str(folder))

    def _on_progress(self, done: int, total: int, speed: float, eta: float) -> None:
        now = time.monotonic()
        if done >= total or now - self._last_emit >= PROGRESS_INTERVAL_S:
            self._last_emit = now
            self.progress.emit(done, total, speed, eta)


class DownloadController(QObject):
    """One download at a time. Signals mirror the thread's, re-emitted on the GUI thread."""

    progress = Signal(object, object, float, float)
    status = Signal(str)
    succeeded = Signal(str)
    failed = Signal(str)
    cancelled = Signal()
    running_changed = Signal(bool)

    def __init__(self, downloader: Downloader | None = None, parent=None):
        super().__init__(parent)
        self._downloader = downloader or model_files.download_model
        self._thread: _DownloadThread | None = None
        self._cancel = threading.Event()

    def is_running(self) -> bool:
        thread = self._thread
        return thread is not None and shiboken6.isValid(thread) and thread.isRunning()

    def start(self, repo_id: str, revision: str, endpoint: str | None, target_dir: str) -> bool:
        if self.is_running():
            return False
        self._cancel = threading.Event()
        request = dict(repo_id=repo_id, revision=revision, endpoint=endpoint or None, target_dir=target_dir)
        log.info("model download: %s@%s into %s (endpoint %s)", repo_id, revision, target_dir, endpoint or "default")
        self._thread = thread = _DownloadThread(self._downloader, request, self._cancel)
        thread.progress.connect(self.progress)
        thread.status.connect(self.status)
        thread.succeeded.connect(self.succeeded)
        thread.failed.connect(self.failed)
        thread.cancelled.connect(self.cancelled)
        thread.finished.connect(self._on_thread_finished)
        # Owned by the application, not by this controller: a QThread destroyed while running aborts the process,
        # and the dialog holding this controller may be destroyed first when the window closes mid-download.
        thread.setParent(QCoreApplication.instance())
        thread.finished.connect(thread.deleteLater)
        thread.start()
        self.running_changed.emit(True)
        return True

    def cancel(self) -> None:
        """Asks the download to stop; it does so at the next chunk, keeping the partial file for a resume."""
        self._cancel.set()

    def shutdown(self) -> None:
        """Cancel and wait briefly (window closing). A transfer stuck in the network is left to its timeout."""
        self.cancel()
        thread = self._thread
        if thread is not None and shiboken6.isValid(thread) and not thread.wait(SHUTDOWN_WAIT_MS):
            log.warning("download thread still running at shutdown; it stops at its next network read")

    def _on_thread_finished(self) -> None:
        self._thread = None  # the thread deletes itself (deleteLater, connected in start)
        self.running_changed.emit(False)
