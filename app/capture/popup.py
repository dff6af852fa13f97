"""The small window next to a capture: the text as it streams, then the result, with Copy and "Open in studio".

It knows no engine: the composition root calls ``show_near`` when a capture is made, then ``show_text_delta`` for
each piece of text, and ``show_result`` or ``show_error`` at the end.
"""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt, Signal
from PySide6.QtGui import QGuiApplication, QKeyEvent, QTextCursor
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QVBoxLayout

from app.capture.geometry import Rect
from app.task_style import TASK_LABELS

POPUP_SIZE = (420, 220)
GAP = 8  # between the selection and the popup
READING, DONE, COPIED, FAILED = "Reading…", "Done", "Done · copied to the clipboard", "Failed"


def popup_position(selection: Rect, size: tuple[int, int], available: Rect, gap: int = GAP) -> tuple[int, int]:
    """Top left of the popup: below the selection, else above it, else over its bottom; always on the screen."""
    width, height = size
    below, above = selection.bottom + gap, selection.y - gap - height
    if below + height <= available.bottom:
        y = below
    elif above >= available.y:
        y = above
    else:
        y = available.bottom - height
    x = min(max(selection.x, available.x), available.right - width)
    return max(x, available.x), max(y, available.y)


class ResultPopup(QFrame):
    """Stays until closed (Esc, Close, or Open in studio); the next capture hides it before the grab."""

    open_in_studio_requested = Signal()
    closed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent, Qt.WindowType.Tool | Qt.WindowType.FramelessWindowHint
                         | Qt.WindowType.WindowStaysOnTopHint)
        self.setObjectName("capturePopup")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet("#capturePopup { border: 1px solid palette(mid); border-radius: 6px; }")
        self.title = QLabel()
        self.status = QLabel()
        self.text = QPlainTextEdit(readOnly=True)
        self.copy_button = QPushButton("Copy")
        self.open_button = QPushButton("Open in studio")
        self.close_button = QPushButton("Close")
        self.copy_button.clicked.connect(self.copy)
        self.open_button.clicked.connect(self._open_in_studio)
        self.close_button.clicked.connect(self.close)
        self._lay_out()
        self.resize(*POPUP_SIZE)

    def _lay_out(self) -> None:
        header = QHBoxLayout()
        header.addWidget(self.title)
        header.addStretch(1)
        header.addWidget(self.status)
        buttons = QHBoxLayout()
        for button in (self.copy_button, self.open_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        column = QVBoxLayout(self)
        column.setContentsMargins(10, 8, 10, 8)
        column.addLayout(header)
        column.addWidget(self.text, 1)
        column.addLayout(buttons)

    # --- what the composition root calls -------------------------------------------------------------------

    def show_near(self, selection: QRect, task: str = "text", screen=None) -> None:
        """A new capture: empty text, "Reading…", placed next to ``selection`` (desktop logical coordinates)."""
        self.title.setText(f"<b>{TASK_LABELS.get(task, task)}</b>")
        self.text.clear()
        self._set_status(READING)
        self.copy_button.setEnabled(False)
        screen = screen or QGuiApplication.screenAt(selection.center()) or QGuiApplication.primaryScreen()
        area = screen.availableGeometry()
        x, y = popup_position(Rect(selection.x(), selection.y(), selection.width(), selection.height()),
                              (self.width(), self.height()), Rect(area.x(), area.y(), area.width(), area.height()))
        self.move(x, y)
        self.show()
        self.raise_()

    def show_text_delta(self, text: str) -> None:
        cursor = self.text.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertText(text)
        self.text.setTextCursor(cursor)

    def show_result(self, text: str, copy: bool = False) -> None:
        """The final text (replacing the streamed one); ``copy`` puts it on the clipboard at once (a setting)."""
        self.text.setPlainText(text)
        self.copy_button.setEnabled(bool(text))
        self._set_status(DONE)
        if copy and text:
            self.copy()

    def show_error(self, message: str) -> None:
        self.text.setPlainText(message)
        self.copy_button.setEnabled(False)
        self._set_status(FAILED)

    # --- buttons ---------------------------------------------------------------------------------------------

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.text.toPlainText())
        self._set_status(COPIED)

    def _open_in_studio(self) -> None:
        self.open_in_studio_requested.emit()
        self.close()

    def _set_status(self, status: str) -> None:
        self.status.setText(status)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt name)
        if event.key() == Qt.Key.Key_Escape:
            self.close()
        else:
            super().keyPressEvent(event)

    def closeEvent(self, event) -> None:  # noqa: N802
        self.closed.emit()
        super().closeEvent(event)
