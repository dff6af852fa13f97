"""Rendering document pages off the GUI thread (QThreadPool), for the page view and the thumbnails.

Workers produce QImage (safe outside the GUI thread); the GUI turns it into a QPixmap. Each request carries a
``ticket`` so the requester can drop results that a newer request (another zoom, another page) made stale, and can
stop a render: PDF pages render in a child process (glmocr_core.documents.render_process), so a page that takes
minutes neither freezes the window nor has to be waited for. A render still running after SLOW_RENDER_NOTICE_S is
announced with ``slow`` so the view can offer to skip it.
"""

from __future__ import annotations

import threading

from PIL import Image
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtGui import QImage

MAX_RENDER_PIXELS = 40_000_000  # ~160 MB as RGBA; deeper zoom shows a scaled-up render instead
SLOW_RENDER_NOTICE_S = 2.0


def pil_to_qimage(image: Image.Image) -> QImage:
    """Copy an RGB PIL image into a QImage that owns its pixels."""
    rgb = image.convert("RGB")
    data = rgb.tobytes("raw", "RGB")
    qimage = QImage(data, rgb.width, rgb.height, 3 * rgb.width, QImage.Format.Format_RGB888)
    return qimage.copy()  # detach from the Python buffer before it is freed


def capped_scale(page_size: tuple[float, float], scale: float) -> float:
    """Lower ``scale`` so the render stays under MAX_RENDER_PIXELS."""
    width, height = page_size
    pixels = width * height * scale * scale
    if pixels <= MAX_RENDER_PIXELS:
        return scale
    return scale * (MAX_RENDER_PIXELS / pixels) ** 0.5


class _RenderSignals(QObject):
    done = Signal(object, int, object, float)  # ticket, page, QImage, scale
    failed = Signal(object, int, str)  # ticket, page, message
    slow = Signal(object, int)  # ticket, page: still rendering after SLOW_RENDER_NOTICE_S


class _Stops:
    """How a request is stopped: ``cancel`` even mid-render, ``superseded`` only before it starts. Kept apart from
    the QRunnable, which the pool deletes when it has run."""

    def __init__(self, target: tuple):
        self.target = target  # (id(document), page)
        self.cancel, self.superseded = threading.Event(), threading.Event()


class _RenderTask(QRunnable):
    def __init__(self, document, page: int, scale: float, ticket, signals: _RenderSignals, stops: _Stops):
        super().__init__()
        self.document, self.page, self.scale, self.ticket, self.signals = document, page, scale, ticket, signals
        self.cancel, self.superseded = stops.cancel, stops.superseded

    def run(self) -> None:
        if self.cancel.is_set() or self.superseded.is_set():
            return  # stopped, or a newer request made it stale, before it started
        notice = threading.Timer(SLOW_RENDER_NOTICE_S, self.signals.slow.emit, (self.ticket, self.page))
        notice.daemon = True
        notice.start()
        try:
            image = self.document.render(self.page, self.scale, cancel=self.cancel)
            self.signals.done.emit(self.ticket, self.page, pil_to_qimage(image), self.scale)
        except Exception as exc:  # noqa: BLE001 - a closed or damaged document shows a message, not a crash
            self.signals.failed.emit(self.ticket, self.page, str(exc))
        finally:
            notice.cancel()


class PageRenderer(QObject):
    """Queues page renders on a thread pool and re-emits the results in the GUI thread.

    With ``latest_only`` (the page view) a new request supersedes the ones not yet started, and stops those of
    another page or document even mid-render; a render of the same page at another zoom goes on (restarting a child
    costs more than finishing an ordinary page) unless asked (``cancel``, ``cancel_all``)."""

    rendered = Signal(object, int, object, float)  # ticket, page, QImage, scale
    failed = Signal(object, int, str)
    slow = Signal(object, int)

    def __init__(self, parent=None, pool: QThreadPool | None = None, latest_only: bool = False):
        super().__init__(parent)
        self.pool = pool or QThreadPool.globalInstance()
        self.latest_only = latest_only
        self._stops: dict[object, _Stops] = {}
        self._signals = _RenderSignals()
        self._signals.done.connect(self._on_done)
        self._signals.failed.connect(self._on_failed)
        self._signals.slow.connect(self.slow)

    def request(self, document, page: int, scale: float, ticket=None) -> None:
        scale = capped_scale(document.page_size(page), scale)
        if self.latest_only:
            for stops in self._stops.values():
                stops.superseded.set()
                if stops.target != (id(document), page):
                    stops.cancel.set()  # another page or document: the old one's render is of no use any more
        stops = self._stops[ticket] = _Stops((id(document), page))
        self.pool.start(_RenderTask(document, page, scale, ticket, self._signals, stops))

    def cancel(self, ticket) -> None:
        """Stop the render of ``ticket``, even one in progress (the view's "Skip page")."""
        stops = self._stops.pop(ticket, None)
        if stops is not None:
            stops.cancel.set()

    def cancel_all(self) -> None:
        """Stop every render this renderer asked for (a skipped page may have several zooms in flight)."""
        for ticket in list(self._stops):
            self.cancel(ticket)

    def _on_done(self, ticket, page: int, image, scale: float) -> None:
        self._stops.pop(ticket, None)
        self.rendered.emit(ticket, page, image, scale)

    def _on_failed(self, ticket, page: int, message: str) -> None:
        self._stops.pop(ticket, None)
        self.failed.emit(ticket, page, message)
