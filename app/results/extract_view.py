"""Extract result: the JSON as an editable key/value tree, the raw model text next to it, and templates.

Values keep their JSON type: a number edited to "12.5" stays a number, text stays text, and typing "true" into a
boolean keeps it a boolean. Anything that does not parse as the old type becomes text rather than being refused.
"""

from __future__ import annotations

import json

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QHBoxLayout, QInputDialog, QMenu, QMessageBox, QPlainTextEdit, QPushButton,
                               QStyledItemDelegate, QTabWidget, QToolButton, QTreeWidget, QTreeWidgetItem, QWidget)

from app.document import templates
from app.document.model import IN_PROGRESS_STATES
from app.document.content import extract_data, pretty_json
from app.results.formula_view import notice_label
from app.results.base import ResultView

TYPE_ROLE = Qt.ItemDataRole.UserRole
KEY_COLUMN, VALUE_COLUMN = 0, 1
TREE_TAB, RAW_TAB = 0, 1
MAX_TREE_HEIGHT = 360
KEY_GAP = 16


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

    def set_data(self, data) -> None:
        self.blockSignals(True)
        self.clear()
        root = self.invisibleRootItem()
        self._add_children(root, data)
        self.expandAll()
        self.resizeColumnToContents(KEY_COLUMN)
        self.setColumnWidth(KEY_COLUMN, self.columnWidth(KEY_COLUMN) + KEY_GAP)  # keys never touch values
        self.blockSignals(False)
        self._fit_height()

    def _fit_height(self) -> None:
        """Show every field without an inner scrollbar, up to a limit (cards sit in a scrolling column)."""
        rows, item = 0, self.topLevelItem(0)
        while item is not None:
            rows += 1
            item = self.itemBelow(item)
        row_height = self.sizeHintForRow(0) if rows else self.fontMetrics().height()
        height = self.header().sizeHint().height() + rows * row_height + 2 * self.frameWidth() + 2
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
    """Container rows show a count in the value column; only their key can be edited."""

    def createEditor(self, parent, option, index):  # noqa: N802 (Qt name)
        if index.model().hasChildren(index.siblingAtColumn(KEY_COLUMN)):
            return None
        return super().createEditor(parent, option, index)


class ExtractResultView(ResultView):
    """``edited(str)`` carries the edited JSON text after every change in the tree."""

    def __init__(self, region, parent=None):
        super().__init__(region, parent)
        layout = self.body
        data, error = extract_data(region)
        self.error_label = notice_label(f"{_sentence(error)} The raw text is kept below." if error else "")
        self.error_label.setVisible(bool(error))
        layout.addWidget(self.error_label)
        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)
        self.tree = JsonTree(self)
        self.raw = QPlainTextEdit(region.text)
        self.raw.setReadOnly(True)
        self.raw.setAccessibleName("Raw model text")
        self.tabs.addTab(self.tree, "Fields")
        self.tabs.addTab(self.raw, "Raw text")
        layout.addWidget(self.tabs)
        layout.addLayout(self._template_bar())
        self.parsed = error is None
        if self.parsed:
            self.tree.set_data(data)
        else:
            self.tabs.setTabEnabled(TREE_TAB, False)
            self.tabs.setCurrentIndex(RAW_TAB)
        self.tree.itemChanged.connect(self._on_item_changed)

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
        self.edited.emit(text)

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


class TemplateButton(QToolButton):
    """Card header button of Extract regions: pick a saved template, edit the region's template, or save it.

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
        saved = templates.list_templates()
        if saved:
            menu.addSeparator()
        for name in saved:
            menu.addAction(name).triggered.connect(lambda _=False, n=name: self.use_saved(n))
        menu.addSeparator()
        save = menu.addAction("Save this template as…")
        save.setEnabled(bool(self.region.schema))
        save.triggered.connect(self.save_current)

    def use_saved(self, name: str) -> None:
        try:
            self.apply(templates.load_template(name))
        except (OSError, ValueError) as exc:
            QMessageBox.warning(self, "Template not loaded", str(exc))

    def edit_template(self) -> None:
        text, ok = QInputDialog.getMultiLineText(self, "Extraction template", "JSON the model should fill in:",
                                                 self.region.schema or '{\n  "field": ""\n}')
        if not ok:
            return
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            QMessageBox.warning(self, "Not valid JSON", f"The template is not valid JSON: {exc}")
            return
        self.apply(text)

    def apply(self, text: str) -> None:
        self.region.schema = text
        if self.region.state not in IN_PROGRESS_STATES:
            self.card.rerun_requested.emit(self.region.id)

    def save_current(self) -> None:
        name, ok = QInputDialog.getText(self, "Save template", "Template name:")
        if ok and name.strip():
            save_template_with_questions(self, name.strip(), self.region.schema or "{}")

