"""The user's actions on a document's regions as undo steps: one ``QUndoStack`` per open document, in one
``QUndoGroup`` whose active stack is the current document's (Edit ▸ Undo follows it).

Every step is recorded after the controller made the change (so the first ``redo`` that ``QUndoStack.push`` calls
does nothing) and changes regions only through a ``RegionEditor``, which keeps the page view, the region list, the
cards and the engine in step. A step remembers the values it changed; what the region became *after* the step is
read again when the step is undone, so results that arrived meanwhile (a re-run that finished) come back on redo
instead of being thrown away.
"""

from __future__ import annotations

from typing import Protocol

from PySide6.QtCore import QObject
from PySide6.QtGui import QUndoCommand, QUndoGroup, QUndoStack

from app.document.workspace import OpenDocument

Values = dict[str, dict]  # region id -> {field: value}
Snapshot = tuple[int, dict]  # position in the session's list, Region.to_dict() plus whether it was running


class RegionEditor(Protocol):
    def capture(self, opened: OpenDocument, region_id: str, names) -> dict: ...

    def apply(self, opened: OpenDocument, region_id: str, values: dict) -> None: ...

    def take_out(self, opened: OpenDocument, region_ids: list[str]) -> list[Snapshot]: ...

    def put_back(self, opened: OpenDocument, snapshots: list[Snapshot]) -> None: ...


class _Step(QUndoCommand):
    def __init__(self, editor: RegionEditor, opened: OpenDocument, text: str):
        super().__init__(text)
        self.editor, self.opened = editor, opened
        self._applied = True  # recorded after the fact


class RegionsChanged(_Step):
    """Some fields of some regions changed (a move, a new task, a re-run, an edit of the result). ``before`` holds
    the old values, field by field, of every region the step touched."""

    def __init__(self, editor: RegionEditor, opened: OpenDocument, text: str, before: Values):
        super().__init__(editor, opened, text)
        self.before = before
        self.after = self._read_now()

    def _read_now(self) -> Values:
        return {rid: self.editor.capture(self.opened, rid, _fields(values)) for rid, values in self.before.items()}

    def redo(self) -> None:
        if not self._applied:
            for region_id, values in self.after.items():
                self.editor.apply(self.opened, region_id, values)
            self._applied = True

    def undo(self) -> None:
        self.after = self._read_now()
        for region_id, values in self.before.items():
            self.editor.apply(self.opened, region_id, values)
        self._applied = False


def _fields(values: dict) -> list[str]:
    """The region fields a step remembers (an editor may keep its own notes under names starting with _)."""
    return [name for name in values if not name.startswith("_")]


class RegionsAdded(_Step):
    """Regions were drawn (or a whole page, or a pasted picture's region): undo takes them out, redo puts them back
    as they were when undone."""

    def __init__(self, editor: RegionEditor, opened: OpenDocument, text: str, region_ids: list[str]):
        super().__init__(editor, opened, text)
        self.region_ids = list(region_ids)
        self.snapshots: list[Snapshot] = []

    def redo(self) -> None:
        if not self._applied:
            self.editor.put_back(self.opened, self.snapshots)
            self._applied = True

    def undo(self) -> None:
        self.snapshots = self.editor.take_out(self.opened, self.region_ids)
        self._applied = False


class RegionsRemoved(_Step):
    """Regions were deleted, with their results and edits: undo brings all of it back."""

    def __init__(self, editor: RegionEditor, opened: OpenDocument, text: str, snapshots: list[Snapshot]):
        super().__init__(editor, opened, text)
        self.snapshots = snapshots
        self.region_ids = [data["id"] for _, data in snapshots]

    def redo(self) -> None:
        if not self._applied:
            self.snapshots = self.editor.take_out(self.opened, self.region_ids)
            self._applied = True

    def undo(self) -> None:
        self.editor.put_back(self.opened, self.snapshots)
        self._applied = False


class UndoHistories(QObject):
    """Each open document's undo stack, made when first needed and dropped when the document closes."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.group = QUndoGroup(self)
        self._stacks: dict[int, QUndoStack] = {}  # id(OpenDocument) -> its history

    def stack(self, opened: OpenDocument) -> QUndoStack:
        key = id(opened)
        if key not in self._stacks:
            self._stacks[key] = QUndoStack(self)
            self.group.addStack(self._stacks[key])
        return self._stacks[key]

    def push(self, opened: OpenDocument, step: QUndoCommand) -> None:
        self.stack(opened).push(step)

    def on_current_changed(self, opened: OpenDocument | None) -> None:
        self.group.setActiveStack(self.stack(opened) if opened is not None else None)

    def on_document_closing(self, opened: OpenDocument) -> None:
        stack = self._stacks.pop(id(opened), None)
        if stack is not None:
            self.group.removeStack(stack)
            stack.deleteLater()
