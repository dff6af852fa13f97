"""Result cards: one per region, next to the page, in a scrolling panel.

While a region streams, its card shows the raw text as it arrives (a plain text box; cheap to append to). When the
region finishes, the card asks its view factory (``make_result_view`` unless the panel was given another) for the
finished view and puts it in its body. A view may define a Qt signal ``edited(str)``: the card then stores the text as
the region's user edit (``Region.edited_text``) and re-emits ``ResultCard.edited``. Every card has a "Copy as" button;
Extract cards also have a "Template" button.
"""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QScrollArea, QStyle, QTextEdit, QToolButton, QVBoxLayout, QWidget

from app.document.model import CANCELLED, DONE, FAILED, IN_PROGRESS_STATES, Region
from app.results import make_result_view
from app.results.copy_menu import CopyAsButton
from app.results.extract_view import TemplateButton
from app.task_style import STATE_LABELS, TASK_COLORS, TASK_LABELS

ViewFactory = Callable[[Region], QWidget]

MAX_BODY_HEIGHT = 320


class AutoHeightText(QTextEdit):
    """Read-only plain text that grows with its wrapped content up to a limit (short results, short cards)."""

    def __init__(self, text: str = "", min_lines: int = 2, max_height: int = MAX_BODY_HEIGHT):
        super().__init__()
        self.setReadOnly(True)
        self.setAcceptRichText(False)
        self.setLineWrapMode(QTextEdit.LineWrapMode.WidgetWidth)
        self.min_height = self.fontMetrics().lineSpacing() * min_lines + 2 * self.frameWidth() + 8
        self.max_height = max_height
        self.document().contentsChanged.connect(self._fit_height)
        self.setPlainText(text)

    def _fit_height(self) -> None:
        # Lay out at the width without a scrollbar; only a box at its height limit gets one.
        self.document().setTextWidth(self.width() - 2 * self.frameWidth())
        wanted = int(self.document().size().height()) + 2 * self.frameWidth() + 2
        fits = wanted <= self.max_height
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff if fits
                                        else Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setFixedHeight(max(self.min_height, min(wanted, self.max_height)))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if event.oldSize().width() != event.size().width():
            self._fit_height()


class ResultCard(QFrame):
    """A region's result: a header (number, task, page, state, actions) and a body (streaming text or view)."""

    clicked = Signal(str)  # region id
    rerun_requested = Signal(str)
    cancel_requested = Signal(str)
    edited = Signal(str, str)  # region id, text

    def __init__(self, region: Region, parent=None, view_factory: ViewFactory = make_result_view):
        super().__init__(parent)
        self.region = region
        self.view_factory = view_factory
        self.setObjectName("resultCard")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAccessibleName(f"Result of region on page {region.page + 1}")
        self._selected = False
        self._body_key = None
        self._build_header()
        self.body = QVBoxLayout()
        self.body.setContentsMargins(0, 0, 0, 0)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.hide()
        self.stream_view = self._make_stream_view()
        self.view: QWidget | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 8)
        layout.addLayout(self.header)
        layout.addWidget(self.message)
        layout.addLayout(self.body)
        self.body.addWidget(self.stream_view)
        self.refresh()

    def _build_header(self) -> None:
        self.header = QHBoxLayout()
        self.number_label = QLabel()
        self.title_label = QLabel()
        self.state_label = QLabel()
        self.state_label.setAccessibleName("Region state")
        self.rerun_button = self._tool_button(QStyle.StandardPixmap.SP_BrowserReload, "Run this region again",
                                              self.rerun_requested)
        self.cancel_button = self._tool_button(QStyle.StandardPixmap.SP_MediaStop, "Stop this region",
                                               self.cancel_requested)
        self.copy_button = CopyAsButton(self.region, self)
        self.template_button = TemplateButton(self, self)
        for widget in (self.number_label, self.title_label):
            self.header.addWidget(widget)
        self.header.addStretch(1)
        for widget in (self.copy_button, self.template_button, self.state_label, self.rerun_button,
                       self.cancel_button):
            self.header.addWidget(widget)

    def _tool_button(self, icon: QStyle.StandardPixmap, tip: str, signal) -> QToolButton:
        button = QToolButton()
        button.setIcon(self.style().standardIcon(icon))
        button.setToolTip(tip)
        button.setAccessibleName(tip)
        button.setAutoRaise(True)
        button.clicked.connect(lambda: signal.emit(self.region.id))
        return button

    def _make_stream_view(self) -> AutoHeightText:
        view = AutoHeightText(min_lines=1)
        view.setAccessibleName("Streaming text")
        view.setPlaceholderText("Waiting for the model…")
        return view

    # --- state ---------------------------------------------------------------------------

    def refresh(self, number: int | None = None) -> None:
        """Update header texts and the body after the region's state changed."""
        region = self.region
        if number is not None:
            self.number_label.setText(f"<b>#{number}</b>")
        color = TASK_COLORS.get(region.task, "#888")
        self.title_label.setText(f"<span style='color:{color}'>■</span> {TASK_LABELS[region.task]}"
                                 f" · page {region.page + 1}")
        self.state_label.setText(STATE_LABELS.get(region.state, region.state))
        self.cancel_button.setVisible(region.state in IN_PROGRESS_STATES)
        self.rerun_button.setVisible(region.state not in IN_PROGRESS_STATES)
        self.template_button.setVisible(region.task == "extract")  # the task may have changed since the last refresh
        self._show_message(region)
        body_key = (region.state, region.task, region.text)
        if body_key == self._body_key:
            return  # keep the current view (and anything the user is editing in it)
        self._body_key = body_key
        if region.state in (DONE, CANCELLED):
            self.show_final_view()
        else:
            self.stream_view.setPlaceholderText("" if region.state == FAILED else "Waiting for the model…")
            self.show_stream()
            self.stream_view.setVisible(region.state != FAILED or bool(region.text))

    def _show_message(self, region: Region) -> None:
        text = ""
        if region.state == FAILED:
            text = f"⚠ {region.error or 'The region could not be recognized.'}"
        elif region.state == CANCELLED:
            text = "Stopped. The text below is what was recognized before stopping."
        self.message.setText(text)
        self.message.setVisible(bool(text))

    def set_waiting_text(self, text: str) -> None:
        self.stream_view.setPlaceholderText(text)

    def show_stream(self) -> None:
        self._drop_view()
        self.stream_view.setPlainText(self.region.text)
        self.stream_view.show()

    def append_text(self, text: str) -> None:
        """Streaming path: append without re-rendering anything."""
        cursor = self.stream_view.textCursor()
        cursor.movePosition(cursor.MoveOperation.End)
        cursor.insertText(text)
        self.stream_view.setTextCursor(cursor)
        self.stream_view.ensureCursorVisible()

    def show_final_view(self) -> None:
        self.set_view(self.view_factory(self.region))

    def set_view(self, widget: QWidget) -> None:
        """Replace the body with ``widget`` (the finished result view)."""
        self._drop_view()
        self.stream_view.hide()
        self.view = widget
        self.body.addWidget(widget)
        edited = getattr(widget, "edited", None)
        if edited is not None and hasattr(edited, "connect"):
            edited.connect(self._on_view_edited)

    def _drop_view(self) -> None:
        if self.view is not None:
            self.body.removeWidget(self.view)
            self.view.deleteLater()
            self.view = None

    def _on_view_edited(self, text: str) -> None:
        self.region.edited_text = text
        self.edited.emit(self.region.id, text)

    def set_selected(self, selected: bool) -> None:
        self._selected = selected
        self.setProperty("selected", selected)
        highlight = self.palette().color(QPalette.ColorRole.Highlight).name()
        self.setStyleSheet(f"#resultCard {{ border: 2px solid {highlight}; border-radius: 6px; }}" if selected
                           else "#resultCard { border: 1px solid palette(mid); border-radius: 6px; }")

    def mousePressEvent(self, event) -> None:
        self.clicked.emit(self.region.id)
        super().mousePressEvent(event)


class ResultsPanel(QScrollArea):
    """A scrolling column of result cards in reading order."""

    card_clicked = Signal(str)
    rerun_requested = Signal(str)
    cancel_requested = Signal(str)
    edited = Signal(str, str)

    def __init__(self, parent=None, view_factory: ViewFactory = make_result_view):
        super().__init__(parent)
        self.view_factory = view_factory
        self.setWidgetResizable(True)
        self.setAccessibleName("Results")
        self.cards: dict[str, ResultCard] = {}
        self.container = QWidget()
        self.column = QVBoxLayout(self.container)
        self.column.setContentsMargins(6, 6, 6, 6)
        self.column.setSpacing(8)
        self.top_area = QVBoxLayout()  # first-run panel and other notices go above the cards
        self.column.addLayout(self.top_area)
        self.empty_label = QLabel("Results appear here.\nDrag a rectangle on the page to recognize a region,\n"
                                  "or use “Whole page”.")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.column.addWidget(self.empty_label)
        self.column.addStretch(1)
        self.setWidget(self.container)
        self.selected_id = ""

    def card(self, region_id: str) -> ResultCard | None:
        return self.cards.get(region_id)

    def sync(self, regions_in_order: list[Region]) -> None:
        """Make the cards match the regions: add new ones, drop deleted ones, keep reading order."""
        wanted = {r.id for r in regions_in_order}
        for region_id in [rid for rid in self.cards if rid not in wanted]:
            card = self.cards.pop(region_id)
            self.column.removeWidget(card)
            card.deleteLater()
        for number, region in enumerate(regions_in_order, start=1):
            card = self.cards.get(region.id) or self._new_card(region)
            self.column.removeWidget(card)
            self.column.insertWidget(self.column.count() - 1, card)
            card.refresh(number)
        self.empty_label.setVisible(not self.cards)

    def _new_card(self, region: Region) -> ResultCard:
        card = ResultCard(region, self.container, self.view_factory)
        card.clicked.connect(self.card_clicked)
        card.rerun_requested.connect(self.rerun_requested)
        card.cancel_requested.connect(self.cancel_requested)
        card.edited.connect(self.edited)
        card.set_selected(False)
        self.cards[region.id] = card
        return card

    def select(self, region_id: str) -> None:
        self.selected_id = region_id
        for rid, card in self.cards.items():
            card.set_selected(rid == region_id)
        card = self.cards.get(region_id)
        if card is not None:
            self.ensureWidgetVisible(card, 0, 20)

    def flush_edits(self) -> None:
        """Commit edits still waiting in a view's typing pause, so a save or an export contains them."""
        for card in self.cards.values():
            flush = getattr(card.view, "flush", None)
            if callable(flush):
                flush()
