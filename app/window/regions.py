"""Regions: drawing, choosing their task, running them through the engine, and keeping the page view, the region
list and the result cards in step (selection included).

The user's actions on regions are undo steps of their document (``app.window.undo``): drawing, moving, resizing,
deleting, a new task, a re-run and an edit of a result. Nothing the user did not ask for replaces a result: moving a
region keeps its result (the card says it is the old box's and offers a re-run), and a re-run of an edited result asks
first. Engine answers name regions only; they land in whichever open document holds the region.

The default task for new regions is state here; ``task_changed`` tells the toolbar which task to show checked.
Every change worth saving ends in ``workspace.mark_changed()``.
"""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QMessageBox

from glmocr_core.api import TASKS
from glmocr_core.tasks.specs import MAX_NEW_TOKENS

from app.document.content import copy_choices
from app.document.model import (CANCELLED, DONE, FAILED, IN_PROGRESS_STATES, OUTCOME_FIELDS, QUEUED, RUNNING,
                                STOPPED_BY_ENGINE, STOPPED_BY_USER, DocumentSession, Region, normalize_box,
                                result_to_dict)
from app.document.workspace import OpenDocument, Workspace
from app.engine.host import EngineHost
from app.engine.options import ocr_dpi, recognize_options
from app.engine.worker import OcrJob
from app.results.copy_menu import copy_to_clipboard
from app.settings import Settings
from app.task_style import TASK_LABELS
from app.window.card_notes import show_outdated_note
from app.window.documents import DocumentController
from app.window.main_window import NO_DOCUMENT_HINT, MainWindow
from app.window.undo import RegionsAdded, RegionsChanged, RegionsRemoved, Snapshot, UndoHistories

# What a waiting card says, as true as the window knows it.
NO_MODEL_YET = "No model is loaded yet. This region runs when the model is ready."
MODEL_LOADING = "Waiting for the model to load…"
NEXT_IN_LINE = "Starting…"
NOT_RUN_YET = "Not run yet: Run again (Ctrl+R) recognizes it."
TEMPLATE_FIRST = "Choose a template (Template ▾) to extract fields from this region."
PICTURE_NOTE = "Picture ({label}): kept as a crop in the document, not recognized."
LEFT_OUT_NOTE = "Left out of the document ({label}). Include it (Ctrl+Shift+I) to read it."
MOVED_HINT = "{label} moved: its result is from the old box. Run it again to read the new box."
COPIED_HINT = "Result of {label} copied to the clipboard."


def queued_behind(ahead: int) -> str:
    return NEXT_IN_LINE if ahead == 0 else f"Queued behind {ahead} region{'s' if ahead != 1 else ''}…"


def undo_key_text() -> str:
    return QKeySequence(QKeySequence.StandardKey.Undo).toString(QKeySequence.SequenceFormat.NativeText)


class RegionController(QObject):
    task_changed = Signal(str)  # the task new regions get (and the selected region has)

    def __init__(self, window: MainWindow, workspace: Workspace, documents: DocumentController, settings: Settings,
                 host: EngineHost, undo: UndoHistories):
        super().__init__(window)
        self.window, self.workspace, self.documents = window, workspace, documents
        self.settings, self.host, self.undo = settings, host, undo
        self._task = _known_task(settings.get("default_task"))
        self._selecting = False
        self._submitted: list[str] = []  # region ids in the order they went to the engine (the queue, as we know it)
        self._user_stops: set[str] = set()  # regions the user stopped: their "cancelled" is theirs, not the engine's
        self._edit_base: dict[str, str | None] = {}  # each shown region's edited_text before the card's latest edit

    @property
    def session(self) -> DocumentSession | None:
        return self.workspace.session

    # --- the task ---------------------------------------------------------------------------------

    def default_task(self) -> str:
        return self._task

    def set_default_task(self, task: str) -> None:
        self._task = _known_task(task)
        self.settings.set("default_task", self._task)
        if self.session is not None:
            self.session.default_task = self._task
        self.task_changed.emit(self._task)

    def set_task(self, task: str) -> None:
        """Keys 1-4: the task for new regions, and for the selected region, which then runs with it (asking first
        when that would replace the user's edits). One undo step brings back the old task and its result."""
        self.set_default_task(task)
        region = self.selected_region()
        if region is None or region.task == task:
            return
        label = self.label(region)
        if region.has_edits and not self._confirm(
                "Change the task?", f"{label} has your edits. As {TASK_LABELS[task]} it runs again, and the new "
                f"result replaces them ({undo_key_text()} brings them back)."):
            self.set_default_task(region.task)  # nothing changed: the selected region's task stays the default
            return
        rerun = region.is_finished or self.host.is_pending(region.id)
        self._record(f"{label} as {TASK_LABELS[task]}", [region], ("task", *OUTCOME_FIELDS),
                     lambda: self._retask(region, task, rerun))

    def _retask(self, region: Region, task: str, rerun: bool) -> None:
        region.task = task
        if rerun:
            self.run_regions([region.id])
        else:
            self.sync_views()

    def on_document_opened(self, session: DocumentSession) -> None:
        session.default_task = self._task

    def on_current_changed(self, _opened) -> None:
        """Another document is on screen: the list and the cards show its regions."""
        self._sync_lists()

    # --- regions ----------------------------------------------------------------------------------

    def selected_region(self) -> Region | None:
        if self.session is None:
            return None
        return self.session.region(self.window.page_view.selected_region_id() or self.window.results.selected_id)

    def add_region(self, page: int, box, task: str | None = None, run: bool | None = None) -> Region | None:
        opened = self.workspace.current
        if opened is None:
            return None
        region = opened.session.add_region(Region(page=page, box=box, task=task or self._task))
        self.sync_views()
        self.select_region(region.id)
        self.workspace.mark_changed(opened)
        if self.settings.get("auto_run") if run is None else run:
            self.run_regions([region.id])
        self.undo.push(opened, RegionsAdded(self, opened, f"Draw {self.label(region)}", [region.id]))
        return region

    def on_region_drawn(self, page: int, box) -> None:
        self.add_region(page, box)

    def on_region_edited(self, region_id: str, box) -> None:
        """Moved or resized on the page: the result stays (marked as the old box's when it has one); only a region
        still waiting in the queue goes with its new box."""
        region = self.session.region(region_id) if self.session else None
        if region is None or normalize_box(box) == region.box:
            return
        self._record(f"Move {self.label(region)}", [region], ("box", "result_box"), lambda: self._move(region, box))
        if region.outcome_is_outdated:
            self.window.show_status(MOVED_HINT.format(label=self.label(region)))

    def _move(self, region: Region, box) -> None:
        if region.is_finished and region.result_box is None:  # from an older session: the outcome is this box's
            region.result_box = region.box
        region.box = normalize_box(box)
        self._requeue_if_waiting(self.workspace.current, region)
        self.sync_views()

    def toggle_included(self) -> None:
        """Include the selected region in the document, or leave it out (one undo step); a region left out is never
        run, and one included again waits for a run."""
        region = self.selected_region()
        if region is None:
            self.window.show_status("Select a region to include or leave out.")
            return
        verb = "Include" if region.excluded else "Leave out"
        self._record(f"{verb} {self.label(region)}", [region], ("excluded",), lambda: self._set_excluded(region))

    def _set_excluded(self, region: Region) -> None:
        region.excluded = not region.excluded
        if region.excluded and self.host.is_pending(region.id):
            self.stop_region(region.id)
        self.sync_views()

    def delete_selected(self) -> None:
        region = self.selected_region()
        if region is None:
            self.window.show_status("Select a region to delete.")
            return
        opened, label = self.workspace.current, self.label(region)
        snapshots = self.take_out(opened, [region.id])
        self.undo.push(opened, RegionsRemoved(self, opened, f"Delete {label}", snapshots))
        self.window.show_status(f"Deleted {label}. {undo_key_text()} brings it back.")

    # --- undo steps: how they change regions (app.window.undo.RegionEditor) -----------------------

    def _record(self, text: str, regions: list[Region], names, change) -> None:
        """Make ``change`` as one undo step of the current document that remembers ``names`` of ``regions``."""
        opened = self.workspace.current
        before = {region.id: self.capture(opened, region.id, names) for region in regions}
        change()
        self.workspace.mark_changed(opened)
        step = RegionsChanged(self, opened, text, before)
        if step.after != before:
            self.undo.push(opened, step)

    def capture(self, opened: OpenDocument, region_id: str, names) -> dict:
        region = opened.session.region(region_id)
        values = region.values(names) if region is not None else {}
        if "state" in values:
            values["_pending"] = self.host.is_pending(region_id)  # was it on its way through the engine?
        return values

    def apply(self, opened: OpenDocument, region_id: str, values: dict) -> None:
        region = opened.session.region(region_id)
        if region is None:
            return
        values = dict(values)
        was_pending = values.pop("_pending", False)
        if "state" in values and self.host.is_pending(region_id):
            self._stop_quietly(region_id)  # its run belongs to the values being replaced
        region.set_values(values)
        if "state" in values and was_pending and region.state in IN_PROGRESS_STATES:
            self._start(opened, [region])  # it was running when this step was undone: it runs again
        else:
            self._requeue_if_waiting(opened, region)
        self._after_step(opened, region)

    def take_out(self, opened: OpenDocument, region_ids: list[str]) -> list[Snapshot]:
        snapshots = []
        for region_id in region_ids:
            index = opened.session.index_of(region_id)
            if index < 0:
                continue
            data = opened.session.regions[index].to_dict()
            data["_pending"] = self.host.is_pending(region_id)
            snapshots.append((index, data))
            self._stop_quietly(region_id)
            opened.session.remove_region(region_id)
            self._forget(region_id)
            if opened is self.workspace.current:
                self.window.page_view.remove_region(region_id)
        self.workspace.mark_changed(opened)
        if opened is self.workspace.current:
            self.sync_views()
        return snapshots

    def put_back(self, opened: OpenDocument, snapshots: list[Snapshot]) -> None:
        region = None
        for index, data in sorted(snapshots, key=lambda item: item[0]):
            data = dict(data)
            was_pending = data.pop("_pending", False)
            region = opened.session.add_region(Region.from_dict(data), index)
            if was_pending and region.state in IN_PROGRESS_STATES:
                self._start(opened, [region])
        if region is not None:
            self._after_step(opened, region)

    def _after_step(self, opened: OpenDocument, region: Region) -> None:
        """An undo or redo changed ``region``: show it as it is now, rebuilding its result view."""
        self.workspace.mark_changed(opened)
        if opened is not self.workspace.current:
            return
        self.sync_views()
        card = self.window.results.card(region.id)
        if card is not None and region.state in (DONE, CANCELLED):
            card.show_final_view()  # the view shows the result (or edit) the step put back
        self.select_region(region.id)

    # --- running ----------------------------------------------------------------------------------

    def run_whole_page(self) -> None:
        document = self.workspace.document
        if document is None:
            self.window.show_status(NO_DOCUMENT_HINT)
            return
        page = self.documents.current_page()
        width, height = document.page_size(page)
        self.add_region(page, (0, 0, width, height), run=True)

    def run_pasted_image(self) -> None:
        """The snip habit: a pasted or dropped screenshot is read at once, as Text, whole (a setting)."""
        document = self.workspace.document
        if document is None or not self.settings.get("run_pasted_images"):
            return
        width, height = document.page_size(0)
        self.add_region(0, (0, 0, width, height), task="text", run=True)

    def rerun_selected(self) -> None:
        region = self.selected_region()
        if region is None:
            self.window.show_status("Select a region to run again.")
            return
        self.rerun_region(region.id)

    def rerun_region(self, region_id: str) -> None:
        """The user asks for a new result (card button, Run again): asks first when it would replace their edits;
        one undo step brings the old result back."""
        region = self.session.region(region_id) if self.session else None
        if region is None:
            return
        label = self.label(region)
        if region.has_edits and not self._confirm(
                "Run again?", f"{label} has your edits. Running it again replaces them with a new result "
                f"({undo_key_text()} brings them back)."):
            return
        self._run_recorded(f"Run {label} again", [region])

    def _run_recorded(self, text: str, regions: list[Region]) -> None:
        with_outcome = [r for r in regions if r.is_finished]
        if not with_outcome:
            self.run_regions([r.id for r in regions])
            return
        opened = self.workspace.current
        before = {r.id: self.capture(opened, r.id, OUTCOME_FIELDS) for r in with_outcome}
        self.run_regions([r.id for r in regions])
        self.undo.push(opened, RegionsChanged(self, opened, text, before))

    def run_region(self, region_id: str) -> None:
        self.run_regions([region_id])

    def run_regions(self, region_ids: list[str]) -> None:
        """Queue regions of the current document in one go, so the worker can decode those of one page (and task)
        as a batch."""
        opened = self.workspace.current
        regions = [r for r in (self.session.region(i) for i in region_ids) if r is not None] if self.session else []
        if not regions:
            return
        self._start(opened, regions)
        if not (self.host.has_model or self.host.loading):
            self.window.show_status("No model is loaded: the region will run once the model is ready.")
        elif any(r.is_readable and not _can_run(r) for r in regions):
            self.window.show_status("An Extract region needs a template first: choose one on its card.")
        self.sync_views()
        self.workspace.mark_changed(opened)

    def start_regions(self, opened: OpenDocument, regions: list[Region]) -> None:
        """Send regions of any open document to the engine together (Convert document), without an undo step: the
        caller only starts regions that have no outcome yet."""
        self._start(opened, regions)
        if opened is self.workspace.current:
            self.sync_views()
        self.workspace.mark_changed(opened)

    def _start(self, opened: OpenDocument, regions: list[Region]) -> None:
        """Forget the regions' outcomes and send those that can run to the engine (when there is one)."""
        for region in regions:
            region.reset_for_run()
            self._user_stops.discard(region.id)
            self._edit_base[region.id] = None
        runnable = [r for r in regions if _can_run(r)]  # an Extract region without a template waits for one
        if runnable and (self.host.has_model or self.host.loading):
            self.host.submit_many([self._job_for(opened, region) for region in runnable])
            for region in runnable:
                self._forget_job(region.id)
                self._submitted.append(region.id)

    def _requeue_if_waiting(self, opened: OpenDocument, region: Region) -> None:
        """A queued job always matches its region: one not started yet is sent again after a change."""
        if region.state == QUEUED and self.host.is_pending(region.id):
            self._stop_quietly(region.id)
            self._start(opened, [region])

    def run_page_regions(self) -> None:
        """Every region of the current page, again; asks first when that would replace the user's edits."""
        regions = self.session.regions_on_page(self.documents.current_page()) if self.session else []
        if not regions:
            self.window.show_status("This page has no regions to run. Draw some first.")
            return
        if not self._may_replace_edits(regions):
            return
        on_page = {r.id for r in regions}
        self._run_recorded(f"Run page {self.documents.current_page() + 1}",
                           [r for r in self.session.reading_order() if r.id in on_page])

    def _may_replace_edits(self, regions: list[Region]) -> bool:
        edited = sum(r.has_edits for r in regions)
        return not edited or self._confirm(
            "Run all regions again?", f"{edited} region(s) on this page have your edits. Running them again "
            f"replaces the edits with new results ({undo_key_text()} brings them back).")

    def rerun_with_larger_budget(self, region_id: str) -> None:
        """A result cut by the token budget: run it again with twice the budget it had (one undo step)."""
        region = self.session.region(region_id) if self.session else None
        if region is None:
            return
        budget = min(2 * (region.max_new_tokens or self.settings.get(f"max_new_tokens/{region.task}")),
                     MAX_NEW_TOKENS)
        if region.has_edits and not self._confirm(
                "Run again?", f"{self.label(region)} has your edits. Running it again replaces them with a new result "
                f"({undo_key_text()} brings them back)."):
            return
        self._record(f"Run {self.label(region)} with {budget} tokens", [region], ("max_new_tokens", *OUTCOME_FIELDS),
                     lambda: self._run_with_budget(region, budget))
        self.window.show_status(f"{self.label(region)} runs again with a budget of {budget} tokens.")

    def _run_with_budget(self, region: Region, budget: int) -> None:
        region.max_new_tokens = budget
        self.run_regions([region.id])

    def on_template_chosen(self, region_id: str, schema: str) -> None:
        """An Extract card's template picker: the region takes the template and runs."""
        region = self.session.region(region_id) if self.session else None
        if region is None:
            return
        self._record(f"Template for {self.label(region)}", [region], ("schema", *OUTCOME_FIELDS),
                     lambda: self._use_template(region, schema))

    def _use_template(self, region: Region, schema: str) -> None:
        region.schema = schema
        self.run_regions([region.id])

    def run_waiting(self) -> None:
        """The model is ready: queued regions that never reached the engine run now, together (they may batch),
        in every open document."""
        for opened in self.workspace.documents:
            waiting = [r for r in opened.session.reading_order()
                       if r.state == QUEUED and not self.host.is_pending(r.id) and _can_run(r)]
            if waiting:
                self._start(opened, waiting)
        self.refresh_waiting_texts()

    def _job_for(self, opened: OpenDocument, region: Region) -> OcrJob:
        document = opened.document
        whole_page = tuple(region.box) == (0.0, 0.0, *document.page_size(region.page))
        options = recognize_options(self.settings, region.task, region.schema)
        if region.max_new_tokens:
            options = dataclasses.replace(options, max_new_tokens=region.max_new_tokens)
        return OcrJob(region_id=region.id, document=document, page=region.page,
                      box=None if whole_page else tuple(region.box), task=region.task, options=options,
                      dpi=ocr_dpi(self.settings))

    # --- stopping (the user's Stop is told apart from an engine that went away) -------------------

    def stop_region(self, region_id: str) -> None:
        """A card's Stop button."""
        self._user_stops.add(region_id)
        self.host.cancel(region_id)

    def cancel_current(self) -> None:
        region = self.selected_region()
        if region is not None and region.state in IN_PROGRESS_STATES and self.host.is_pending(region.id):
            self.stop_region(region.id)
            return
        for _, running in self._pending_regions():
            if running.state == RUNNING:
                self._user_stops.add(running.id)
        self.host.cancel_current()

    def cancel_all(self) -> None:
        self._user_stops.update(region.id for _, region in self._pending_regions())
        self.host.cancel_all()

    def _pending_regions(self) -> list[tuple[OpenDocument, Region]]:
        return [(o, r) for o in self.workspace.documents for r in o.session.regions if self.host.is_pending(r.id)]

    def _stop_quietly(self, region_id: str) -> None:
        """A run nobody waits for any more (its region was deleted, replaced or its document closed)."""
        self.host.cancel(region_id, notify=False)
        self._forget_job(region_id)

    def _forget_job(self, region_id: str) -> None:
        if region_id in self._submitted:
            self._submitted.remove(region_id)

    def _forget(self, region_id: str) -> None:
        self._forget_job(region_id)
        self._user_stops.discard(region_id)
        self._edit_base.pop(region_id, None)

    def on_document_closing(self, opened: OpenDocument) -> None:
        """Its regions' runs stop before its file is released."""
        for region in opened.session.regions:
            self._stop_quietly(region.id)
            self._forget(region.id)

    # --- selection and views (page view, region list and cards move together) ---------------------

    def select_region(self, region_id: str) -> None:
        if self._selecting or self.session is None:
            return
        self._selecting = True
        try:
            self._select(region_id)
        finally:
            self._selecting = False

    def _select(self, region_id: str) -> None:
        region = self.session.region(region_id)
        if region is not None and region.page != self.documents.current_page():
            self.documents.go_to_page(region.page)
        self.window.page_view.select_region(region_id)
        self.window.region_list.select(region_id)
        self.window.results.select(region_id)
        self.window.document_view.select(region_id)
        if region is not None:  # the toolbar shows the selected region's task, and new regions take it
            self._task = region.task
            self.task_changed.emit(region.task)

    def labels(self, opened: OpenDocument | None = None) -> dict[str, str]:
        """Each region's number in reading order, as the page view, the list and the cards show it."""
        opened = opened or self.workspace.current
        if opened is None:
            return {}
        return {r.id: f"#{n}" for n, r in enumerate(opened.session.reading_order(), start=1)}

    def label(self, region: Region, opened: OpenDocument | None = None) -> str:
        return f"Region {self.labels(opened).get(region.id, '')}".strip()

    def sync_views(self) -> None:
        """Make the page view, the region list and the cards show the current document's regions as they are."""
        labels = self.labels()
        for region in self.session.reading_order() if self.session else []:
            if region.page == self.documents.current_page():
                self.window.page_view.upsert_region(region, labels[region.id])
        self._sync_lists()

    def _sync_lists(self) -> None:
        ordered = self.session.reading_order() if self.session else []
        self.window.region_list.sync(ordered)
        self.window.results.sync(ordered)
        self.window.results.select(self.window.page_view.selected_region_id() or self.window.results.selected_id)
        for region in ordered:
            self._edit_base[region.id] = region.edited_text  # what an edit in its card changes from
            card = self.window.results.card(region.id)
            if card is not None:
                show_outdated_note(card, region, lambda rid=region.id: self.rerun_region(rid))
        self.refresh_waiting_texts()

    def refresh_waiting_texts(self, *_args) -> None:
        """Every waiting card of the current document says what it waits for (the model, the queue, a template)."""
        for region in self.session.regions if self.session else []:
            text = self._waiting_text(region)
            card = self.window.results.card(region.id)
            if text and card is not None:
                card.set_waiting_text(text)

    def _waiting_text(self, region: Region) -> str | None:
        """None where the card's own words are true (a running region: the card says it is being read)."""
        if region.is_picture:
            return PICTURE_NOTE.format(label=region.label or "picture")
        if region.excluded:
            return LEFT_OUT_NOTE.format(label=region.label or "by you")
        if region.state != QUEUED:
            return None
        if not _can_run(region):
            return TEMPLATE_FIRST
        if self.host.loading:
            return MODEL_LOADING
        if not self.host.has_model:
            return NO_MODEL_YET
        if not self.host.is_pending(region.id):
            return NOT_RUN_YET
        ahead = [rid for rid in self._submitted[:self._submitted.index(region.id)] if self.host.is_pending(rid)] \
            if region.id in self._submitted else []
        return queued_behind(len(ahead))

    def show_page(self, page: int) -> None:
        """The page on screen changed: show its regions."""
        regions = self.session.regions_on_page(page) if self.session else []
        self.window.page_view.set_regions(regions, self.labels())

    # --- result edits -------------------------------------------------------------------------------

    def on_result_edited(self, region_id: str, text: str) -> None:
        """A card's view changed the region's result: one undo step (the view already shows it)."""
        found = self.workspace.find_region(region_id)
        if found is None:
            return
        opened, region = found
        before = self._edit_base.get(region_id, region.edited_text)
        self._edit_base[region_id] = region.edited_text
        self.workspace.mark_changed(opened)
        if before != region.edited_text:
            self.undo.push(opened, RegionsChanged(self, opened, f"Edit {self.label(region, opened)}",
                                            {region_id: {"edited_text": before}}))

    # --- engine events ----------------------------------------------------------------------------

    def _shown(self, opened: OpenDocument) -> bool:
        return opened is self.workspace.current

    def on_job_started(self, region_id: str) -> None:
        found = self.workspace.find_region(region_id)
        if found is not None:
            opened, region = found
            region.state, region.text = RUNNING, ""
            if self._shown(opened):
                self.sync_views()

    def on_text_delta(self, region_id: str, text: str) -> None:
        found = self.workspace.find_region(region_id)
        if found is None:
            return
        opened, region = found
        region.text += text
        card = self.window.results.card(region_id) if self._shown(opened) else None
        if card is not None:
            card.append_text(text)

    def on_progress(self, region_id: str, tokens: int, elapsed_s: float) -> None:
        """Live "N tokens · 3.2 s" on a running card (of the document on screen)."""
        found = self.workspace.find_region(region_id)
        if found is not None and self._shown(found[0]):
            self.window.results.set_progress(region_id, tokens, elapsed_s)

    def on_job_finished(self, region_id: str, result) -> None:
        found = self.workspace.find_region(region_id)
        if found is None:
            return
        opened, region = found
        region.state, region.text, region.result = DONE, result.text, result_to_dict(result)
        self.window.speed_label.setText(f"{result.timings.tokens_per_s:.1f} tok/s ({len(result.token_ids)} tokens)")
        self._finished(opened, region)
        if self.settings.get("copy_result_when_done"):
            self._copy_result(opened, region)

    def _copy_result(self, opened: OpenDocument, region: Region) -> None:
        choices = copy_choices(region)
        if choices and choices[0].text:
            copy_to_clipboard(choices[0])
            self.window.show_status(COPIED_HINT.format(label=self.label(region, opened)))

    def on_job_failed(self, region_id: str, message: str) -> None:
        found = self.workspace.find_region(region_id)
        if found is None:
            return
        opened, region = found
        region.state, region.error = FAILED, message
        self.window.show_status(f"Region failed: {message}")
        self._finished(opened, region)

    def on_job_cancelled(self, region_id: str, partial: str) -> None:
        found = self.workspace.find_region(region_id)
        if found is None:
            return
        opened, region = found
        region.state, region.text = CANCELLED, partial or region.text
        region.stop_cause = STOPPED_BY_USER if region_id in self._user_stops else STOPPED_BY_ENGINE
        self._finished(opened, region)

    def _finished(self, opened: OpenDocument, region: Region) -> None:
        self._forget_job(region.id)
        self._user_stops.discard(region.id)
        if self._shown(opened):
            self.sync_views()
        self.workspace.mark_changed(opened)

    # --- asking -------------------------------------------------------------------------------------

    def _confirm(self, title: str, text: str) -> bool:
        return QMessageBox.question(self.window, title, text) == QMessageBox.StandardButton.Yes


def _known_task(task: str) -> str:
    return task if task in TASKS else TASKS[0]


def _can_run(region: Region) -> bool:
    """Pictures and regions left out of the document never run; an Extract region needs a template to say which
    fields to extract."""
    return region.is_readable and (region.task != "extract" or bool((region.schema or "").strip()))
