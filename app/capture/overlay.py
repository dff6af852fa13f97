"""The frozen screen: one frameless full-screen window per screen showing the grabbed picture, with a rectangle to drag.

The user drags a rectangle (its size in the picture's pixels shown beside it), picks the task with keys 1–4 or the
small bar at the top, and confirms with the mouse release or Enter; Esc cancels. The overlay only reports the
rectangle in its own logical coordinates (``selected``); cutting the picture is ``geometry.crop_rect``'s job, so what
the user sees framed is exactly what the engine reads.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRect, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QKeyEvent, QMouseEvent, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QButtonGroup, QHBoxLayout, QLabel, QToolButton, QWidget

from glmocr_core.api import TASKS

from app.capture.geometry import Rect, ScreenLayout, Selection, crop_rect, size_label
from app.task_style import TASK_COLORS, TASK_LABELS, TASK_SHORTCUTS

MIN_DRAG = 3.0  # logical pixels: a smaller drag is a click, not a rectangle
DIM = QColor(0, 0, 0, 110)  # over everything outside the rectangle, so the frozen screen reads as frozen
HINT = "Drag a rectangle · 1–4 task · Enter reads · Esc cancels"
BAR_MARGIN = 12
LABEL_GAP = 6
KEY_TASKS = {getattr(Qt.Key, f"Key_{key}"): task for task, key in TASK_SHORTCUTS.items()}
CONFIRM_KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter)


class TaskBar(QWidget):
    """Text / Formula / Table / Extract as four exclusive buttons, with the keys and the gestures spelled out."""

    task_chosen = Signal(str)

    def __init__(self, task: str, parent: QWidget):
        super().__init__(parent)
        self.setObjectName("captureTaskBar")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground)
        self.setStyleSheet("#captureTaskBar { background: rgba(30, 30, 30, 220); border-radius: 8px; }"
                           "QToolButton { color: white; padding: 4px 10px; border-radius: 5px; }"
                           "QToolButton:checked { background: rgba(255, 255, 255, 60); }"
                           "QLabel { color: #dddddd; padding: 0 8px; }")
        self.group = QButtonGroup(self)
        row = QHBoxLayout(self)
        row.setContentsMargins(6, 4, 6, 4)
        for task_name in TASKS:
            row.addWidget(self._button(task_name))
        row.addWidget(QLabel(HINT))
        self.set_task(task)

    def _button(self, task: str) -> QToolButton:
        button = QToolButton(self)
        button.setText(f"{TASK_SHORTCUTS[task]}  {TASK_LABELS[task]}")
        button.setCheckable(True)
        button.setProperty("task", task)
        button.setCursor(Qt.CursorShape.ArrowCursor)
        button.clicked.connect(lambda _checked=False, chosen=task: self.task_chosen.emit(chosen))
        self.group.addButton(button)
        return button

    def set_task(self, task: str) -> None:
        for button in self.group.buttons():
            button.setChecked(button.property("task") == task)

    def button(self, task: str) -> QToolButton:
        return next(b for b in self.group.buttons() if b.property("task") == task)


class CaptureOverlay(QWidget):
    """One screen's frozen picture and the rectangle drawn on it."""

    selected = Signal(object)  # Selection, in this overlay's logical coordinates
    cancelled = Signal()
    task_chosen = Signal(str)

    def __init__(self, layout: ScreenLayout, picture: QImage, task: str, *, screen=None,
                 confirm_on_release: bool = True):
        super().__init__(None, Qt.WindowType.FramelessWindowHint | Qt.WindowType.WindowStaysOnTopHint)
        self.layout_info, self.picture, self.task = layout, picture, task
        self.confirm_on_release = confirm_on_release
        self._pixmap = QPixmap.fromImage(picture)
        self._anchor: QPointF | None = None
        self._selection: Selection | None = None
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setWindowTitle("GLM-OCR Studio capture")
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setMouseTracking(False)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.bar = TaskBar(task, self)
        self.bar.task_chosen.connect(self.task_chosen)
        self._place(screen)

    def _place(self, screen) -> None:
        g = self.layout_info.geometry
        if screen is not None:
            self.setScreen(screen)  # Wayland ignores positions: the screen decides where full screen goes
        self.setGeometry(QRect(g.x, g.y, g.width, g.height))

    def show_frozen(self) -> None:
        self.showFullScreen()
        self.raise_()
        self.activateWindow()
        self.setFocus()

    # --- state -----------------------------------------------------------------------------------------------

    @property
    def selection(self) -> Selection | None:
        return self._selection

    def set_task(self, task: str) -> None:
        self.task = task
        self.bar.set_task(task)
        self.update()

    def crop(self) -> Rect | None:
        """The picture pixels under the current rectangle."""
        if self._selection is None:
            return None
        rect = crop_rect(self.layout_info, self._selection)
        return None if rect.empty else rect

    # --- gestures --------------------------------------------------------------------------------------------

    def _clamped(self, point: QPointF) -> QPointF:
        return QPointF(min(max(point.x(), 0.0), float(self.width())), min(max(point.y(), 0.0), float(self.height())))

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt name)
        if event.button() == Qt.MouseButton.RightButton:
            self.cancelled.emit()
            return
        if event.button() == Qt.MouseButton.LeftButton:
            self._anchor = self._clamped(event.position())
            self._selection = None
            self.update()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._anchor is None:
            return
        point = self._clamped(event.position())
        self._selection = Selection.between(self._anchor.x(), self._anchor.y(), point.x(), point.y())
        self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() != Qt.MouseButton.LeftButton or self._anchor is None:
            return
        self.mouseMoveEvent(event)
        self._anchor = None
        if not self._big_enough():
            self._selection = None  # a click: nothing to read
            self.update()
        elif self.confirm_on_release:
            self.confirm()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        key = Qt.Key(event.key())
        if key == Qt.Key.Key_Escape:
            self.cancelled.emit()
        elif key in CONFIRM_KEYS:
            self.confirm()
        elif key in KEY_TASKS:
            self.task_chosen.emit(KEY_TASKS[key])
        else:
            super().keyPressEvent(event)

    def _big_enough(self) -> bool:
        s = self._selection
        return s is not None and s.width >= MIN_DRAG and s.height >= MIN_DRAG

    def confirm(self) -> None:
        if self._big_enough() and self.crop() is not None:
            self.selected.emit(self._selection)

    # --- painting --------------------------------------------------------------------------------------------

    def paintEvent(self, event) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.drawPixmap(self.rect(), self._pixmap)
        frame = self._selection_rect()
        self._dim_outside(painter, frame)
        if frame is not None:
            self._frame(painter, frame)
        painter.end()

    def resizeEvent(self, event) -> None:  # noqa: N802
        hint = self.bar.sizeHint()
        self.bar.setGeometry((self.width() - hint.width()) // 2, BAR_MARGIN, hint.width(), hint.height())
        super().resizeEvent(event)

    def _selection_rect(self) -> QRectF | None:
        s = self._selection
        return None if s is None else QRectF(s.x, s.y, s.width, s.height)

    def _dim_outside(self, painter: QPainter, frame: QRectF | None) -> None:
        whole = QRectF(self.rect())
        if frame is None:
            painter.fillRect(whole, DIM)
            return
        for part in (QRectF(0, 0, whole.width(), frame.top()),  # above, below, left, right of the frame
                     QRectF(0, frame.bottom(), whole.width(), whole.height() - frame.bottom()),
                     QRectF(0, frame.top(), frame.left(), frame.height()),
                     QRectF(frame.right(), frame.top(), whole.width() - frame.right(), frame.height())):
            if part.width() > 0 and part.height() > 0:
                painter.fillRect(part, DIM)

    def _frame(self, painter: QPainter, frame: QRectF) -> None:
        color = QColor(TASK_COLORS.get(self.task, "#0072B2"))
        pen = QPen(color, 2)
        pen.setCosmetic(True)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(frame)
        crop = self.crop()
        if crop is not None:
            self._label(painter, frame, f"{TASK_LABELS.get(self.task, self.task)} · {size_label(crop)}", color)

    def _label(self, painter: QPainter, frame: QRectF, text: str, color: QColor) -> None:
        font = QFont(self.font())
        font.setBold(True)
        painter.setFont(font)
        metrics = painter.fontMetrics()
        box = QRectF(0, 0, metrics.horizontalAdvance(text) + 12, metrics.height() + 6)
        above = frame.top() - box.height() - LABEL_GAP
        box.moveTopLeft(QPointF(frame.left(), above if above >= 0 else frame.bottom() + LABEL_GAP))
        if box.right() > self.width():
            box.moveRight(self.width())
        painter.fillRect(box, color)
        painter.setPen(QColor("white"))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)


def rect_of(qrect: QRect) -> Rect:
    return Rect(qrect.x(), qrect.y(), qrect.width(), qrect.height())


def screen_layout(screen, picture: QImage) -> ScreenLayout:
    """A ``QScreen`` and its grabbed picture as the mapping's plain data."""
    return ScreenLayout(screen.name(), rect_of(screen.geometry()), screen.devicePixelRatio(),
                        (picture.width(), picture.height()))
