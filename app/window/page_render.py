"""Rendering document pages off the GUI thread (QThreadPool), for the page view and the thumbnails.

Workers produce QImage (safe outside the GUI thread); the GUI turns it into a QPixmap. Each request carries a
``ticket`` so the requester can drop results that a newer request (another zoom, another page) made stale.
"""

from __future__ import annotations

from PIL import Image
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtGui import QImage

MAX_RENDER_PIXELS = 40_000_000  # ~160 MB as RGBA; deeper zoom shows a scaled-up render instead


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


class _RenderTask(QRunnable):
    def __init__(self, document, page: int, scale: float, ticket, signals: _RenderSignals):
        super().__init__()
        self.document, self.page, self.scale, self.ticket, self.signals = document, page, scale, ticket, signals

    def run(self) -> None:
        try:
            image = self.document.render(self.page, self.scale)
            self.signals.done.emit(self.ticket, self.page, pil_to_qimage(image), self.scale)
        except Exception as exc:  # noqa: BLE001 - a closed or damaged document shows a message, not a crash
            self.signals.failed.emit(self.ticket, self.page, str(exc))


class PageRenderer(QObject):
    """Queues page renders on a thread pool and re-emits the results in the GUI thread."""

    rendered = Signal(object, int, object, float)  # ticket, page, QImage, scale
    failed = Signal(object, int, str)

    def __init__(self, parent=None, pool: QThreadPool | None = None):
        super().__init__(parent)
        self.pool = pool or QThreadPool.globalInstance()
        self._signals = _RenderSignals()
        self._signals.done.connect(self.rendered)
        self._signals.failed.connect(self.failed)

    def request(self, document, page: int, scale: float, ticket=None) -> None:
        scale = capped_scale(document.page_size(page), scale)
        self.pool.start(_RenderTask(document, page, scale, ticket, self._signals))
