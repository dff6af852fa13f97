"""Regions: drawing, choosing their task, running them through the engine, and keeping the page view, the region
list and the result cards in step (selection included).

The default task for new regions is state here; ``task_changed`` tells the toolbar which task to show checked.
Every change worth saving ends in ``workspace.mark_changed()``.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox

from glmocr_core.api import TASKS

from app.document.model import CANCELLED, DONE, FAILED, QUEUED, RUNNING, DocumentSession, Region, result_to_dict
from app.document.workspace import Workspace
from app.engine.host import EngineHost
from app.engine.options import ocr_dpi, recognize_options
from app.engine.worker import OcrJob
from app.settings import Settings
from app.window.documents import DocumentController
from app.window.main_window import NO_DOCUMENT_HINT, MainWindow

NO_MODEL_YET = "No model is loaded yet. This region runs when the model is ready."
MODEL_LOADING = "Waiting for the model to load…"


class RegionController(QObject):
    task_changed = Signal(str)  # the task new regions get (and the selected region has)

    def __init__(self, window: MainWindow, workspace: Workspace, documents: DocumentController, settings: Settings,
                 host: EngineHost):
        super().__init__(window)
        self.window, self.workspace, self.documents = window, workspace, documents
        self.settings, self.host = settings, host
        self._task = _known_task(settings.get("default_task"))
        self._selecting = False

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
        """Keys 1-4: the task for new regions, and for the selected region (which then runs again)."""
        self.set_default_task(task)
        region = self.selected_region()
        if region is not None and region.task != task:
            region.task = task
            self._region_changed(region, rerun=True)

    def on_document_opened(self, session: DocumentSession) -> None:
        session.default_task = self._task
        self._sync_lists()

    # --- regions ----------------------------------------------------------------------------------

    def selected_region(self) -> Region | None:
        if self.session is None:
            return None
        return self.session.region(self.window.page_view.selected_region_id() or self.window.results.selected_id)

    def add_region(self, page: int, box, task: str | None = None, run: bool | None = None) -> Region | None:
        if self.session is None:
            return None
        region = self.session.add_region(Region(page=page, box=box, task=task or self._task))
        self.sync_views()
        self.select_region(region.id)
        self.workspace.mark_changed()
        if self.settings.get("auto_run") if run is None else run:
            self.run_region(region.id)
        return region

    def on_region_drawn(self, page: int, box) -> None:
        self.add_region(page, box)

    def on_region_edited(self, region_id: str, box) -> None:
        region = self.session.region(region_id) if self.session else None
        if region is not None:
            region.box = tuple(box)
            self._region_changed(region, rerun=self.settings.get("auto_run"))

    def _region_changed(self, region: Region, rerun: bool) -> None:
        if rerun:
            self.run_region(region.id)
        else:
            self.sync_views()
        self.workspace.mark_changed()

    def delete_selected(self) -> None:
        region = self.selected_region()
        if region is None:
            self.window.show_status("Select a region to delete.")
            return
        self.host.cancel(region.id, notify=False)
        self.session.remove_region(region.id)
        self.window.page_view.remove_region(region.id)
        self.sync_views()
        self.workspace.mark_changed()

    # --- running ----------------------------------------------------------------------------------

    def run_whole_page(self) -> None:
        document = self.workspace.document
        if document is None:
            self.window.show_status(NO_DOCUMENT_HINT)
            return
        page = self.documents.current_page()
        width, height = document.page_size(page)
        self.add_region(page, (0, 0, width, height), run=True)

    def rerun_selected(self) -> None:
        region = self.selected_region()
        if region is not None:
            self.run_region(region.id)

    def run_region(self, region_id: str) -> None:
        self.run_regions([region_id])

    def run_regions(self, region_ids: list[str]) -> None:
        """Queue regions in one go, so the worker can decode those of one page (and task) as a batch."""
        regions = [r for r in (self.session.region(i) for i in region_ids) if r is not None] if self.session else []
        if not regions:
            return
        for region in regions:
            region.reset_for_run()
        if self.host.has_model or self.host.loading:
            self.host.submit_many([self._job_for(region) for region in regions])
        else:
            self.window.show_status("No model is loaded: the region will run once the model is ready.")
        self.sync_views()
        for region in regions:
            self._show_waiting_text(region)

    def run_page_regions(self) -> None:
        """Every region of the current page, again; asks first when that would replace the user's edits."""
        regions = self.session.regions_on_page(self.documents.current_page()) if self.session else []
        if not regions:
            self.window.show_status("This page has no regions to run. Draw some first.")
            return
        if not self._may_replace_edits(regions):
            return
        on_page = {r.id for r in regions}
        self.run_regions([r.id for r in self.session.reading_order() if r.id in on_page])
        self.workspace.mark_changed()

    def _may_replace_edits(self, regions: list[Region]) -> bool:
        edited = sum(r.edited_text is not None for r in regions)
        return not edited or QMessageBox.question(
            self.window, "Run all regions again?", f"{edited} region(s) on this page have your edits. Running them "
            "again replaces the edits with new results.") == QMessageBox.StandardButton.Yes

    def run_waiting(self) -> None:
        """The model is ready: queued regions that never reached the engine run now, together (they may batch)."""
        waiting = [r for r in self.session.reading_order() if r.state == QUEUED and not self.host.is_pending(r.id)] \
            if self.session else []
        self.host.submit_many([self._job_for(region) for region in waiting])

    def _show_waiting_text(self, region: Region) -> None:
        card = self.window.results.card(region.id)
        if card is not None and not self.host.has_model:
            card.set_waiting_text(MODEL_LOADING if self.host.loading else NO_MODEL_YET)

    def _job_for(self, region: Region) -> OcrJob:
        document = self.workspace.document
        whole_page = tuple(region.box) == (0.0, 0.0, *document.page_size(region.page))
        return OcrJob(region_id=region.id, document=document, page=region.page,
                      box=None if whole_page else tuple(region.box), task=region.task,
                      options=recognize_options(self.settings, region.task, region.schema),
                      dpi=ocr_dpi(self.settings))

    def cancel_current(self) -> None:
        region = self.selected_region()
        if region is not None and region.state in (QUEUED, RUNNING) and self.host.is_pending(region.id):
            self.host.cancel(region.id)
        else:
            self.host.cancel_current()

    def cancel_all(self) -> None:
        self.host.cancel_all()

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
        if region is not None:  # the toolbar shows the selected region's task, and new regions take it
            self._task = region.task
            self.task_changed.emit(region.task)

    def labels(self) -> dict[str, str]:
        """Each region's number in reading order, as the page view, the list and the cards show it."""
        return {r.id: f"#{n}" for n, r in enumerate(self.session.reading_order(), start=1)} if self.session else {}

    def sync_views(self) -> None:
        """Make the page view, the region list and the cards show the session's regions as they are now."""
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

    def show_page(self, page: int) -> None:
        """The page on screen changed: show its regions."""
        regions = self.session.regions_on_page(page) if self.session else []
        self.window.page_view.set_regions(regions, self.labels())

    # --- engine events ----------------------------------------------------------------------------

    def _region_for_event(self, region_id: str) -> Region | None:
        return self.session.region(region_id) if self.session else None

    def on_job_started(self, region_id: str) -> None:
        region = self._region_for_event(region_id)
        if region is not None:
            region.state, region.text = RUNNING, ""
            self.sync_views()

    def on_text_delta(self, region_id: str, text: str) -> None:
        region = self._region_for_event(region_id)
        card = self.window.results.card(region_id)
        if region is not None:
            region.text += text
            if card is not None:
                card.append_text(text)

    def on_job_finished(self, region_id: str, result) -> None:
        region = self._region_for_event(region_id)
        if region is None:
            return
        region.state, region.text, region.result = DONE, result.text, result_to_dict(result)
        self.window.speed_label.setText(f"{result.timings.tokens_per_s:.1f} tok/s ({len(result.token_ids)} tokens)")
        self._finished(region)

    def on_job_failed(self, region_id: str, message: str) -> None:
        region = self._region_for_event(region_id)
        if region is None:
            return
        region.state, region.error = FAILED, message
        self.window.show_status(f"Region failed: {message}")
        self._finished(region)

    def on_job_cancelled(self, region_id: str, partial: str) -> None:
        region = self._region_for_event(region_id)
        if region is None:
            return
        region.state, region.text = CANCELLED, partial or region.text
        self._finished(region)

    def _finished(self, region: Region) -> None:
        self.sync_views()
        self.workspace.mark_changed()


def _known_task(task: str) -> str:
    return task if task in TASKS else TASKS[0]
