"""The side list of every region in the document, in reading order, with its task and its honest state (how it
ended, and whether its result is from a box the user has moved since)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QTreeWidget, QTreeWidgetItem

from app.document.model import FAILED
from app.task_style import STATE_SYMBOLS, TASK_COLORS, TASK_LABELS, region_state_label

ID_ROLE = Qt.ItemDataRole.UserRole
COLUMNS = ("#", "Task", "Page", "State")
OLD_BOX = "old box"
OLD_BOX_TIP = "This result is from the region's old box: run it again to read the new one."


class RegionList(QTreeWidget):
    region_activated = Signal(str)  # the user picked a region in the list

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setAccessibleName("Regions")
        self.setAccessibleDescription("All regions of the document in reading order")
        self.setColumnCount(len(COLUMNS))
        self.setHeaderLabels(list(COLUMNS))
        self.setRootIsDecorated(False)
        self.setUniformRowHeights(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setColumnWidth(0, 30)
        self.setColumnWidth(1, 100)  # room for the longest task label, "Extract (JSON)"
        self.setColumnWidth(2, 40)
        self.itemSelectionChanged.connect(self._emit_selection)
        self._syncing = False

    def sync(self, regions_in_order) -> None:
        selected = self.selected_id()
        self._syncing = True
        self.clear()
        for number, region in enumerate(regions_in_order, start=1):
            self.addTopLevelItem(self._make_item(number, region))
        self._syncing = False
        self.select(selected)

    def _make_item(self, number: int, region) -> QTreeWidgetItem:
        symbol = "" if region.is_picture or (region.excluded and not region.is_finished) else \
            STATE_SYMBOLS.get(region.state, "")
        state = f"{symbol} {region_state_label(region)}".strip()
        if region.outcome_is_outdated:
            state += f" · {OLD_BOX}"
        task = TASK_LABELS[region.task] + (f" · {region.label}" if region.label else "")
        item = QTreeWidgetItem([str(number), task, str(region.page + 1), state])
        item.setData(0, ID_ROLE, region.id)
        item.setForeground(1, QColor(TASK_COLORS[region.task]))
        if region.state == FAILED:
            item.setToolTip(3, region.error or "")
        elif region.outcome_is_outdated:
            item.setToolTip(3, OLD_BOX_TIP)
        return item

    def item_for(self, region_id: str) -> QTreeWidgetItem | None:
        for index in range(self.topLevelItemCount()):
            item = self.topLevelItem(index)
            if item.data(0, ID_ROLE) == region_id:
                return item
        return None

    def state_of(self, region_id: str) -> str:
        item = self.item_for(region_id)
        return item.text(3) if item else ""

    def selected_id(self) -> str:
        items = self.selectedItems()
        return items[0].data(0, ID_ROLE) if items else ""

    def select(self, region_id: str) -> None:
        self._syncing = True
        self.clearSelection()
        item = self.item_for(region_id)
        if item is not None:
            item.setSelected(True)
            self.scrollToItem(item)
        self._syncing = False

    def _emit_selection(self) -> None:
        if not self._syncing:
            self.region_activated.emit(self.selected_id())
