"""The common shape of a card's finished-result view."""

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QVBoxLayout, QWidget


class ResultView(QWidget):
    """Shows one region's result; ``edited(str)`` carries the user's edit back so the region (and every export and
    session) sees it. Subclasses fill ``self.body``, a margin-less vertical layout."""

    edited = Signal(str)

    def __init__(self, region, parent=None):
        super().__init__(parent)
        self.region = region
        self.body = QVBoxLayout(self)
        self.body.setContentsMargins(0, 0, 0, 0)

    def text(self) -> str:
        """The result as shown, in the task's text format (what an edit would store)."""
        return self.region.display_text
