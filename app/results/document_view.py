"""The document view: the whole open document as the converter formats it (``app.document.converted``: the core's
Markdown formatter over the regions, the user's edits included), rendered with KaTeX beside the page.

Each paragraph of the Markdown comes from one or two regions (a formula and its number, a hyphen-joined text); a
click on it reports its first region (``region_clicked``), and ``select`` marks the paragraph of a region and
scrolls to it. Without QtWebEngine (or after web views failed) the same paragraphs show as Markdown source in a
text browser, with the same clicks.
"""

from __future__ import annotations

import html
import json

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtWidgets import QLabel, QSizePolicy, QTextBrowser, QVBoxLayout, QWidget

from app.document.converted import PageSize, converted_pages, document_markdown
from app.document.markdown import markdown_to_html
from app.document.model import DocumentSession
from app.results.web import make_katex_view, web_unavailable_reason

EMPTY_TEXT = ("No document yet: Detect layout (Ctrl+L) finds the regions of a page, Convert document "
              "(Ctrl+Shift+L) reads them all.")
BLOCK_SCHEME = "block"
STYLE = """<style>
.doc-block { padding: 2px 6px; margin: 2px -6px; border-radius: 4px; cursor: pointer; }
.doc-block:hover { background: rgba(127, 127, 127, 0.12); }
.doc-block.selected { background: rgba(0, 114, 178, 0.18); }
.page-marker { color: var(--muted, #888); font-size: 0.8em; border-top: 1px solid var(--border, #ccc);
               margin-top: 1em; padding-top: 2px; }
.picture { color: var(--muted, #888); font-style: italic; }
</style>"""
SELECT_JS = """
(function (id) {
  for (const el of document.querySelectorAll(".doc-block.selected")) el.classList.remove("selected");
  const block = document.querySelector('[data-block="' + id + '"]');
  if (block) { block.classList.add("selected"); block.scrollIntoView({block: "nearest"}); }
})(%s);
"""


class DocumentView(QWidget):
    region_clicked = Signal(str)  # region id

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setAccessibleName("Document view")
        self.markdown = ""  # what is shown, as Markdown (what Export Markdown writes, picture links aside)
        self.blocks: list[tuple[str, str]] = []  # (region id, paragraph Markdown) in document order
        self.selected_id = ""
        self._html = ""
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        self.notice = QLabel("")
        self.notice.setWordWrap(True)
        self.notice.hide()
        column.addWidget(self.notice)
        self.web = make_katex_view(self, auto_height=False)
        self.source: QTextBrowser | None = None
        if self.web is not None:
            self.web.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
            self.web.block_clicked.connect(self._on_block_clicked)
            self.web.rendered.connect(self._after_render)
            self.web.failed.connect(self._fall_back)
            column.addWidget(self.web, 1)
        else:
            self._make_source(column)

    # --- content ----------------------------------------------------------------------------------

    def show_session(self, session: DocumentSession | None, page_size: PageSize | None = None) -> None:
        """Show ``session``'s regions as one document (None: nothing open)."""
        pages = converted_pages(session, page_size=page_size) if session is not None else []
        self.markdown = document_markdown(session, page_size=page_size) if session is not None else ""
        self.blocks, parts = [], [STYLE]
        for page in pages:
            parts.append(f'<div class="page-marker">Page {page.number}</div>')
            for piece in page.pieces():
                region = page.regions[piece.orders[0]]
                self.blocks.append((region.id, piece.text))
                body = (f'<div class="picture">[Picture: {html.escape(region.label or "picture")}]</div>'
                        if region.is_picture else markdown_to_html(piece.text))
                parts.append(f'<div class="doc-block" data-block="{region.id}">{body}</div>')
        self._html = "".join(parts) if self.blocks else ""
        self._render()

    def _render(self) -> None:
        if self.web is not None:
            self.web.show_html(self._html or f"<p>{html.escape(EMPTY_TEXT)}</p>")
        elif self.source is not None:
            self.source.setHtml(self._source_html())

    def _source_html(self) -> str:
        if not self.blocks:
            return f"<p>{html.escape(EMPTY_TEXT)}</p>"
        rows = []
        for region_id, text in self.blocks:
            mark = " style='background:#d6eaf5'" if region_id == self.selected_id else ""
            rows.append(f"<p{mark}><a href='{BLOCK_SCHEME}:{region_id}'>§</a> "
                        f"{html.escape(text).replace(chr(10), '<br>')}</p>")
        return "".join(rows)

    # --- selection --------------------------------------------------------------------------------

    def select(self, region_id: str) -> None:
        """Mark the paragraph of ``region_id`` (if it has one) and scroll to it."""
        self.selected_id = region_id or ""
        if self.web is not None:
            self.web.run_script(SELECT_JS % json.dumps(self.selected_id))
        elif self.source is not None:
            self.source.setHtml(self._source_html())
            self.source.scrollToAnchor(self.selected_id)

    def _after_render(self, _count: int) -> None:
        self.web.watch_blocks()
        if self.selected_id:
            self.web.run_script(SELECT_JS % json.dumps(self.selected_id))

    def _on_block_clicked(self, region_id: str) -> None:
        self.selected_id = region_id
        self.region_clicked.emit(region_id)

    # --- without a web view -----------------------------------------------------------------------

    def _make_source(self, column) -> None:
        self.notice.setText(f"Markdown source is shown: {web_unavailable_reason()}.")
        self.notice.show()
        self.source = QTextBrowser(self)
        self.source.setOpenLinks(False)
        self.source.anchorClicked.connect(self._on_anchor)
        self.source.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        column.addWidget(self.source, 1)

    def _fall_back(self, _reason: str) -> None:
        if self.web is not None:
            self.web.hide()
            self.web.deleteLater()
            self.web = None
        self._make_source(self.layout())
        self._render()

    def _on_anchor(self, url: QUrl) -> None:
        if url.scheme() == BLOCK_SCHEME:
            self._on_block_clicked(url.path())
