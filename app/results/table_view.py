"""Table result: an editable grid with merged cells, row/column edits, undo/redo and spreadsheet copy/paste.

The grid itself is a ``glmocr_core.tasks.tables.TableGrid``; every change replaces it with an edited copy
(``app.document.table_edit``) through a QUndoCommand that remembers the grid before and after. The grid is as tall as
its rows (long cells wrap and make their row taller) up to a limit. Model text that is no table is shown in an
editable box: once the user's fix reads as a table, the grid takes its place.
"""

from __future__ import annotations

import html

from PySide6.QtCore import QAbstractTableModel, QEvent, QModelIndex, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QFont, QFontMetrics, QGuiApplication, QKeySequence, QUndoCommand, QUndoStack
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QMenu, QSizePolicy, QTableView, QToolButton

from glmocr_core.tasks.tables import parse_html_table

from app.document import table_edit
from app.document.content import CopyChoice, table_grid
from app.results.base import ResultView
from app.results.copy_menu import copy_to_clipboard
from app.results.formula_view import RERENDER_DELAY_MS
from app.results.widgets import FlowLayout, SourceEditor, notice_label

MAX_VISIBLE_ROWS = 40  # a longer table scrolls inside its card
MAX_COLUMN_WIDTH = 260  # a column of long texts starts this wide and wraps its cells
COLUMN_SHARE = 0.6  # ... or this share of a narrow card
MIN_COLUMN_LIMIT = 80
CELL_PADDING = 14  # the cell's margins and the grid line
UNREADABLE = "The table could not be read ({reason}). The model's text is below: fix it and the grid appears."


def column_name(index: int) -> str:
    """Spreadsheet column letters: 0 -> A, 25 -> Z, 26 -> AA."""
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(ord("A") + rest) + name
    return name


class GridModel(QAbstractTableModel):
    """Read side of the grid for the view; an edit in the view asks ``edit_cell`` to push an undo step."""

    cell_edit_requested = Signal(int, int, str)

    def __init__(self, grid, parent=None):
        super().__init__(parent)
        self.grid = table_edit.normalized(grid)
        self._matrix = self.grid.to_matrix()
        self._headers = {(c.row, c.col) for c in self.grid.cells if c.header}

    def set_grid(self, grid) -> None:
        same_shape = (grid.n_rows, grid.n_cols) == (self.grid.n_rows, self.grid.n_cols) and _spans(grid) == _spans(
            self.grid)
        if not same_shape:
            self.beginResetModel()
        self.grid = grid
        self._matrix = grid.to_matrix()
        self._headers = {(c.row, c.col) for c in grid.cells if c.header}
        if same_shape:
            self.dataChanged.emit(self.index(0, 0), self.index(grid.n_rows - 1, grid.n_cols - 1))
        else:
            self.endResetModel()

    def rowCount(self, parent=QModelIndex()):  # noqa: N802 (Qt name)
        return 0 if parent.isValid() else self.grid.n_rows

    def columnCount(self, parent=QModelIndex()):  # noqa: N802 (Qt name)
        return 0 if parent.isValid() else self.grid.n_cols

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return self._matrix[index.row()][index.column()]
        if role == Qt.ItemDataRole.FontRole and (index.row(), index.column()) in self._headers:
            return _bold(QFont())
        return None

    def setData(self, index, value, role=Qt.ItemDataRole.EditRole):  # noqa: N802 (Qt name)
        if role != Qt.ItemDataRole.EditRole or not index.isValid():
            return False
        if str(value) != self._matrix[index.row()][index.column()]:
            self.cell_edit_requested.emit(index.row(), index.column(), str(value))
        return True

    def flags(self, index):
        return super().flags(index) | Qt.ItemFlag.ItemIsEditable

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802 (Qt name)
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        return column_name(section) if orientation == Qt.Orientation.Horizontal else str(section + 1)


def _bold(font: QFont) -> QFont:
    font = QFont(font)
    font.setBold(True)
    return font


def _spans(grid) -> list[tuple[int, int, int, int]]:
    return sorted((c.row, c.col, c.rowspan, c.colspan) for c in grid.cells if c.rowspan > 1 or c.colspan > 1)


class GridChange(QUndoCommand):
    def __init__(self, editor: "TableEditor", before, after, label: str):
        super().__init__(label)
        self.editor, self.before, self.after = editor, before, after

    def redo(self):
        self.editor.show_grid(self.after)

    def undo(self):
        self.editor.show_grid(self.before)


class TableEditor(QObject):
    """The grid, its undo stack and its model. ``changed`` fires after every edit, undo and redo."""

    changed = Signal()

    def __init__(self, grid, parent=None):
        super().__init__(parent)
        self.model = GridModel(grid, self)
        self.undo_stack = QUndoStack(self)
        self.model.cell_edit_requested.connect(self.set_cell)

    @property
    def grid(self):
        return self.model.grid

    def show_grid(self, grid) -> None:
        self.model.set_grid(grid)
        self.changed.emit()

    def apply(self, label: str, edit, *args) -> bool:
        """Run ``edit(grid, *args)`` as one undo step; False (nothing changes) when the edit is refused."""
        try:
            after = edit(self.grid, *args)
        except (ValueError, IndexError):
            return False
        self.undo_stack.push(GridChange(self, self.grid, after, label))
        return True

    def set_cell(self, row: int, col: int, text: str) -> bool:
        return self.apply("Edit cell", table_edit.set_text, row, col, text)

    def paste_block(self, top: int, left: int, rows: list[list[str]]) -> bool:
        """Paste a block of texts at (top, left), growing the table when the block reaches past its edge."""
        return self.apply("Paste", _paste, top, left, rows)


def _paste(grid, top: int, left: int, rows: list[list[str]]):
    width = max((len(r) for r in rows), default=0)
    while grid.n_rows < top + len(rows):
        grid = table_edit.insert_row(grid, grid.n_rows)
    while grid.n_cols < left + width:
        grid = table_edit.insert_col(grid, grid.n_cols)
    for dr, texts in enumerate(rows):
        for dc, text in enumerate(texts):
            grid = table_edit.set_text(grid, top + dr, left + dc, text)
    return grid


def parse_tsv(text: str) -> list[list[str]]:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n").split("\n")
    return [line.split("\t") for line in lines] if text.strip("\n") else []


class TableResultView(ResultView):
    """``edited(str)`` carries the table as HTML (spans kept) after every edit, undo and redo."""

    def __init__(self, region, parent=None):
        super().__init__(region, parent)
        self.editor = None
        self.raw = None
        try:
            grid = table_grid(region)
        except ValueError as exc:
            self._show_unreadable(str(exc))
            return
        self._show_grid(grid)

    def text(self) -> str:
        return self.editor.grid.to_html() if self.editor is not None else self.region.display_text

    # --- building ---------------------------------------------------------------------------

    def _show_grid(self, grid) -> None:
        self.editor = TableEditor(grid, self)
        self.table = self._make_table()
        self.body.addLayout(self._make_toolbar())
        self.body.addWidget(self.table)
        self.editor.model.modelReset.connect(self._apply_spans)
        self.editor.changed.connect(self._on_changed)
        self._user_sized_columns = False  # once the user touches the column header, widths are theirs
        self.table.horizontalHeader().sectionResized.connect(self._refit_soon)
        self.table.horizontalHeader().viewport().installEventFilter(self)
        self._refit = QTimer(self, singleShot=True, interval=0)
        self._refit.timeout.connect(self._fit_rows)
        self._size_columns()
        self._apply_spans()

    def _show_unreadable(self, reason: str) -> None:
        self.unreadable_notice = notice_label(UNREADABLE.format(reason=reason))
        self.body.addWidget(self.unreadable_notice)
        self.raw = SourceEditor(self.region.display_text, "Raw table text", min_lines=3)
        self.body.addWidget(self.raw)
        self._raw_pause = QTimer(self, singleShot=True, interval=RERENDER_DELAY_MS)
        self._raw_pause.timeout.connect(self._commit_raw)
        self.raw.textChanged.connect(self._raw_pause.start)

    def _commit_raw(self) -> None:
        """Store the user's fix; when it reads as a table now, show the grid instead of the text."""
        text = self.raw.toPlainText()
        if text != self.region.display_text:
            self.region.edited_text = text
            self.edited.emit(text)
        try:
            grid = parse_html_table(text)
        except ValueError as exc:
            self.unreadable_notice.setText(UNREADABLE.format(reason=exc))
            return
        for widget in (self.unreadable_notice, self.raw):
            self.body.removeWidget(widget)
            widget.deleteLater()
        self.raw = None
        self._show_grid(table_edit.normalized(grid))

    def flush(self) -> None:
        """Commit a fix still waiting in the typing pause (before a save or an export)."""
        if self.raw is not None and self._raw_pause.isActive():
            self._raw_pause.stop()
            self._commit_raw()

    def _make_table(self) -> QTableView:
        table = QTableView(self)
        table.setModel(self.editor.model)
        table.setAccessibleName("Table cells")
        table.setSelectionMode(QAbstractItemView.SelectionMode.ContiguousSelection)
        table.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked | QAbstractItemView.EditTrigger.EditKeyPressed
                              | QAbstractItemView.EditTrigger.AnyKeyPressed)
        table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        table.horizontalHeader().setMinimumSectionSize(36)
        table.horizontalHeader().setStretchLastSection(True)  # no dead grey area right of narrow tables
        table.verticalHeader().setDefaultSectionSize(table.fontMetrics().lineSpacing() + 10)
        table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        table.setWordWrap(True)
        table.setTextElideMode(Qt.TextElideMode.ElideNone)
        table.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        table.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        table.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        table.setMinimumWidth(1)  # wide tables scroll sideways inside the card instead of widening it
        table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        table.customContextMenuRequested.connect(self._context_menu)
        table.installEventFilter(self)
        return table

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt name)
        """The card's undo, redo, copy and paste keys belong to the grid while it has focus, even when the window
        has actions on the same keys (which would otherwise make the shortcut ambiguous and do nothing); so does
        typing: a digit typed into a cell is the cell's, never a window shortcut such as a task key."""
        if event.type() == QEvent.Type.MouseButtonPress and watched is self.table.horizontalHeader().viewport():
            self._user_sized_columns = True
        if watched is self.table and event.type() == QEvent.Type.ShortcutOverride:
            if self._action_for_key(event) is not None or _is_typing(event):
                event.accept()
                return True
        if watched is self.table and event.type() == QEvent.Type.KeyPress and self.table.state() != \
                QAbstractItemView.State.EditingState:
            action = self._action_for_key(event)
            if action is not None:
                action.trigger()
                return True
        return super().eventFilter(watched, event)

    def _action_for_key(self, event):
        pressed = QKeySequence(event.keyCombination())
        for action in (self.undo_action, self.redo_action, self.copy_action, self.paste_action):
            if any(pressed.matches(key) == QKeySequence.SequenceMatch.ExactMatch for key in action.shortcuts()):
                return action if action.isEnabled() else None
        return None

    def _make_toolbar(self) -> FlowLayout:
        bar = FlowLayout(spacing=2)
        stack = self.editor.undo_stack
        self.undo_action = self._action(stack.createUndoAction(self, "Undo"), QKeySequence.StandardKey.Undo)
        self.redo_action = self._action(stack.createRedoAction(self, "Redo"),
                                        QKeySequence("Ctrl+Shift+Z"), QKeySequence.StandardKey.Redo)
        self.copy_action = self._action(QAction("Copy cells", self), QKeySequence.StandardKey.Copy)
        self.copy_action.triggered.connect(self.copy_selection)
        self.paste_action = self._action(QAction("Paste cells", self), QKeySequence.StandardKey.Paste)
        self.paste_action.triggered.connect(self.paste_clipboard)
        buttons = [("+ Row", "Insert a row below the current one", self.insert_row_below),
                   ("− Row", "Delete the current row", self.remove_current_row),
                   ("+ Col", "Insert a column right of the current one", self.insert_col_right),
                   ("− Col", "Delete the current column", self.remove_current_col)]
        for text, tip, slot in buttons:
            bar.addWidget(self._button(text, tip, slot))
        for action in (self.undo_action, self.redo_action):
            button = QToolButton(self)
            button.setDefaultAction(action)
            button.setAutoRaise(True)
            bar.addWidget(button)
        return bar

    def _action(self, action: QAction, *keys) -> QAction:
        # Shortcuts only while focus is inside this card: many cards share one window.
        action.setShortcuts(list(keys))
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.addAction(action)
        return action

    def _button(self, text: str, tip: str, slot) -> QToolButton:
        button = QToolButton(self)
        button.setText(text)
        button.setToolTip(tip)
        button.setAccessibleName(tip)
        button.setAutoRaise(True)
        button.clicked.connect(slot)
        return button

    def _apply_spans(self) -> None:
        self.table.clearSpans()
        for cell in self.editor.grid.cells:
            if cell.rowspan > 1 or cell.colspan > 1:
                self.table.setSpan(cell.row, cell.col, cell.rowspan, cell.colspan)
        self._fit_rows()

    def _size_columns(self) -> None:
        """Columns as wide as their texts, but no wider than MAX_COLUMN_WIDTH or COLUMN_SHARE of the view: longer
        cells wrap instead."""
        header = self.table.horizontalHeader()
        limit = min(MAX_COLUMN_WIDTH, max(MIN_COLUMN_LIMIT, int(self.table.viewport().width() * COLUMN_SHARE)))
        wanted = self._text_widths()
        header.blockSignals(True)
        for col in range(self.editor.grid.n_cols):
            header.resizeSection(col, min(max(self.table.sizeHintForColumn(col), wanted.get(col, 0)), limit))
        header.blockSignals(False)

    def _text_widths(self) -> dict[int, int]:
        """Each column's widest one-column cell, merged cells included (Qt's own hint skips them), in its font."""
        plain, bold = self.table.fontMetrics(), QFontMetrics(_bold(self.table.font()))
        widths: dict[int, int] = {}
        for cell in self.editor.grid.cells:
            if cell.colspan == 1:
                metrics = bold if cell.header else plain
                text = max((metrics.horizontalAdvance(line) for line in cell.text.split("\n")), default=0)
                widths[cell.col] = max(widths.get(cell.col, 0), text + CELL_PADDING)
        return widths

    def _refit_soon(self, *args) -> None:
        self._refit.start()

    def _fit_rows(self) -> None:
        """Each row as tall as its wrapped cells, the grid as tall as its rows (up to MAX_VISIBLE_ROWS)."""
        self.table.resizeRowsToContents()
        self._fit_height()

    def _fit_height(self) -> None:
        header = self.table.verticalHeader()
        rows = min(self.editor.grid.n_rows, MAX_VISIBLE_ROWS)
        height = self.table.horizontalHeader().sizeHint().height() + sum(header.sectionSize(r) for r in range(rows))
        height += 2 * self.table.frameWidth() + 2
        if self._needs_horizontal_scroll():
            height += self.table.horizontalScrollBar().sizeHint().height()
        self.table.setFixedHeight(height)

    def _needs_horizontal_scroll(self) -> bool:
        header = self.table.horizontalHeader()
        columns = sum(header.sectionSize(c) for c in range(self.editor.grid.n_cols))
        return columns + self.table.verticalHeader().width() + 2 * self.table.frameWidth() > self.table.width()

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        if self.editor is not None and event.oldSize().width() != event.size().width():
            if not self._user_sized_columns:
                self._size_columns()
            self._refit_soon()


    # --- edits ------------------------------------------------------------------------------

    def _current(self) -> tuple[int, int]:
        index = self.table.currentIndex()
        if not index.isValid():
            return self.editor.grid.n_rows - 1, self.editor.grid.n_cols - 1
        return index.row(), index.column()

    def insert_row_below(self) -> None:
        self.editor.apply("Insert row", table_edit.insert_row, self._current()[0] + 1)

    def insert_col_right(self) -> None:
        self.editor.apply("Insert column", table_edit.insert_col, self._current()[1] + 1)

    def remove_current_row(self) -> None:
        self.editor.apply("Delete row", table_edit.remove_row, self._current()[0])

    def remove_current_col(self) -> None:
        self.editor.apply("Delete column", table_edit.remove_col, self._current()[1])

    def _context_menu(self, position) -> None:
        index = self.table.indexAt(position)
        if index.isValid():
            self.table.setCurrentIndex(index)
        row, col = self._current()
        menu = QMenu(self)
        entries = [("Insert row above", table_edit.insert_row, row), ("Insert row below", table_edit.insert_row, row + 1),
                   ("Insert column left", table_edit.insert_col, col),
                   ("Insert column right", table_edit.insert_col, col + 1),
                   ("Delete row", table_edit.remove_row, row), ("Delete column", table_edit.remove_col, col)]
        for label, edit, at in entries:
            menu.addAction(label).triggered.connect(lambda _=False, l=label, e=edit, a=at: self.editor.apply(l, e, a))
        menu.addSeparator()
        menu.addAction(self.copy_action)
        menu.addAction(self.paste_action)
        menu.exec(self.table.viewport().mapToGlobal(position))

    def _on_changed(self) -> None:
        """Store the grid in the region right away, so sessions and exports see every edit."""
        self._refit_soon()  # an edited cell may wrap onto more lines
        text = self.editor.grid.to_html()
        self.region.edited_text = text
        self.edited.emit(text)

    # --- clipboard --------------------------------------------------------------------------

    def selected_block(self) -> list[list[str]]:
        """Texts of the selected rectangle (the whole table when nothing is selected)."""
        matrix = self.editor.grid.to_matrix()
        ranges = self.table.selectionModel().selection() if self.table.selectionModel() else []
        if not ranges:
            return matrix
        first = ranges[0]
        return [row[first.left():first.right() + 1] for row in matrix[first.top():first.bottom() + 1]]

    def copy_selection(self) -> None:
        block = self.selected_block()
        tsv = "".join("\t".join(table_edit_flat(t) for t in row) + "\n" for row in block)
        table = "<table>" + "".join("<tr>" + "".join(f"<td>{_escape(t)}</td>" for t in row) + "</tr>"
                                    for row in block) + "</table>"
        copy_to_clipboard(CopyChoice("tsv", "Cells", tsv, table))

    def paste_clipboard(self) -> None:
        rows = parse_tsv(QGuiApplication.clipboard().text())
        if rows:
            top, left = self._current() if self.table.currentIndex().isValid() else (0, 0)
            self.editor.paste_block(top, left, rows)


def _is_typing(event) -> bool:
    """A key that types a character (no Ctrl, Alt or Meta): it starts or continues editing a cell."""
    held = event.modifiers() & ~(Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.KeypadModifier)
    return bool(event.text()) and event.text().isprintable() and held == Qt.KeyboardModifier.NoModifier


def table_edit_flat(text: str) -> str:
    return " ".join(text.replace("\t", " ").splitlines())


def _escape(text: str) -> str:
    return "<br>".join(html.escape(line, quote=False) for line in text.split("\n"))
