"""The page view: one page of the document, zoom and pan, and the regions drawn on it.

Scene coordinates are page units (pixels for images, points for PDFs), the same units regions are stored in,
so a region's box is simply its rectangle in the scene. The page picture is rendered in the background at
``zoom × devicePixelRatio`` pixels per page unit and scaled back into page units, so it is sharp on HiDPI screens
and stays sharp when the zoom changes (a new render is requested after a short pause).
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QCursor, QFont, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (QGraphicsItem, QGraphicsPixmapItem, QGraphicsRectItem, QGraphicsScene,
                               QGraphicsView, QPushButton)

from app.document.model import IN_PROGRESS_STATES, QUEUED, clip_box
from app.window.page_render import PageRenderer
from app.task_style import STATE_SYMBOLS, TASK_COLORS, TASK_LABELS

ZOOM_STEP = 1.25
MIN_ZOOM, MAX_ZOOM = 0.05, 16.0
RERENDER_DELAY_MS = 120
HANDLE_PX = 8  # resize handle size on screen, whatever the zoom
LEFT_OUT_OPACITY = 0.4  # a region left out of the document (an abandoned header, footer ...) is drawn dimmed
PICTURE_COLOR = "#7f7f7f"  # pictures are kept as crops, never read: no task colour
MIN_DRAG_PX = 4  # smaller drags are clicks, not regions
PAGE_MARGIN = 24  # screen-independent margin around the page, in page units at zoom 1

NO_AREA_HINT = "No region made: drag a rectangle over the page (a click or a drag outside the page is ignored)."


def _view_scale(item: QGraphicsItem) -> float:
    views = item.scene().views() if item.scene() else []
    return views[0].transform().m11() if views else 1.0


class RegionItem(QGraphicsRectItem):
    """A region rectangle: select, move with the mouse, resize from corners and edges."""

    def __init__(self, region_id: str, box, task: str, label: str = ""):
        x0, y0, x1, y1 = box
        super().__init__(0, 0, x1 - x0, y1 - y0)
        self.region_id, self.task, self.label, self.state = region_id, task, label, QUEUED
        self.kind = ""  # the layout's label ("doc_title", "header" ...), shown in the tag
        self.picture = self.left_out = False
        self.setPos(x0, y0)
        self.setFlags(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable | QGraphicsItem.GraphicsItemFlag.ItemIsMovable
                      | QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges)
        self.setAcceptHoverEvents(True)
        self.setZValue(10)
        self._resize_edges: tuple[bool, bool, bool, bool] | None = None  # left, top, right, bottom
        self._geometry_at_press = None

    def box(self) -> tuple[float, float, float, float]:
        rect = self.mapRectToScene(self.rect())
        return (rect.left(), rect.top(), rect.right(), rect.bottom())

    def set_box(self, box) -> None:
        x0, y0, x1, y1 = box
        self.prepareGeometryChange()
        self.setRect(0, 0, x1 - x0, y1 - y0)
        self.setPos(x0, y0)

    def set_look(self, task: str, state: str, label: str) -> None:
        self.task, self.state, self.label = task, state, label
        self.update()

    def set_layout(self, kind: str, picture: bool, left_out: bool) -> None:
        """What the layout model said of the region: its label, a picture, left out of the document (dimmed)."""
        self.kind, self.picture, self.left_out = kind, picture, left_out
        self.setOpacity(LEFT_OUT_OPACITY if left_out else 1.0)
        self.update()

    # --- painting ------------------------------------------------------------------------

    def paint(self, painter: QPainter, option, widget=None) -> None:
        color = QColor(PICTURE_COLOR if self.picture else TASK_COLORS.get(self.task, "#0072B2"))
        selected = self.isSelected()
        pen = QPen(color, 3 if selected else 2)
        pen.setCosmetic(True)  # constant width on screen at any zoom
        if self.left_out or self.picture:
            pen.setStyle(Qt.PenStyle.DotLine)
        elif self.state in IN_PROGRESS_STATES:
            pen.setStyle(Qt.PenStyle.DashLine)
        fill = QColor(color)
        fill.setAlpha(55 if selected else 28)
        painter.setPen(pen)
        painter.setBrush(fill)
        painter.drawRect(self.rect())
        self._paint_tag(painter, color)
        if selected:
            self._paint_handles(painter, color)

    def _paint_tag(self, painter: QPainter, color: QColor) -> None:
        """A small label above the top-left corner: "#2 Formula ✓", kept readable at any zoom."""
        scale = _view_scale(self)
        painter.save()
        painter.translate(self.rect().topLeft())
        painter.scale(1 / scale, 1 / scale)
        font = QFont()
        font.setPointSizeF(8.5)
        font.setBold(True)
        painter.setFont(font)
        text = " ".join(part for part in (self.label, *self._tag_words()) if part)
        metrics = painter.fontMetrics()
        tag = QRectF(0, -metrics.height() - 4, metrics.horizontalAdvance(text) + 10, metrics.height() + 4)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(color)
        painter.drawRoundedRect(tag, 3, 3)
        painter.setPen(QColor("white"))
        painter.drawText(tag, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()

    def _tag_words(self) -> tuple[str, ...]:
        if self.picture:
            return (self.kind or "picture",)
        if self.left_out:
            return (self.kind, "left out")
        task = TASK_LABELS.get(self.task, self.task)
        return (self.kind, task, STATE_SYMBOLS.get(self.state, "")) if self.kind else (task, STATE_SYMBOLS.get(self.state, ""))

    def _paint_handles(self, painter: QPainter, color: QColor) -> None:
        size = HANDLE_PX / _view_scale(self)
        painter.setBrush(QColor("white"))
        pen = QPen(color, 1.5)
        pen.setCosmetic(True)
        painter.setPen(pen)
        for point in self._handle_points():
            painter.drawRect(QRectF(point.x() - size / 2, point.y() - size / 2, size, size))

    def _handle_points(self) -> list[QPointF]:
        r = self.rect()
        xs, ys = (r.left(), r.center().x(), r.right()), (r.top(), r.center().y(), r.bottom())
        return [QPointF(x, y) for x in xs for y in ys if (x, y) != (xs[1], ys[1])]

    def boundingRect(self) -> QRectF:
        pad = (HANDLE_PX + 2) / max(_view_scale(self), 1e-6)
        tag = 22 / max(_view_scale(self), 1e-6)
        return self.rect().adjusted(-pad, -pad - tag, pad, pad)

    # --- resizing ------------------------------------------------------------------------

    def _edges_at(self, pos: QPointF) -> tuple[bool, bool, bool, bool] | None:
        if not self.isSelected():
            return None
        grip = HANDLE_PX / _view_scale(self)
        r = self.rect()
        if not r.adjusted(-grip, -grip, grip, grip).contains(pos):
            return None
        edges = (abs(pos.x() - r.left()) <= grip, abs(pos.y() - r.top()) <= grip,
                 abs(pos.x() - r.right()) <= grip, abs(pos.y() - r.bottom()) <= grip)
        return edges if any(edges) else None

    def hoverMoveEvent(self, event) -> None:
        edges = self._edges_at(event.pos())
        self.setCursor(_cursor_for(edges))
        super().hoverMoveEvent(event)

    def mousePressEvent(self, event) -> None:
        self._geometry_at_press = self.box()
        self._resize_edges = self._edges_at(event.pos()) if event.button() == Qt.MouseButton.LeftButton else None
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        if self._resize_edges is None:
            super().mouseMoveEvent(event)
            return
        self.set_box(self._resized_box(event.scenePos()))

    def _resized_box(self, point: QPointF):
        left, top, right, bottom = self._resize_edges
        x0, y0, x1, y1 = self.box()
        page = self.scene().page_rect if hasattr(self.scene(), "page_rect") else QRectF(x0, y0, x1 - x0, y1 - y0)
        px = min(max(point.x(), page.left()), page.right())
        py = min(max(point.y(), page.top()), page.bottom())
        x0, x1 = (px if left else x0), (px if right else x1)
        y0, y1 = (py if top else y0), (py if bottom else y1)
        return (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))

    def mouseReleaseEvent(self, event) -> None:
        super().mouseReleaseEvent(event)
        self._resize_edges = None
        if self._geometry_at_press is not None and self.box() != self._geometry_at_press:
            scene = self.scene()
            if hasattr(scene, "region_edited"):
                scene.region_edited.emit(self.region_id, self.box())
        self._geometry_at_press = None

    def itemChange(self, change, value):
        """Keep the region on the page while it is dragged."""
        scene = self.scene()
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionChange and hasattr(scene, "page_rect"):
            page, r = scene.page_rect, self.rect()
            x = min(max(value.x(), page.left()), page.right() - r.width())
            y = min(max(value.y(), page.top()), page.bottom() - r.height())
            return QPointF(x, y)
        return super().itemChange(change, value)


def _cursor_for(edges) -> QCursor:
    if edges is None:
        return QCursor(Qt.CursorShape.SizeAllCursor)
    left, top, right, bottom = edges
    if (left and top) or (right and bottom):
        return QCursor(Qt.CursorShape.SizeFDiagCursor)
    if (right and top) or (left and bottom):
        return QCursor(Qt.CursorShape.SizeBDiagCursor)
    return QCursor(Qt.CursorShape.SizeHorCursor if (left or right) else Qt.CursorShape.SizeVerCursor)


class PageScene(QGraphicsScene):
    region_edited = Signal(str, object)  # region_id, new box (moved or resized)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.page_rect = QRectF(0, 0, 1, 1)


class PageView(QGraphicsView):
    """Shows one page, its regions, and turns mouse drags into new regions."""

    region_drawn = Signal(int, object)  # page, box in page units
    region_edited = Signal(str, object)  # region_id, box
    selection_changed = Signal(str)  # region id, or "" when nothing is selected
    hint = Signal(str)
    zoom_changed = Signal(float)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setAccessibleName("Page view")
        self.setAccessibleDescription("The current page. Drag a rectangle to make a region.")
        self.scene_ = PageScene(self)
        self.setScene(self.scene_)
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.SmoothPixmapTransform)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.FullViewportUpdate)
        self.setBackgroundBrush(self.palette().dark())
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.document, self.page = None, 0
        self.zoom, self.fit_mode = 1.0, "page"  # "page", "width" or None (a zoom the user chose)
        self.items_by_id: dict[str, RegionItem] = {}
        self._page_item = QGraphicsRectItem()
        self._pixmap_item = QGraphicsPixmapItem()
        self._pixmap_item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self._rubber: QGraphicsRectItem | None = None
        self._drag_origin: QPointF | None = None
        self._pan_from = None
        self._space_down = False
        self._ticket = 0
        self._rendered_scale = 0.0
        self.renderer = PageRenderer(self, latest_only=True)
        self.renderer.rendered.connect(self._on_rendered)
        self.renderer.failed.connect(self._on_render_failed)
        self.renderer.slow.connect(self._on_render_slow)
        self.skip_button = QPushButton(self.viewport())  # offered while a very complex page renders
        self.skip_button.setAccessibleName("Skip rendering this page")
        self.skip_button.clicked.connect(self.skip_render)
        self.skip_button.hide()
        self._render_timer = QTimer(self, singleShot=True, interval=RERENDER_DELAY_MS)
        self._render_timer.timeout.connect(self._request_render)
        self.scene_.region_edited.connect(self.region_edited)
        self.scene_.selectionChanged.connect(self._emit_selection)
        self._reset_scene()

    # --- document and page ---------------------------------------------------------------

    def _reset_scene(self) -> None:
        self.scene_.clear()
        self.items_by_id.clear()
        self._page_item = QGraphicsRectItem()
        self._page_item.setPen(QPen(Qt.PenStyle.NoPen))
        self._page_item.setBrush(QBrush(QColor("white")))
        self._page_item.setZValue(0)
        self._pixmap_item = QGraphicsPixmapItem()
        self._pixmap_item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self._pixmap_item.setZValue(1)
        self.scene_.addItem(self._page_item)
        self.scene_.addItem(self._pixmap_item)

    def set_document(self, document, page: int = 0) -> None:
        self.document = document
        self.show_page(page)

    def show_page(self, page: int) -> None:
        self._reset_scene()
        self.page, self._rendered_scale = page, 0.0
        if self.document is None:
            return
        width, height = self.document.page_size(page)
        self.scene_.page_rect = QRectF(0, 0, width, height)
        self._page_item.setRect(self.scene_.page_rect)
        margin = PAGE_MARGIN * max(width, height) / 800
        self.scene_.setSceneRect(self.scene_.page_rect.adjusted(-margin, -margin, margin, margin))
        self._apply_fit()
        self._request_render()

    # --- regions -------------------------------------------------------------------------

    def set_regions(self, regions, labels: dict[str, str]) -> None:
        """Show ``regions`` (those on the current page), replacing what was shown."""
        for item in list(self.items_by_id.values()):
            self.scene_.removeItem(item)
        self.items_by_id.clear()
        for region in regions:
            self.upsert_region(region, labels.get(region.id, ""))

    def upsert_region(self, region, label: str = "") -> RegionItem:
        item = self.items_by_id.get(region.id)
        if item is None:
            item = RegionItem(region.id, region.box, region.task)
            self.items_by_id[region.id] = item
            self.scene_.addItem(item)
        elif item.box() != tuple(region.box):
            item.set_box(region.box)
        item.set_look(region.task, region.state, label)
        item.set_layout(region.label or "", region.is_picture, region.excluded)
        return item

    def remove_region(self, region_id: str) -> None:
        item = self.items_by_id.pop(region_id, None)
        if item is not None:
            self.scene_.removeItem(item)

    def select_region(self, region_id: str | None) -> None:
        blocker = self.scene_.blockSignals(True)
        self.scene_.clearSelection()
        item = self.items_by_id.get(region_id or "")
        if item is not None:
            item.setSelected(True)
            self.ensureVisible(item, 40, 40)
        self.scene_.blockSignals(blocker)

    def selected_region_id(self) -> str:
        selected = [i for i in self.scene_.selectedItems() if isinstance(i, RegionItem)]
        return selected[0].region_id if selected else ""

    def _emit_selection(self) -> None:
        self.selection_changed.emit(self.selected_region_id())

    # --- zoom ----------------------------------------------------------------------------

    def set_zoom(self, zoom: float, fit_mode: str | None = None) -> None:
        self.fit_mode = fit_mode
        zoom = min(max(zoom, MIN_ZOOM), MAX_ZOOM)
        self.setTransform(self.transform().fromScale(zoom, zoom))
        self.zoom = zoom
        self.zoom_changed.emit(zoom)
        self._render_timer.start()

    def zoom_in(self) -> None:
        self.zoom_by(ZOOM_STEP)

    def zoom_out(self) -> None:
        self.zoom_by(1 / ZOOM_STEP)

    def zoom_by(self, factor: float) -> None:
        self.set_zoom(self.zoom * factor)

    def fit_page(self) -> None:
        self.fit_mode = "page"
        self._apply_fit()

    def fit_width(self) -> None:
        self.fit_mode = "width"
        self._apply_fit()

    def actual_size(self) -> None:
        self.set_zoom(1.0)

    def _apply_fit(self) -> None:
        page = self.scene_.sceneRect()
        if self.fit_mode is None or page.width() <= 0 or page.height() <= 0:
            return
        viewport = self.viewport().size()
        scrollbar = self.style().pixelMetric(self.style().PixelMetric.PM_ScrollBarExtent)
        width_zoom = (viewport.width() - scrollbar) / page.width()
        zoom = width_zoom if self.fit_mode == "width" else min(width_zoom, viewport.height() / page.height())
        self.set_zoom(zoom, self.fit_mode)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._apply_fit()
        self._place_skip_button()

    # --- rendering -----------------------------------------------------------------------

    def _wanted_scale(self) -> float:
        return self.zoom * self.devicePixelRatioF()

    def _request_render(self) -> None:
        if self.document is None:
            return
        wanted = self._wanted_scale()
        if self._rendered_scale and 0.8 <= self._rendered_scale / wanted <= 1.25:
            return  # close enough: smooth scaling hides the difference
        self._ticket += 1
        self.skip_button.hide()
        self.renderer.request(self.document, self.page, wanted, ticket=self._current_ticket())

    def _current_ticket(self) -> tuple:
        return (id(self.document), self.page, self._ticket)

    def _on_render_slow(self, ticket, page: int) -> None:
        if ticket != self._current_ticket():
            return
        self.skip_button.setText(f"Page {page + 1} is slow to render (a very complex page). Skip it")
        self.skip_button.adjustSize()
        self._place_skip_button()
        self.skip_button.show()

    def skip_render(self) -> None:
        """Stop the page's render in progress; regions, OCR and other pages keep working."""
        self.skip_button.hide()
        self.renderer.cancel_all()

    def _place_skip_button(self) -> None:
        area, size = self.viewport().rect(), self.skip_button.size()
        self.skip_button.move(max(0, (area.width() - size.width()) // 2), max(0, (area.height() - size.height()) // 2))

    def _on_rendered(self, ticket, page: int, image, scale: float) -> None:
        if ticket != self._current_ticket():
            return  # another page, document or zoom was asked for since
        self.skip_button.hide()
        self._pixmap_item.setPixmap(QPixmap.fromImage(image))
        self._pixmap_item.setScale(1.0 / scale)  # image pixels -> page units
        self._rendered_scale = scale

    def _on_render_failed(self, ticket, page: int, message: str) -> None:
        if ticket == self._current_ticket():  # not a page of a document closed since
            self.skip_button.hide()
            self.hint.emit(f"Page {page + 1}: {message}")

    def is_rendered(self) -> bool:
        return self._rendered_scale > 0

    # --- mouse: draw regions, pan, zoom --------------------------------------------------

    def wheelEvent(self, event) -> None:
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            steps = event.angleDelta().y() / 120
            if steps:
                self.zoom_by(ZOOM_STEP ** steps)
            event.accept()
            return
        super().wheelEvent(event)

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_down = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_down = False
            self.viewport().unsetCursor()
        super().keyReleaseEvent(event)

    def mousePressEvent(self, event) -> None:
        wants_pan = event.button() == Qt.MouseButton.MiddleButton or (
            event.button() == Qt.MouseButton.LeftButton and self._space_down)
        if wants_pan:
            self._pan_from = event.position()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        if event.button() == Qt.MouseButton.LeftButton and self.document is not None and not self._region_at(event):
            self.scene_.clearSelection()
            self._drag_origin = self.mapToScene(event.position().toPoint())
            event.accept()
            return
        super().mousePressEvent(event)

    def _region_at(self, event) -> bool:
        return any(isinstance(item, RegionItem) for item in self.items(event.position().toPoint()))

    def mouseMoveEvent(self, event) -> None:
        if self._pan_from is not None:
            delta = event.position() - self._pan_from
            self._pan_from = event.position()
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - int(delta.x()))
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - int(delta.y()))
            return
        if self._drag_origin is not None:
            self._show_rubber(QRectF(self._drag_origin, self.mapToScene(event.position().toPoint())).normalized())
            return
        super().mouseMoveEvent(event)

    def _show_rubber(self, rect: QRectF) -> None:
        if self._rubber is None:
            self._rubber = QGraphicsRectItem()
            pen = QPen(self.palette().highlight().color(), 1.5, Qt.PenStyle.DashLine)
            pen.setCosmetic(True)
            self._rubber.setPen(pen)
            self._rubber.setZValue(100)
            self.scene_.addItem(self._rubber)
        self._rubber.setRect(rect)

    def mouseReleaseEvent(self, event) -> None:
        if self._pan_from is not None:
            self._pan_from = None
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor if self._space_down else Qt.CursorShape.ArrowCursor)
            return
        if self._drag_origin is not None and event.button() == Qt.MouseButton.LeftButton:
            self._finish_drag(self.mapToScene(event.position().toPoint()))
            return
        super().mouseReleaseEvent(event)

    def _finish_drag(self, end: QPointF) -> None:
        start, self._drag_origin = self._drag_origin, None
        if self._rubber is not None:
            self.scene_.removeItem(self._rubber)
            self._rubber = None
        rect = QRectF(start, end).normalized()
        too_small = min(rect.width(), rect.height()) * self.zoom < MIN_DRAG_PX
        page = self.scene_.page_rect
        box = None if too_small else clip_box((rect.left(), rect.top(), rect.right(), rect.bottom()),
                                              (page.width(), page.height()))
        if box is None:
            if rect.width() * self.zoom >= 1 or rect.height() * self.zoom >= 1 or not page.contains(start):
                self.hint.emit(NO_AREA_HINT)
            return
        self.region_drawn.emit(self.page, box)
