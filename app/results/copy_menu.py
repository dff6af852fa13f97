"""The "Copy as" button every result card carries, and the clipboard write behind it.

A copy is confirmed on the button itself ("Copied ✓" for a moment), so a click that seems to do nothing never makes
the user paste to check.
"""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMenu, QToolButton

from app.document.content import CopyChoice, copy_choices

COPY_TEXT = "Copy"
COPIED_TEXT = "Copied ✓"
COPIED_FEEDBACK_MS = 1500
COPY_TIP = "Copy the result (the arrow chooses a format)"


def mime_for(choice: CopyChoice) -> QMimeData:
    """text/plain always; text/html too where structure matters (a spreadsheet pastes a table as cells)."""
    mime = QMimeData()
    mime.setText(choice.text)
    if choice.html is not None:
        mime.setHtml(choice.html)
    return mime


def copy_to_clipboard(choice: CopyChoice) -> None:
    QGuiApplication.clipboard().setMimeData(mime_for(choice))


class CopyAsButton(QToolButton):
    """Click: copy in the task's first format. Menu: every format. The menu is built when it opens, so it always
    copies the region as edited right now. ``copied(label)`` names the format after each copy."""

    copied = Signal(str)

    def __init__(self, region, parent=None):
        super().__init__(parent)
        self.region = region
        self._feedback = QTimer(self, singleShot=True, interval=COPIED_FEEDBACK_MS)
        self._feedback.timeout.connect(self._end_feedback)
        self.setText(COPY_TEXT)
        self.setMinimumWidth(self.fontMetrics().horizontalAdvance(COPIED_TEXT) + 28)  # no jump while it says "Copied"
        self.setToolTip(COPY_TIP)
        self.setAccessibleName("Copy result as")
        self.setAutoRaise(True)
        self.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        menu = QMenu(self)
        menu.aboutToShow.connect(self._fill_menu)
        self.setMenu(menu)
        self.clicked.connect(self.copy_default)

    def choices(self) -> list[CopyChoice]:
        return copy_choices(self.region)

    def copy_default(self) -> None:
        choices = self.choices()
        if choices:
            self.copy(choices[0])

    def copy_key(self, key: str) -> CopyChoice:
        """Copy the format with this key (menus and tests use it); KeyError if the task has no such format."""
        choice = next((c for c in self.choices() if c.key == key), None)
        if choice is None:
            raise KeyError(f"no copy format {key!r} for a {self.region.task} result")
        self.copy(choice)
        return choice

    def copy(self, choice: CopyChoice) -> None:
        copy_to_clipboard(choice)
        self.setText(COPIED_TEXT)
        self.setToolTip(f"Copied as {choice.label}")
        self._feedback.start()
        self.copied.emit(choice.label)

    def _end_feedback(self) -> None:
        self.setText(COPY_TEXT)
        self.setToolTip(COPY_TIP)

    def _fill_menu(self) -> None:
        menu = self.menu()
        menu.clear()
        for choice in self.choices():
            action = menu.addAction(choice.label)
            action.triggered.connect(lambda _=False, c=choice: self.copy(c))
