"""Extract result: the JSON as an editable key/value tree, the model's text next to it (editable too), and templates.

Values keep their JSON type: a number edited to "12.5" stays a number, text stays text, and typing "true" into a
boolean keeps it a boolean. Anything that does not parse as the old type becomes text rather than being refused.
Text that is no JSON can be fixed by hand in the "Text" tab; once it parses, the fields appear. An Extract region
without a template shows ``TemplatePrompt`` instead of failing: pick a built-in template, a saved one, or write one.
"""

from __future__ import annotations

import json

from PySide6.QtCore import QRect, QSize, Qt, QTimer, Signal
from PySide6.QtWidgets import (QHBoxLayout, QInputDialog, QMenu, QMessageBox, QPushButton, QSizePolicy,
                               QStyledItemDelegate, QToolButton, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget)

from app.document import templates
from app.document.content import extract_data, pretty_json
from app.document.model import IN_PROGRESS_STATES
from app.results.base import ResultView
from app.results.formula_view import RERENDER_DELAY_MS
from app.results.widgets import FittingTabs, FlowLayout, SourceEditor, notice_label, wrapping_label

TYPE_ROLE = Qt.ItemDataRole.UserRole
KEY_COLUMN, VALUE_COLUMN = 0, 1
TREE_TAB, RAW_TAB = 0, 1
MAX_TREE_HEIGHT = 1600  # a longer tree scrolls inside its card
KEY_GAP = 16
KEY_SHARE = 0.45  # the key column's most of the tree's width
KEY_MIN_WIDTH = 60
CELL_PADDING = 8
NO_TEMPLATE = "Extract fills in a JSON template: choose the fields for this region."
EXAMPLE_TEMPLATE = '{\n  "field": ""\n}'


def _kind(value) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if value is None:
        return "null"
    return type(value).__name__  # str, int, float, bool


def _shown(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def parse_edited_value(text: str, kind: str):
    """Turn an edited cell back into JSON, keeping the old type where the text allows it."""
    if kind == "str":
        return text
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return text
    return value if not isinstance(value, (dict, list)) else text


class JsonTree(QTreeWidget):
    """Key/value tree over JSON data; ``data()`` rebuilds the JSON from what is shown."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setColumnCount(2)
        self.setHeaderLabels(["Key", "Value"])
        self.setAccessibleName("Extracted fields")
        self.setAlternatingRowColors(True)
        self.setItemDelegateForColumn(VALUE_COLUMN, _ValueDelegate(self))
        self.setEditTriggers(QTreeWidget.EditTrigger.DoubleClicked | QTreeWidget.EditTrigger.EditKeyPressed
                             | QTreeWidget.EditTrigger.SelectedClicked)
        # Long values wrap onto more lines of their row; nothing is elided or cut at the right edge.
        self.setWordWrap(True)
        self.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.setUniformRowHeights(False)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumWidth(1)
        self.header().setStretchLastSection(True)
        self.header().sectionResized.connect(self._relayout_soon)
        self.itemExpanded.connect(self._relayout_soon)
        self.itemCollapsed.connect(self._relayout_soon)
        self._relayout = QTimer(self, singleShot=True, interval=0)
        self._relayout.timeout.connect(self._rewrap)

    def set_data(self, data) -> None:
        self.blockSignals(True)
        self.clear()
        root = self.invisibleRootItem()
        self._add_children(root, data)
        self.expandAll()
        self.blockSignals(False)
        self._size_key_column()
        self._fit_height()

    def _size_key_column(self) -> None:
        """Keys as wide as the longest (with a gap before the values), but never more than KEY_SHARE of the tree:
        long keys never squeeze the values out of a narrow card."""
        wanted = self.sizeHintForColumn(KEY_COLUMN) + KEY_GAP
        limit = max(KEY_MIN_WIDTH, int(self.viewport().width() * KEY_SHARE))
        self.header().blockSignals(True)
        self.setColumnWidth(KEY_COLUMN, min(wanted, limit))
        self.header().blockSignals(False)

    def _relayout_soon(self, *args) -> None:
        self._relayout.start()

    def _rewrap(self) -> None:
        self._size_key_column()
        self.doItemsLayout()  # rows measure their wrapped values again at the new column width
        self._fit_height()

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        if event.oldSize().width() != event.size().width():
            self._relayout_soon()

    def rows_height(self) -> int:
        total, item = 0, self.topLevelItem(0)
        while item is not None:
            total += self.indexRowSizeHint(self.indexFromItem(item))
            item = self.itemBelow(item)
        return total

    def _fit_height(self) -> None:
        """Show every field without an inner scrollbar, up to a limit (cards sit in a scrolling column)."""
        row_height = self.fontMetrics().height() + 4
        height = self.header().sizeHint().height() + self.rows_height() + 2 * self.frameWidth() + 2
        self.setFixedHeight(min(max(height, 3 * row_height), MAX_TREE_HEIGHT))

    def _add_children(self, parent: QTreeWidgetItem, value) -> None:
        parent.setData(KEY_COLUMN, TYPE_ROLE, _kind(value))
        pairs = value.items() if isinstance(value, dict) else enumerate(value)
        for key, child in pairs:
            item = QTreeWidgetItem(parent)
            item.setText(KEY_COLUMN, str(key) if isinstance(value, dict) else f"[{key}]")
            editable = Qt.ItemFlag.ItemIsEditable if isinstance(value, dict) else Qt.ItemFlag.NoItemFlags
            item.setFlags(item.flags() | editable)
            if isinstance(child, (dict, list)):
                self._add_children(item, child)
                item.setText(VALUE_COLUMN, f"{{{len(child)}}}" if isinstance(child, dict) else f"[{len(child)}]")
            else:
                item.setData(KEY_COLUMN, TYPE_ROLE, _kind(child))
                item.setText(VALUE_COLUMN, _shown(child))
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)

    def data(self):
        return self._value_of(self.invisibleRootItem())

    def _value_of(self, item: QTreeWidgetItem):
        kind = item.data(KEY_COLUMN, TYPE_ROLE)
        if kind == "object":
            return {item.child(i).text(KEY_COLUMN): self._value_of(item.child(i)) for i in range(item.childCount())}
        if kind == "array":
            return [self._value_of(item.child(i)) for i in range(item.childCount())]
        return parse_edited_value(item.text(VALUE_COLUMN), kind)


class _ValueDelegate(QStyledItemDelegate):
    """Container rows show a count in the value column; only their key can be edited. A value's row is as tall as
    its text wrapped at the column's width."""

    def __init__(self, tree: QTreeWidget):
        super().__init__(tree)
        self.tree = tree

    def createEditor(self, parent, option, index):  # noqa: N802 (Qt name)
        if index.model().hasChildren(index.siblingAtColumn(KEY_COLUMN)):
            return None
        return super().createEditor(parent, option, index)

    def sizeHint(self, option, index) -> QSize:  # noqa: N802 (Qt name)
        hint = super().sizeHint(option, index)
        width = max(20, self.tree.columnWidth(index.column()) - CELL_PADDING)
        flags = Qt.TextFlag.TextWordWrap | Qt.TextFlag.TextWrapAnywhere
        text = option.fontMetrics.boundingRect(QRect(0, 0, width, 1 << 20), int(flags), str(index.data() or ""))
        return QSize(min(hint.width(), width), max(hint.height(), text.height() + 4))


class ExtractResultView(ResultView):
    """``edited(str)`` carries the edited JSON text after every change in the tree."""

    def __init__(self, region, parent=None):
        super().__init__(region, parent)
        layout = self.body
        data, error = extract_data(region)
        self.error_label = notice_label("")
        layout.addWidget(self.error_label)
        self.tabs = FittingTabs(self)
        self.tree = JsonTree(self)
        self.raw = SourceEditor(region.display_text, "Raw model text", min_lines=3)
        self.tabs.addTab(self.tree, "Fields")
        self.tabs.addTab(self.raw, "Text")
        layout.addWidget(self.tabs)
        layout.addLayout(self._template_bar())
        self.parsed = False
        self._show_parse(data, error)
        self.tree.itemChanged.connect(self._on_item_changed)
        self._raw_pause = QTimer(self, singleShot=True, interval=RERENDER_DELAY_MS)
        self._raw_pause.timeout.connect(self._commit_raw)
        self.raw.textChanged.connect(self._raw_pause.start)

    def _show_parse(self, data, error) -> None:
        """Fields when the text is JSON; otherwise the text (the user can fix it) and what is wrong with it."""
        was_parsed, self.parsed = self.parsed, error is None
        self.error_label.setText(f"{_sentence(error)} Fix the text below and the fields appear." if error else "")
        self.error_label.setVisible(bool(error))
        self.tabs.setTabEnabled(TREE_TAB, self.parsed)
        if self.parsed:
            self.tree.set_data(data)
            if not was_parsed:
                self.tabs.setCurrentIndex(TREE_TAB)
        else:
            self.tabs.setCurrentIndex(RAW_TAB)

    def _template_bar(self) -> QHBoxLayout:
        bar = QHBoxLayout()
        self.save_template_button = QPushButton("Save as template…")
        self.save_template_button.setToolTip("Save these fields (values emptied) as a reusable extraction template")
        self.save_template_button.clicked.connect(self.ask_and_save_template)
        bar.addStretch(1)
        bar.addWidget(self.save_template_button)
        return bar

    def text(self) -> str:
        return pretty_json(self.tree.data()) if self.parsed else self.region.display_text

    def _on_item_changed(self, item, column) -> None:
        text = pretty_json(self.tree.data())
        self.region.edited_text = text
        self.raw.blockSignals(True)  # the text tab follows the tree without parsing it back
        self.raw.set_text_keeping_undo(text)
        self.raw.blockSignals(False)
        self.edited.emit(text)

    def _commit_raw(self) -> None:
        text = self.raw.toPlainText()
        if text != self.region.display_text:
            self.region.edited_text = text
            self.edited.emit(text)
        self._show_parse(*extract_data(self.region))  # the tree is rebuilt with its signals blocked

    def flush(self) -> None:
        """Commit a text edit still waiting in the typing pause (before a save or an export)."""
        if self._raw_pause.isActive():
            self._raw_pause.stop()
            self._commit_raw()

    def template_text(self) -> str:
        data, error = extract_data(self.region)
        return pretty_json(templates.template_from_data(data if error is None else {}))

    def ask_and_save_template(self) -> None:
        name, ok = QInputDialog.getText(self, "Save template", "Template name:")
        if ok and name.strip():
            save_template_with_questions(self, name.strip(), self.template_text())


def _sentence(message: str) -> str:
    """The core's lower-case parse message as a sentence of its own."""
    return f"{message[:1].upper()}{message[1:]}."


def save_template_with_questions(parent: QWidget, name: str, text: str) -> bool:
    """Save, asking before replacing a template of the same name; errors are shown, never raised."""
    overwrite = False
    while True:
        try:
            templates.save_template(name, text, overwrite=overwrite)
            return True
        except FileExistsError:
            question = f"A template named “{name}” exists. Replace it?"
            if overwrite or QMessageBox.question(parent, "Replace template?", question) != QMessageBox.StandardButton.Yes:
                return False
            overwrite = True
        except (OSError, ValueError) as exc:
            QMessageBox.warning(parent, "Template not saved", str(exc))
            return False


def ask_for_template(parent: QWidget, start_text: str) -> str | None:
    """Let the user write a template; None when cancelled or not JSON (after saying why)."""
    text, ok = QInputDialog.getMultiLineText(parent, "Extraction template", "JSON the model should fill in:",
                                             start_text or EXAMPLE_TEMPLATE)
    if not ok:
        return None
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        QMessageBox.warning(parent, "Not valid JSON", f"The template is not valid JSON: {exc}")
        return None
    return text


def load_template_or_say(parent: QWidget, entry: templates.TemplateEntry) -> str | None:
    try:
        return templates.load_entry(entry)
    except (OSError, ValueError) as exc:
        QMessageBox.warning(parent, "Template not loaded", str(exc))
        return None


def add_template_entries(menu: QMenu, choose) -> None:
    """The built-in templates, then the user's saved ones, each calling ``choose(entry)``."""
    entries = templates.all_templates()
    for builtin in (True, False):
        group = [e for e in entries if e.builtin == builtin]
        if group:
            menu.addSection("Built-in templates" if builtin else "Your templates")
        for entry in group:
            menu.addAction(entry.name).triggered.connect(lambda _=False, e=entry: choose(e))


class TemplatePrompt(QWidget):
    """What an Extract region without a template shows instead of an error: one button per built-in template,
    a menu of the user's saved ones, and "Write one…". ``chosen(text)`` carries the template's JSON."""

    chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setAccessibleName("Choose an extraction template")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 2, 0, 2)
        self.label = wrapping_label(NO_TEMPLATE)
        layout.addWidget(self.label)
        self.buttons = FlowLayout(spacing=4)
        layout.addLayout(self.buttons)
        for name in templates.builtin_templates():
            self._add_button(name, f"Fill in the built-in “{name}” template",
                             lambda _=False, n=name: self._choose(templates.TemplateEntry(n, builtin=True)))
        saved = templates.list_templates()
        if saved:
            mine = self._add_button("Saved ▾", "One of your saved templates", None)
            menu = QMenu(mine)
            for name in saved:
                menu.addAction(name).triggered.connect(lambda _=False, n=name: self._choose(templates.TemplateEntry(n)))
            mine.setMenu(menu)
            mine.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self._add_button("Write one…", "Write the JSON the model should fill in", self.write_template)

    def _add_button(self, text: str, tip: str, slot) -> QToolButton:
        button = QToolButton(self)
        button.setText(text)
        button.setToolTip(tip)
        button.setAccessibleName(tip)
        if slot is not None:
            button.clicked.connect(slot)
        self.buttons.addWidget(button)
        return button

    def button(self, text: str) -> QToolButton | None:
        return next((b for b in self.findChildren(QToolButton) if b.text() == text), None)

    def _choose(self, entry: templates.TemplateEntry) -> None:
        text = load_template_or_say(self, entry)
        if text is not None:
            self.chosen.emit(text)

    def write_template(self) -> None:
        text = ask_for_template(self, EXAMPLE_TEMPLATE)
        if text is not None:
            self.chosen.emit(text)


class TemplateButton(QToolButton):
    """Card header button of Extract regions: pick a built-in or saved template, edit the region's template, or
    save it.

    Choosing or editing a template stores it as ``region.schema`` and asks the card to run the region again, so the
    model answers in the new format.
    """

    def __init__(self, card, parent=None):
        super().__init__(parent)
        self.card = card
        self.setText("Template")
        self.setToolTip("The JSON template the model fills in for this region")
        self.setAccessibleName("Extraction template")
        self.setAutoRaise(True)
        self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self)
        menu.aboutToShow.connect(self._fill_menu)
        self.setMenu(menu)

    @property
    def region(self):
        return self.card.region

    def _fill_menu(self) -> None:
        menu = self.menu()
        menu.clear()
        menu.addAction("Edit template…").triggered.connect(self.edit_template)
        add_template_entries(menu, self.use_entry)
        menu.addSeparator()
        save = menu.addAction("Save this template as…")
        save.setEnabled(bool(self.region.schema))
        save.triggered.connect(self.save_current)

    def use_saved(self, name: str) -> None:
        self.use_entry(templates.TemplateEntry(name))

    def use_entry(self, entry: templates.TemplateEntry) -> None:
        text = load_template_or_say(self, entry)
        if text is not None:
            self.apply(text)

    def edit_template(self) -> None:
        text = ask_for_template(self, self.region.schema or EXAMPLE_TEMPLATE)
        if text is not None:
            self.apply(text)

    def apply(self, text: str) -> None:
        self.region.schema = text
        if self.region.state not in IN_PROGRESS_STATES:
            self.card.rerun_requested.emit(self.region.id)

    def save_current(self) -> None:
        name, ok = QInputDialog.getText(self, "Save template", "Template name:")
        if ok and name.strip():
            save_template_with_questions(self, name.strip(), self.region.schema or "{}")
