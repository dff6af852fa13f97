"""Whole documents in the window: "Detect layout" (this page or all pages), "Convert document" and the document view.

Detect layout asks the engine's worker thread (``EngineHost.detect_layout``) for the layout model's regions of some
pages; each page's answer becomes one region per block, with the block's label, task and reading order, as one undo
step of its document. Abandoned blocks (headers, footers, page numbers ...) come in left out (dimmed, never run,
switchable); pictures are kept as crops and never read.

Convert document lays out the pages that have no regions yet and runs every included region that has no outcome,
in reading order; regions the user already has (drawn, edited, recognized) are kept as they are and never run again
without asking. The status bar says "Converting page 3 of 12 …" with a progress bar; Stop all stops it.

Without the layout model (``Settings.layout_model_dir``), both say what is missing and offer the model manager;
regions drawn by hand keep working.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QMessageBox

from glmocr_core.api import TASKS
from glmocr_core.layout.folder import layout_folder_state

from app.document.model import ABANDONED_TASK, Region
from app.document.workspace import OpenDocument, Workspace
from app.engine.host import EngineHost
from app.engine.options import load_options, ocr_dpi
from app.settings import Settings
from app.window.documents import DocumentController
from app.window.main_window import NO_DOCUMENT_HINT, MainWindow
from app.window.regions import RegionController
from app.window.undo import RegionsAdded, UndoHistories

VIEW_DELAY_MS = 150  # the document view re-formats at most this often while results arrive
MISSING_TITLE = "The layout model is missing"
MISSING_TEXT = ("{what} needs the layout model (PP-DocLayoutV3, about 130 MB), which is not in {folder}{why}.\n\n"
                "Get it in the model manager (Layout model), or choose the folder that holds it. Regions you draw "
                "by hand keep working without it.")


@dataclass
class _Request:
    opened: OpenDocument
    pages: list[int]
    convert: bool


@dataclass
class _Conversion:
    opened: OpenDocument
    waiting_layout: set[int] = field(default_factory=set)  # pages still being laid out
    started: set[str] = field(default_factory=set)  # region ids this conversion sent to the engine

    def unfinished_pages(self) -> list[int]:
        pages = set(self.waiting_layout)
        for region in self.opened.session.regions:
            if region.id in self.started and not region.is_finished and region.is_readable:
                pages.add(region.page)
        return sorted(pages)


class LayoutController(QObject):
    converted = Signal(object)  # OpenDocument: a conversion ran to its end
    missing_model = Signal(str)  # the message shown when the layout model is not there

    def __init__(self, window: MainWindow, workspace: Workspace, documents: DocumentController, settings: Settings,
                 host: EngineHost, regions: RegionController, undo: UndoHistories, show_manager=None):
        super().__init__(window)
        self.window, self.workspace, self.documents, self.settings = window, workspace, documents, settings
        self.host, self.regions, self.undo = host, regions, undo
        self.show_manager = show_manager or (lambda: None)
        self.requests: dict[int, _Request] = {}
        self.conversion: _Conversion | None = None
        self.missing_box: QMessageBox | None = None
        self._view_timer = QTimer(self, singleShot=True, interval=VIEW_DELAY_MS)
        self._view_timer.timeout.connect(self.refresh_document_view)

    # --- detect layout ----------------------------------------------------------------------------

    def detect_this_page(self) -> None:
        opened = self.workspace.current
        if opened is None:
            self.window.show_status(NO_DOCUMENT_HINT)
            return
        page = self.documents.current_page()
        if opened.session.regions_on_page(page) and not self.regions._confirm(
                "Detect layout?", f"Page {page + 1} has regions already. Add the regions the layout model finds "
                "beside them? (Undo takes them out again.)"):
            return
        self._detect(opened, [page], convert=False, what="Detect layout")

    def detect_all_pages(self) -> None:
        """Every page without regions (pages with regions keep theirs)."""
        opened = self.workspace.current
        if opened is None:
            self.window.show_status(NO_DOCUMENT_HINT)
            return
        pages = self._pages_without_regions(opened)
        if not pages:
            self.window.show_status("Every page has regions already: Detect layout on this page adds more.")
            return
        self._detect(opened, pages, convert=False, what="Detect layout")

    def _pages_without_regions(self, opened: OpenDocument) -> list[int]:
        return [p for p in range(opened.document.page_count) if not opened.session.regions_on_page(p)]

    def _detect(self, opened: OpenDocument, pages: list[int], *, convert: bool, what: str) -> bool:
        if not self._layout_model_ready(what):
            return False
        request = self.host.detect_layout(opened.document, pages, self.settings.layout_model_dir(),
                                          load_options(self.settings).get("device", "auto"), ocr_dpi(self.settings))
        self.requests[request] = _Request(opened, list(pages), convert)
        if not convert:
            self.window.show_status(f"Detecting the layout of {_pages_phrase(pages)}…")
        return True

    def _layout_model_ready(self, what: str) -> bool:
        folder = self.settings.layout_model_dir()
        state, problems = layout_folder_state(folder)
        if state == "ready":
            return True
        why = f" ({problems[0]})" if state == "problems" and problems else ""
        message = MISSING_TEXT.format(what=what, folder=folder, why=why)
        self._offer_manager(message)
        return False

    def _offer_manager(self, message: str) -> None:
        """A window-modal, non-blocking question: open the model manager?"""
        self.window.show_status(message.split("\n")[0])
        box = QMessageBox(QMessageBox.Icon.Information, MISSING_TITLE, message, QMessageBox.StandardButton.Cancel,
                          self.window)
        manager_button = box.addButton("Open model manager", QMessageBox.ButtonRole.AcceptRole)
        box.setDefaultButton(manager_button)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.buttonClicked.connect(lambda button: self.show_manager() if button is manager_button else None)
        self.missing_box = box
        box.open()
        self.missing_model.emit(message)

    # --- layout answers ---------------------------------------------------------------------------

    def on_layout_page(self, request: int, page: int, blocks, scale: float) -> None:
        found = self.requests.get(request)
        if found is None or found.opened not in self.workspace.documents:
            return
        opened = found.opened
        added = [opened.session.add_region(region_from_block(page, block, scale)) for block in blocks]
        if added:
            self.undo.push(opened, RegionsAdded(self.regions, opened, f"Detect layout on page {page + 1}",
                                                [r.id for r in added]))
        self.workspace.mark_changed(opened)
        if opened is self.workspace.current:
            self.regions.sync_views()
            if page == self.documents.current_page():
                self.regions.show_page(page)
        conversion = self.conversion
        if found.convert and conversion is not None and conversion.opened is opened:
            conversion.waiting_layout.discard(page)
            self._run(conversion, [r for r in added if r.is_readable])
        self.schedule_view()
        self._show_progress()

    def on_layout_failed(self, request: int, message: str) -> None:
        found = self.requests.get(request)
        self.window.show_error("Layout detection failed", message)
        if found is not None and found.convert and self.conversion is not None:
            self._end_conversion(f"The conversion stopped: {message}")

    def on_layout_done(self, request: int, cancelled: bool) -> None:
        found = self.requests.pop(request, None)
        if found is None:
            return
        if not found.convert:
            regions = sum(len(found.opened.session.regions_on_page(p)) for p in found.pages)
            self.window.show_status(("Layout detection stopped. " if cancelled else "")
                                    + f"{regions} regions on {_pages_phrase(found.pages)}.")
        elif self.conversion is not None and cancelled:
            self.conversion.waiting_layout.clear()
        self._show_progress()

    # --- convert ----------------------------------------------------------------------------------

    def convert_document(self) -> None:
        opened = self.workspace.current
        if opened is None:
            self.window.show_status(NO_DOCUMENT_HINT)
            return
        if self.conversion is not None:
            self.window.show_status("A conversion is running: Stop all stops it.")
            return
        to_lay_out = self._pages_without_regions(opened)
        if to_lay_out and not self._layout_model_ready("Convert document"):
            return
        conversion = _Conversion(opened, waiting_layout=set(to_lay_out))
        self.conversion = conversion
        waiting = [r for r in opened.session.reading_order()
                   if r.is_readable and r.state == "queued" and not self.host.is_pending(r.id)]
        self._run(conversion, waiting)
        if to_lay_out:
            self._detect(opened, to_lay_out, convert=True, what="Convert document")
        self._show_progress()

    def _run(self, conversion: _Conversion, regions: list[Region]) -> None:
        if not regions:
            return
        conversion.started.update(r.id for r in regions)
        self.regions.start_regions(conversion.opened, regions)

    def on_region_ended(self, region_id: str, *_args) -> None:
        """A region finished, failed or was stopped: the conversion's progress and the document view follow."""
        self.schedule_view()
        if self.conversion is not None and region_id in self.conversion.started:
            self._show_progress()

    def cancel_all(self) -> None:
        """Stop all: the conversion (and any layout detection) stops with every region."""
        self.host.cancel_layout()
        self.regions.cancel_all()
        if self.conversion is not None:
            self._end_conversion("The conversion was stopped. What was read is kept; Convert document goes on.")

    def _show_progress(self) -> None:
        conversion = self.conversion
        if conversion is None:
            return
        total = conversion.opened.document.page_count
        unfinished = conversion.unfinished_pages()
        if not unfinished:
            self._end_conversion(f"Converted {total} page{'s' if total != 1 else ''}.", finished=True)
            return
        self.window.show_conversion(f"Converting page {unfinished[0] + 1} of {total} …", total - len(unfinished),
                                    total)

    def _end_conversion(self, message: str, finished: bool = False) -> None:
        conversion, self.conversion = self.conversion, None
        self.window.show_conversion(None)
        self.window.show_status(message)
        if finished and conversion is not None:
            self.converted.emit(conversion.opened)

    def on_document_closing(self, opened: OpenDocument) -> None:
        for request, found in list(self.requests.items()):
            if found.opened is opened:
                self.host.cancel_layout(request)
                self.requests.pop(request)
        if self.conversion is not None and self.conversion.opened is opened:
            self._end_conversion("The conversion stopped: its document was closed.")

    # --- the document view ------------------------------------------------------------------------

    def schedule_view(self, *_args) -> None:
        self._view_timer.start()

    def refresh_document_view(self) -> None:
        opened = self.workspace.current
        document = opened.document if opened is not None else None
        self.window.document_view.show_session(opened.session if opened else None,
                                               document.page_size if document is not None else None)

    def on_view_clicked(self, region_id: str) -> None:
        self.regions.select_region(region_id)


def region_from_block(page: int, block, scale: float) -> Region:
    """A region for one layout block (its box in pixels of a page image rendered at ``scale`` per page unit)."""
    x0, y0, x1, y1 = (v / scale for v in block.bbox)
    task = block.task if block.task in TASKS else "text"  # pictures and abandoned blocks keep the text prompt
    return Region(page=page, box=(x0, y0, x1, y1), task=task, label=block.label, layout_task=block.task,
                  layout_order=block.order, excluded=block.task == ABANDONED_TASK)


def _pages_phrase(pages: list[int]) -> str:
    return f"page {pages[0] + 1}" if len(pages) == 1 else f"{len(pages)} pages"
