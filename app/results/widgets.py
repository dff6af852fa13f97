"""Small widgets the result views share: text boxes as tall as their text, a source editor whose undo works in
typing runs, a layout that wraps its items onto more rows when narrow, a label that elides, and the notice line."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QFontDatabase, QPainter, QPalette, QTextOption
from PySide6.QtWidgets import (QLabel, QLayout, QSizePolicy, QTabBar, QTextBrowser, QTextEdit, QVBoxLayout, QWidget,
                               QWidgetItem)

MAX_TEXT_HEIGHT = 2400  # beyond this a text box scrolls inside itself (the card column scrolls below it anyway)
UNDO_PAUSE_MS = 800  # a typing pause this long ends one undo step
UNDO_BREAK_CHARS = frozenset(" \t\n\u2029,;")  # typing one of these ends one undo step (a word at a time)


class _FitsHeight:
    """For a QTextEdit: as tall as its wrapped content (at least ``min_lines``, at most ``max_height``).

    Long words and URLs wrap anywhere rather than being cut at the right edge; only a box at its height limit gets
    a scrollbar of its own."""

    def _setup_fit(self, min_lines: int, max_height: int) -> None:
        self.setLineWrapMode(QTextEdit.LineWrapMode.WidgetWidth)
        self.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.min_lines = min_lines
        self.max_height = max_height
        self.document().contentsChanged.connect(self.fit_height)
        # A new width refits after the resize is done: a height set inside resizeEvent leaves the scrollbar range
        # of the old height behind (the wheel would then scroll text that all fits).
        self._refit = QTimer(self, singleShot=True, interval=0)
        self._refit.timeout.connect(self.fit_height)

    def _chrome(self) -> int:
        return 2 * self.frameWidth() + 2

    def min_height(self) -> int:
        margin = 2 * self.document().documentMargin()
        return int(self.fontMetrics().lineSpacing() * self.min_lines + margin) + self._chrome()

    def fit_height(self) -> None:
        # Lay out at the width without a scrollbar; only a box at its height limit gets one.
        self.document().setTextWidth(max(1, self.width() - 2 * self.frameWidth()))
        wanted = int(self.document().size().height()) + self._chrome()
        fits = wanted <= self.max_height
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff if fits
                                        else Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setFixedHeight(max(self.min_height(), min(wanted, self.max_height)))

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        if event.oldSize().width() != event.size().width():
            self._refit.start()

    def changeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().changeEvent(event)
        if event.type() == event.Type.FontChange:
            self._refit.start()


class AutoHeightText(_FitsHeight, QTextEdit):
    """Plain text as tall as its content (see ``_FitsHeight``); read-only unless asked."""

    def __init__(self, text: str = "", min_lines: int = 2, max_height: int = MAX_TEXT_HEIGHT, read_only: bool = True):
        super().__init__()
        self.setReadOnly(read_only)
        self.setAcceptRichText(False)
        self._setup_fit(min_lines, max_height)
        self.setPlainText(text)


class AutoHeightBrowser(_FitsHeight, QTextBrowser):
    """Qt's own rich text (links open in the browser) as tall as its content: the stand-in for a web page."""

    def __init__(self, min_lines: int = 1, max_height: int = MAX_TEXT_HEIGHT):
        super().__init__()
        self.setOpenExternalLinks(True)
        self._setup_fit(min_lines, max_height)


class SourceEditor(AutoHeightText):
    """An editable source box (LaTeX, Markdown, JSON, HTML) that grows with its text.

    Qt merges every run of adjacent typing into one undo command for as long as the document counts as modified, so
    one Ctrl+Z would take back everything typed since the box opened. Marking the document unmodified at a word
    break or a typing pause makes the next keystroke start a new undo step."""

    def __init__(self, text: str, accessible_name: str, min_lines: int = 4, monospace: bool = True,
                 max_height: int = MAX_TEXT_HEIGHT):
        super().__init__(text, min_lines=min_lines, max_height=max_height, read_only=False)
        if monospace:
            self.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.setAccessibleName(accessible_name)
        self.setTabChangesFocus(True)  # Tab leaves the box, as in a form; the sources never need a tab character
        self._pause = QTimer(self, singleShot=True, interval=UNDO_PAUSE_MS)
        self._pause.timeout.connect(self.end_undo_step)
        self.document().contentsChange.connect(self._on_contents_change)
        self.document().setModified(False)

    def end_undo_step(self) -> None:
        """The next edit starts a new undo step."""
        self.document().setModified(False)

    def _on_contents_change(self, position: int, removed: int, added: int) -> None:
        self._pause.start()
        if added == 1 and self.document().characterAt(position) in UNDO_BREAK_CHARS:
            self.end_undo_step()

    def set_text_keeping_undo(self, text: str) -> None:
        """Replace the whole text as one undo step (``setPlainText`` would clear the undo history)."""
        if text == self.toPlainText():
            return
        cursor = self.textCursor()
        cursor.beginEditBlock()
        cursor.select(cursor.SelectionType.Document)
        cursor.insertText(text)
        cursor.endEditBlock()
        self.end_undo_step()


def wrapping_label(text: str = "") -> QLabel:
    """A word-wrapped label that takes any width it is given (a long word never widens the card) and is as tall as
    its text at that width."""
    label = QLabel(text)
    label.setWordWrap(True)
    policy = QSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
    policy.setHeightForWidth(True)
    label.setSizePolicy(policy)
    label.setMinimumWidth(1)
    return label


def notice_label(text: str) -> QLabel:
    label = wrapping_label(text)
    label.setAccessibleName("Notice")
    label.setForegroundRole(QPalette.ColorRole.PlaceholderText)  # follows a live theme change (a style sheet would not)
    font = label.font()
    font.setItalic(True)
    label.setFont(font)
    return label


class ElidedLabel(QLabel):
    """One line of plain text that shrinks with "…" instead of making its parent wider; the full text is the tip."""

    def __init__(self, text: str = "", parent: QWidget | None = None, min_chars: int = 8):
        super().__init__(parent)
        self._full = ""
        self.min_chars = min_chars  # it never gets narrower than this many characters and "…"
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.set_full_text(text)

    def set_full_text(self, text: str) -> None:
        self._full = text
        self.setText(text)  # what screen readers read; painting elides it
        self.setToolTip(text)
        self.updateGeometry()
        self.update()

    def full_text(self) -> str:
        return self._full

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt name)
        return QSize(self.fontMetrics().horizontalAdvance(self._full) + 4, super().sizeHint().height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt name)
        shortest = self._full if len(self._full) <= self.min_chars + 1 else self._full[:self.min_chars] + "…"
        return QSize(self.fontMetrics().horizontalAdvance(shortest) + 4, super().minimumSizeHint().height())

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt name)
        painter = QPainter(self)
        painter.setPen(self.palette().color(self.foregroundRole()))
        rect = self.contentsRect()
        shown = self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, rect.width())
        painter.drawText(rect, int(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft), shown)


class TickerLabel(QWidget):
    """One line of text that changes several times a second (a running card's clock): each change only repaints.
    A QLabel's setText asks the layouts above it for new geometry every time, which re-flowed the whole card ten
    times a second while the model ran. The height is one line; the width follows the layout."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._text = ""
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        # it paints its own background (the card's: the palette's window colour), so a tick repaints nothing else
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)

    def setText(self, text: str) -> None:  # noqa: N802 (QLabel's name, for callers and tests)
        if text != self._text:
            self._text = text
            self.setAccessibleDescription(text)
            self.update()

    def text(self) -> str:
        return self._text

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt name)
        return QSize(self.fontMetrics().horizontalAdvance("0000 tokens · 000.0 s"), self.fontMetrics().height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt name)
        return QSize(0, self.fontMetrics().height())

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt name)
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().color(QPalette.ColorRole.Window))
        painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
        shown = self.fontMetrics().elidedText(self._text, Qt.TextElideMode.ElideRight, self.width())
        painter.drawText(self.rect(), int(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft), shown)


class _ArrangingLayout(QLayout):
    """A layout whose height follows its width: subclasses place their items in ``_arrange(rect, move)``, which
    returns the height it needs (and moves the items only when ``move``)."""

    def _arrange(self, rect: QRect, move: bool) -> int:
        raise NotImplementedError

    def hasHeightForWidth(self) -> bool:  # noqa: N802 (Qt name)
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802 (Qt name)
        return self._arrange(QRect(0, 0, width, 0), move=False)

    def setGeometry(self, rect: QRect) -> None:  # noqa: N802 (Qt name)
        super().setGeometry(rect)
        self._arrange(rect, move=True)


class FlowLayout(_ArrangingLayout):
    """Items left to right, wrapping onto another row when the width runs out (a toolbar or a row of buttons that
    shrinks with a narrow panel instead of pushing the card wider)."""

    def __init__(self, parent: QWidget | None = None, spacing: int = 4):
        super().__init__(parent)
        self._items = []
        self._spacing = spacing
        self.setContentsMargins(0, 0, 0, 0)

    def addItem(self, item) -> None:  # noqa: N802 (Qt name)
        self._items.append(item)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int):  # noqa: N802 (Qt name)
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int):  # noqa: N802 (Qt name)
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def expandingDirections(self):  # noqa: N802 (Qt name)
        return Qt.Orientation(0)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt name)
        shown = self._shown()
        width = sum(i.sizeHint().width() for i in shown) + self._spacing * max(0, len(shown) - 1)
        height = max((i.sizeHint().height() for i in shown), default=0)
        return QSize(width, height) + self._margin_size()

    def minimumSize(self) -> QSize:  # noqa: N802 (Qt name)
        size = QSize()
        for item in self._shown():
            size = size.expandedTo(item.minimumSize())
        return size + self._margin_size()

    def _margin_size(self) -> QSize:
        margins = self.contentsMargins()
        return QSize(margins.left() + margins.right(), margins.top() + margins.bottom())

    def _shown(self) -> list:
        return [item for item in self._items if not item.isEmpty()]

    def _rows(self, width: int) -> list[list]:
        rows, row, used = [], [], 0
        for item in self._shown():
            item_width = item.sizeHint().width()
            if row and used + self._spacing + item_width > width:
                rows.append(row)
                row, used = [], 0
            used += (self._spacing if row else 0) + item_width
            row.append(item)
        return rows + [row] if row else rows

    def _arrange(self, rect: QRect, move: bool) -> int:
        margins = self.contentsMargins()
        inner = rect.adjusted(margins.left(), margins.top(), -margins.right(), -margins.bottom())
        y = inner.y()
        for row in self._rows(inner.width()):
            row_height = max(item.sizeHint().height() for item in row)
            x = inner.x()
            for item in row:
                hint = item.sizeHint()
                if move:
                    width = min(hint.width(), inner.width())
                    top = y + (row_height - hint.height()) // 2
                    item.setGeometry(QRect(QPoint(x, top), QSize(width, hint.height())))
                x += hint.width() + self._spacing
            y += row_height + self._spacing
        return y - self._spacing - rect.y() + margins.bottom() if self._shown() else margins.top() + margins.bottom()


class FittingTabs(QWidget):
    """Tabs over pages, as tall as the page on show (QTabWidget is as tall as its tallest page, which leaves a short
    page floating in empty space). The QTabWidget calls the views use are kept."""

    currentChanged = Signal(int)  # noqa: N815 (Qt name)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.bar = QTabBar(self)
        self.bar.setDocumentMode(True)
        self.bar.setExpanding(False)
        self.bar.setDrawBase(True)
        self.bar.currentChanged.connect(self._show_current)
        self._pages: list[QWidget] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.bar)
        self._area = QVBoxLayout()
        layout.addLayout(self._area)

    def setDocumentMode(self, on: bool) -> None:  # noqa: N802 (QTabWidget name)
        self.bar.setDocumentMode(on)

    def tabBar(self) -> QTabBar:  # noqa: N802 (QTabWidget name)
        return self.bar

    def addTab(self, page: QWidget, label: str) -> int:  # noqa: N802 (QTabWidget name)
        return self.insertTab(len(self._pages), page, label)

    def insertTab(self, index: int, page: QWidget, label: str) -> int:  # noqa: N802 (QTabWidget name)
        index = max(0, min(index, len(self._pages)))
        self._pages.insert(index, page)
        self._area.insertWidget(index, page)
        page.setVisible(False)
        self.bar.blockSignals(True)
        self.bar.insertTab(index, label)
        self.bar.blockSignals(False)
        self._show_current(self.bar.currentIndex())
        return index

    def removeTab(self, index: int) -> None:  # noqa: N802 (QTabWidget name)
        if 0 <= index < len(self._pages):
            page = self._pages.pop(index)
            self._area.removeWidget(page)
            page.setVisible(False)
            self.bar.removeTab(index)
            self._show_current(self.bar.currentIndex())

    def count(self) -> int:
        return len(self._pages)

    def widget(self, index: int) -> QWidget | None:
        return self._pages[index] if 0 <= index < len(self._pages) else None

    def indexOf(self, page: QWidget) -> int:  # noqa: N802 (QTabWidget name)
        return self._pages.index(page) if page in self._pages else -1

    def currentIndex(self) -> int:  # noqa: N802 (QTabWidget name)
        return self.bar.currentIndex()

    def currentWidget(self) -> QWidget | None:  # noqa: N802 (QTabWidget name)
        return self.widget(self.currentIndex())

    def setCurrentIndex(self, index: int) -> None:  # noqa: N802 (QTabWidget name)
        self.bar.setCurrentIndex(index)

    def setCurrentWidget(self, page: QWidget) -> None:  # noqa: N802 (QTabWidget name)
        self.setCurrentIndex(self.indexOf(page))

    def setTabEnabled(self, index: int, enabled: bool) -> None:  # noqa: N802 (QTabWidget name)
        self.bar.setTabEnabled(index, enabled)

    def isTabEnabled(self, index: int) -> bool:  # noqa: N802 (QTabWidget name)
        return self.bar.isTabEnabled(index)

    def _show_current(self, current: int) -> None:
        for index, page in enumerate(self._pages):
            page.setVisible(index == current)
        self.currentChanged.emit(current)


class HeaderLayout(_ArrangingLayout):
    """A card header: leading items (number, title, state) on the left and trailing buttons on the right, in one row
    while they fit. The elastic leading items (elided labels) give way first; when even they cannot make room, the
    buttons move to a row of their own below, wrapping further if the card is narrower still."""

    def __init__(self, parent: QWidget | None = None, spacing: int = 4):
        super().__init__(parent)
        self._lead: list = []  # (item, elastic)
        self._tail: list = []
        self._spacing = spacing
        self.setContentsMargins(0, 0, 0, 0)

    def add_lead(self, widget: QWidget, elastic: bool = False) -> None:
        self.addChildWidget(widget)
        self._lead.append((QWidgetItem(widget), elastic))
        self.invalidate()

    def add_tail(self, widget: QWidget) -> None:
        self.addChildWidget(widget)
        self._tail.append(QWidgetItem(widget))
        self.invalidate()

    # --- QLayout ---------------------------------------------------------------------------------

    def _all(self) -> list:
        return [item for item, _ in self._lead] + self._tail

    def addItem(self, item) -> None:  # noqa: N802 (Qt name; widgets come through add_lead/add_tail)
        self._tail.append(item)

    def count(self) -> int:
        return len(self._all())

    def itemAt(self, index: int):  # noqa: N802 (Qt name)
        items = self._all()
        return items[index] if 0 <= index < len(items) else None

    def takeAt(self, index: int):  # noqa: N802 (Qt name)
        if 0 <= index < len(self._lead):
            return self._lead.pop(index)[0]
        index -= len(self._lead)
        return self._tail.pop(index) if 0 <= index < len(self._tail) else None

    def expandingDirections(self):  # noqa: N802 (Qt name)
        return Qt.Orientation.Horizontal

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt name)
        lead = self._shown_lead()
        tail = self._shown_tail()
        width = self._row_width([i.sizeHint().width() for i, _ in lead] + [i.sizeHint().width() for i in tail])
        return QSize(width, self._row_height([i for i, _ in lead] + tail))

    def minimumSize(self) -> QSize:  # noqa: N802 (Qt name)
        lead_min = self._lead_min_width()
        tail_min = max((i.sizeHint().width() for i in self._shown_tail()), default=0)
        return QSize(max(lead_min, tail_min), self._row_height([i for i, _ in self._shown_lead()]))

    # --- arranging -----------------------------------------------------------------------------

    def _shown_lead(self) -> list:
        return [(item, elastic) for item, elastic in self._lead if not item.isEmpty()]

    def _shown_tail(self) -> list:
        return [item for item in self._tail if not item.isEmpty()]

    def _row_width(self, widths: list[int]) -> int:
        return sum(widths) + self._spacing * max(0, len(widths) - 1)

    @staticmethod
    def _row_height(items: list) -> int:
        return max((item.sizeHint().height() for item in items), default=0)

    def _lead_min_width(self) -> int:
        return self._row_width([(i.minimumSize() if elastic else i.sizeHint()).width()
                                for i, elastic in self._shown_lead()])

    def _arrange(self, rect: QRect, move: bool) -> int:
        lead, tail = self._shown_lead(), self._shown_tail()
        tail_width = self._row_width([i.sizeHint().width() for i in tail])
        one_row = not tail or rect.width() >= self._lead_min_width() + self._spacing + tail_width
        lead_width = rect.width() - (tail_width + self._spacing if one_row and tail else 0)
        row_height = self._row_height([i for i, _ in lead] + (tail if one_row else []))
        if move:
            self._place_lead(lead, QRect(rect.x(), rect.y(), lead_width, row_height))
        if one_row:
            if move:
                self._place_row(tail, rect.x() + rect.width() - tail_width, rect.y(), row_height)
            return row_height
        y = rect.y() + (row_height + self._spacing if lead else 0)
        return y - rect.y() + self._place_wrapped(tail, rect, y, move)

    def _place_lead(self, lead: list, rect: QRect) -> None:
        fixed = sum(i.sizeHint().width() for i, elastic in lead if not elastic)
        elastic_items = [i for i, elastic in lead if elastic]
        spare = rect.width() - fixed - self._spacing * max(0, len(lead) - 1)
        widths = _share(spare, [(i.minimumSize().width(), i.sizeHint().width()) for i in elastic_items])
        x = rect.x()
        for item, elastic in lead:
            width = widths.pop(0) if elastic else item.sizeHint().width()
            height = item.sizeHint().height()
            item.setGeometry(QRect(x, rect.y() + (rect.height() - height) // 2, width, height))
            x += width + self._spacing

    def _place_row(self, items: list, x: int, y: int, row_height: int) -> None:
        for item in items:
            hint = item.sizeHint()
            item.setGeometry(QRect(QPoint(x, y + (row_height - hint.height()) // 2), hint))
            x += hint.width() + self._spacing

    def _place_wrapped(self, items: list, rect: QRect, y: int, move: bool) -> int:
        """Right-aligned rows of buttons from ``y``; returns their total height."""
        rows, row, used = [], [], 0
        for item in items:
            width = item.sizeHint().width()
            if row and used + self._spacing + width > rect.width():
                rows.append(row)
                row, used = [], 0
            used += (self._spacing if row else 0) + width
            row.append(item)
        rows += [row] if row else []
        top = y
        for row in rows:
            height = self._row_height(row)
            if move:
                self._place_row(row, rect.x() + max(0, rect.width() - self._row_width(
                    [i.sizeHint().width() for i in row])), y, height)
            y += height + self._spacing
        return y - top - self._spacing if rows else 0


def _share(space: int, ranges: list[tuple[int, int]]) -> list[int]:
    """Widths for elastic items: each its minimum, then the rest of ``space`` towards each one's wish, in order. Too
    little space for the minimums shares what there is in their proportion (a card narrower than any sensible one)."""
    lows = sum(low for low, _ in ranges)
    if space < lows:
        return [max(0, space) * low // lows for low, _ in ranges] if lows else [0] * len(ranges)
    widths = [low for low, _ in ranges]
    left = max(0, space - sum(widths))
    for index, (low, high) in enumerate(ranges):
        extra = min(left, max(0, high - low))
        widths[index] += extra
        left -= extra
    return widths
