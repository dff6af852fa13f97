"""A note the region controller pins to a result card: "this result is from the old box", with a Run again button.

The card itself is the results package's; this note only sits in its layout, under the header, while the region's
outcome is outdated (``Region.outcome_is_outdated``), and goes away once it is not.
"""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton

from app.document.model import FAILED

OUTDATED_TEXT = "This result is from the region's old box: you moved or resized it since."
FAILED_TEXT = "This region failed on its old box: you moved or resized it since."
RUN_AGAIN = "Run again on the new box"
NOTE_POSITION = 2  # in the card's column: header, message, then this note, then the body


class OutdatedNote(QFrame):
    def __init__(self, run: Callable[[], None], text: str = OUTDATED_TEXT, parent=None):
        super().__init__(parent)
        self.setObjectName("outdatedNote")
        self.setAccessibleName("Result from the old box")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.label = QLabel(text)
        self.label.setWordWrap(True)
        self.button = QPushButton(RUN_AGAIN)
        self.button.setAccessibleName(RUN_AGAIN)
        self.button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.button.clicked.connect(lambda _checked=False: run())
        row = QHBoxLayout(self)
        row.setContentsMargins(6, 3, 6, 3)
        row.addWidget(self.label, 1)
        row.addWidget(self.button)


def outdated_note(card) -> OutdatedNote | None:
    return card.findChild(OutdatedNote)


def show_outdated_note(card, region, run: Callable[[], None]) -> None:
    """Pin the note to ``card`` while the region's outcome is outdated; take it away when not."""
    note, outdated = outdated_note(card), region.outcome_is_outdated
    text = FAILED_TEXT if region.state == FAILED else OUTDATED_TEXT
    if outdated and note is None:
        card.layout().insertWidget(NOTE_POSITION, OutdatedNote(run, text, card))
    elif outdated:
        note.label.setText(text)
    elif note is not None:
        card.layout().removeWidget(note)
        note.setParent(None)  # findChild must not find it while it waits to be deleted
        note.deleteLater()
