"""Result cards: one per region, next to the page, in a scrolling panel.

While a region streams, its card shows the raw text as it arrives (a plain text box; cheap to append to) and a live
"N tokens · 3.2 s" line. When the region finishes, the card asks its view factory (``make_result_view`` unless the
panel was given another) for the finished view and puts it in its body. A view may define a Qt signal
``edited(str)``: the card then stores the text as the region's user edit (``Region.edited_text``) and re-emits
``ResultCard.edited``. Every card has a "Copy as" button; Extract cards also have a "Template" button, and an
Extract region without a template shows a prompt to choose one (``template_chosen``) instead of an error.

The header and the body shrink with a narrow panel (the title elides, the buttons wrap onto a second row), and the
card paints its own border from the current palette, so a switch between light and dark reaches every part of it.
"""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QElapsedTimer, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter, QPalette, QPen
from PySide6.QtWidgets import (QFrame, QLabel, QScrollArea, QSizePolicy, QStyle, QToolButton,
                               QVBoxLayout, QWidget)

from app.document.model import CANCELLED, DONE, FAILED, IN_PROGRESS_STATES, QUEUED, RUNNING, Region
from app.results import make_result_view
from app.results.copy_menu import CopyAsButton
from app.results.extract_view import TemplateButton, TemplatePrompt
from app.results.status import CardStatus, card_status, needs_template
from app.results.widgets import AutoHeightText, ElidedLabel, HeaderLayout, TickerLabel, wrapping_label
from app.task_style import TASK_COLORS, TASK_LABELS

ViewFactory = Callable[[Region], QWidget]

STREAM_MAX_HEIGHT = 640  # the streaming box scrolls (to its end) beyond this
PROGRESS_TICK_MS = 250  # the elapsed time counts on between the controller's progress calls (4 Hz: each repaint of a
# window holding web views composites the whole window, which without a GPU is milliseconds of CPU)
WAITING_TEXTS = {QUEUED: "Queued…", RUNNING: "Reading the region…"}  # until the first text arrives
LARGER_BUDGET = "Run with a larger budget"
CARD_RADIUS = 6


def warning_color(palette: QPalette) -> str:
    """An amber that reads on the palette's window colour, light or dark."""
    return "#ffb547" if palette.color(QPalette.ColorRole.Window).lightness() < 128 else "#9a5b00"


class ResultCard(QFrame):
    """A region's result: a header (number, task, page, state, actions) and a body (streaming text or view)."""

    clicked = Signal(str)  # region id
    rerun_requested = Signal(str)
    cancel_requested = Signal(str)
    edited = Signal(str, str)  # region id, text
    template_chosen = Signal(str, str)  # region id, template JSON: the controller sets region.schema and runs it
    larger_budget_requested = Signal(str)  # region id: run again with a larger token budget

    def __init__(self, region: Region, parent=None, view_factory: ViewFactory = make_result_view):
        super().__init__(parent)
        self.region = region
        self.view_factory = view_factory
        self.setObjectName("resultCard")
        self.setFrameShape(QFrame.Shape.NoFrame)  # the border is painted (see paintEvent)
        self.setAccessibleName(f"Result of region on page {region.page + 1}")
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(1)
        self._selected = False
        self._body_key = None
        self._build_header()
        self._build_progress()
        self.body = QVBoxLayout()
        self.body.setContentsMargins(0, 0, 0, 0)
        self.message = wrapping_label()
        self.message.setAccessibleName("Region message")
        self.message.hide()
        self.budget_button = QToolButton()
        self.budget_button.setText(LARGER_BUDGET)
        self.budget_button.setToolTip("Runs this region again with twice the token budget")
        self.budget_button.clicked.connect(lambda: self.larger_budget_requested.emit(self.region.id))
        self.budget_button.hide()
        self.stream_view = self._make_stream_view()
        self.view: QWidget | None = None
        self.template_prompt: TemplatePrompt | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 8)
        layout.addLayout(self.header)
        layout.addWidget(self.progress_label)
        layout.addWidget(self.message)
        layout.addWidget(self.budget_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addLayout(self.body)
        self.body.addWidget(self.stream_view)
        self.refresh()

    def _build_header(self) -> None:
        self.header = HeaderLayout(spacing=4)
        self.number_label = QLabel()
        self.swatch = QLabel("■")
        # A title may lose its page number before the buttons move to a row of their own; a state is never cut.
        self.title_label = ElidedLabel(min_chars=14)
        self.state_label = ElidedLabel(min_chars=18)
        self.state_label.setAccessibleName("Region state")
        self.rerun_button = self._tool_button(QStyle.StandardPixmap.SP_BrowserReload, "Run this region again",
                                              self.rerun_requested)
        self.cancel_button = self._tool_button(QStyle.StandardPixmap.SP_MediaStop, "Stop this region",
                                               self.cancel_requested)
        self.copy_button = CopyAsButton(self.region, self)
        self.template_button = TemplateButton(self, self)
        for widget in (self.number_label, self.swatch):
            self.header.add_lead(widget)
        self.header.add_lead(self.title_label, elastic=True)
        self.header.add_lead(self.state_label, elastic=True)
        for widget in (self.copy_button, self.template_button, self.rerun_button, self.cancel_button):
            self.header.add_tail(widget)

    def _build_progress(self) -> None:
        self.progress_label = TickerLabel()
        self.progress_label.setAccessibleName("Progress")
        self.progress_label.hide()
        self._progress_tokens = 0
        self._progress_base_s = 0.0
        self._progress_clock = QElapsedTimer()
        self._progress_tick = QTimer(self, interval=PROGRESS_TICK_MS)
        self._progress_tick.timeout.connect(self._show_progress)

    def _tool_button(self, icon: QStyle.StandardPixmap, tip: str, signal) -> QToolButton:
        button = QToolButton()
        button.setIcon(self.style().standardIcon(icon))
        button.setToolTip(tip)
        button.setAccessibleName(tip)
        button.setAutoRaise(True)
        button.clicked.connect(lambda: signal.emit(self.region.id))
        return button

    def _make_stream_view(self) -> AutoHeightText:
        view = AutoHeightText(min_lines=1, max_height=STREAM_MAX_HEIGHT)
        view.setAccessibleName("Streaming text")
        view.setPlaceholderText(WAITING_TEXTS[QUEUED])
        return view

    # --- state ---------------------------------------------------------------------------

    def refresh(self, number: int | None = None) -> None:
        """Update header texts and the body after the region's state changed."""
        region = self.region
        if number is not None:
            self.number_label.setText(f"<b>#{number}</b>")
        self.swatch.setStyleSheet(f"color: {TASK_COLORS.get(region.task, '#888')};")
        self.title_label.set_full_text(f"{TASK_LABELS[region.task]} · page {region.page + 1}")
        status = card_status(region)
        self._show_status(status)
        self.cancel_button.setVisible(region.state in IN_PROGRESS_STATES and not needs_template(region))
        self.rerun_button.setVisible(region.state not in IN_PROGRESS_STATES and not needs_template(region))
        self.template_button.setVisible(region.task == "extract")  # the task may have changed since the last refresh
        self._follow_progress(region.state == RUNNING)
        body_key = (region.state, region.task, region.text, needs_template(region))
        if body_key == self._body_key:
            return  # keep the current view (and anything the user is editing in it)
        self._body_key = body_key
        if needs_template(region):
            self.show_template_prompt()
        elif region.state in (DONE, CANCELLED):
            self.show_final_view()
        else:
            self.stream_view.setPlaceholderText(WAITING_TEXTS.get(region.state, ""))
            self.show_stream()
            self.stream_view.setVisible(region.state != FAILED or bool(region.text))

    def _show_status(self, status: CardStatus) -> None:
        self.state_label.set_full_text(status.label)
        color = warning_color(self.palette()) if status.warning else ""
        self.state_label.setStyleSheet(f"color: {color};" if color else "")
        self.message.setText(status.message)
        self.message.setVisible(bool(status.message))
        self.budget_button.setVisible(status.offer_larger_budget)

    def set_waiting_text(self, text: str) -> None:
        """What the empty streaming box says until text arrives (the controller knows whether a model is there)."""
        self.stream_view.setPlaceholderText(text)

    # --- live progress ---------------------------------------------------------------------

    def set_progress(self, tokens: int, elapsed_s: float) -> None:
        """The running region has generated ``tokens`` in ``elapsed_s``; the time counts on until the next call."""
        self._progress_tokens = int(tokens)
        self._progress_base_s = float(elapsed_s)
        self._progress_clock.start()
        self._follow_progress(self.region.state == RUNNING)
        self._show_progress()

    def progress_text(self) -> str:
        elapsed = self._progress_base_s + (self._progress_clock.elapsed() / 1000 if self._progress_clock.isValid()
                                           else 0.0)
        tokens = self._progress_tokens
        count = f"{tokens} token{'' if tokens == 1 else 's'} · " if tokens else ""
        return f"{count}{elapsed:.1f} s"

    def _follow_progress(self, running: bool) -> None:
        if running and not self._progress_tick.isActive():
            if not self._progress_clock.isValid():
                self._progress_clock.start()  # count from the start of the run until the first progress call
            self._progress_tick.start()
            self._show_progress()
        elif not running and (self._progress_tick.isActive() or self._progress_clock.isValid()):
            self._progress_tick.stop()
            self._progress_clock.invalidate()
            self._progress_tokens, self._progress_base_s = 0, 0.0
        self.progress_label.setVisible(running)

    def _show_progress(self) -> None:
        self.progress_label.setText(self.progress_text())

    # --- body ------------------------------------------------------------------------------

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

    def show_template_prompt(self) -> None:
        """Extract without a template: ask for one (the controller sets it and runs the region)."""
        prompt = TemplatePrompt(self)
        prompt.chosen.connect(lambda text: self.template_chosen.emit(self.region.id, text))
        self.set_view(prompt)
        self.template_prompt = prompt

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
        self.template_prompt = None
        if self.view is not None:
            self.body.removeWidget(self.view)
            self.view.deleteLater()
            self.view = None

    def _on_view_edited(self, text: str) -> None:
        self.region.edited_text = text
        self.edited.emit(self.region.id, text)

    # --- selection and looks ---------------------------------------------------------------

    def set_selected(self, selected: bool) -> None:
        self._selected = selected
        self.setProperty("selected", selected)
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt name)
        """The border, from the palette of the moment (a style sheet would keep the colours it was set with)."""
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        width = 2 if self._selected else 1
        color = palette.color(QPalette.ColorRole.Highlight) if self._selected else _border_color(palette)
        painter.setPen(QPen(color, width))
        painter.setBrush(palette.color(QPalette.ColorRole.Window))
        inset = width / 2
        painter.drawRoundedRect(QRectF(self.rect()).adjusted(inset, inset, -inset, -inset), CARD_RADIUS, CARD_RADIUS)

    def changeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().changeEvent(event)
        if event.type() == event.Type.PaletteChange:
            self._show_status(card_status(self.region))  # the warning colour is picked for the palette

    def mousePressEvent(self, event) -> None:
        self.clicked.emit(self.region.id)
        super().mousePressEvent(event)


def _border_color(palette: QPalette) -> QColor:
    """Mid, nudged towards the text colour so the card's edge shows on both light and dark windows."""
    mid, text = palette.color(QPalette.ColorRole.Mid), palette.color(QPalette.ColorRole.WindowText)
    return QColor((mid.red() * 3 + text.red()) // 4, (mid.green() * 3 + text.green()) // 4,
                  (mid.blue() * 3 + text.blue()) // 4)


class ResultsPanel(QScrollArea):
    """A scrolling column of result cards in reading order; the cards are as wide as the panel, never wider."""

    card_clicked = Signal(str)
    rerun_requested = Signal(str)
    cancel_requested = Signal(str)
    edited = Signal(str, str)
    template_chosen = Signal(str, str)  # region id, template JSON
    larger_budget_requested = Signal(str)  # region id

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
        card.template_chosen.connect(self.template_chosen)
        card.larger_budget_requested.connect(self.larger_budget_requested)
        card.set_selected(False)
        self.cards[region.id] = card
        return card

    def set_progress(self, region_id: str, tokens: int, elapsed_s: float) -> None:
        """Live "N tokens · 3.2 s" on a running region's card (no-op for a region without a card)."""
        card = self.cards.get(region_id)
        if card is not None:
            card.set_progress(tokens, elapsed_s)

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
