"""Text result: Markdown rendered (math by KaTeX) in one tab, the editable Markdown source in the other.

Without a working web view the rendered tab shows Qt's own rendering of the same HTML (math as LaTeX source), with
a notice saying why; that also happens when the web page's process dies while the card is shown.
"""

from __future__ import annotations

from PySide6.QtCore import QTimer

from app.document.markdown import markdown_to_html
from app.results.base import ResultView
from app.results.formula_view import RERENDER_DELAY_MS
from app.results.web import make_katex_view, web_unavailable_reason
from app.results.widgets import AutoHeightBrowser, FittingTabs, SourceEditor, notice_label

NO_WEBENGINE = "Math is shown as LaTeX source ({reason})."
PREVIEW_FAILED = "Math is shown as LaTeX source: the rendered view stopped ({reason})."
RENDERED_TAB, SOURCE_TAB = 0, 1
SOURCE_LINES = 4


class TextResultView(ResultView):
    """``edited(str)`` carries the new Markdown after each (debounced) change of the source."""

    def __init__(self, region, parent=None):
        super().__init__(region, parent)
        layout = self.body
        self.tabs = FittingTabs(self)
        self.tabs.setDocumentMode(True)
        self.notice = notice_label(NO_WEBENGINE.format(reason=web_unavailable_reason()))
        self.preview = make_katex_view(self)
        self.fallback = None
        if self.preview is None:
            self.fallback = self._make_fallback()
        else:
            self.preview.failed.connect(self._on_preview_failed)
            self.notice.hide()
        rendered = self.preview or self.fallback
        rendered.setAccessibleName("Rendered text")
        self.tabs.addTab(rendered, "Rendered")
        self.source = SourceEditor(region.display_text, "Markdown source", min_lines=SOURCE_LINES)
        self.tabs.addTab(self.source, "Source")
        layout.addWidget(self.tabs)
        layout.addWidget(self.notice)
        self._debounce = QTimer(self, singleShot=True, interval=RERENDER_DELAY_MS)
        self._debounce.timeout.connect(self._commit)
        self.source.textChanged.connect(self._debounce.start)
        self._render()

    def _make_fallback(self) -> AutoHeightBrowser:
        return AutoHeightBrowser()

    def markdown(self) -> str:
        return self.source.toPlainText()

    def text(self) -> str:
        return self.markdown()

    def _render(self) -> None:
        html = markdown_to_html(self.markdown())
        if self.preview is not None:
            self.preview.show_html(html)
        else:
            self.fallback.setHtml(html)

    def _on_preview_failed(self, reason: str) -> None:
        """The web page is gone: Qt's own rendering takes its tab, and the notice says why."""
        preview, self.preview = self.preview, None
        current = self.tabs.currentIndex()
        self.fallback = self._make_fallback()
        self.fallback.setAccessibleName("Rendered text")
        self.tabs.removeTab(RENDERED_TAB)
        self.tabs.insertTab(RENDERED_TAB, self.fallback, "Rendered")
        self.tabs.setCurrentIndex(current)
        preview.deleteLater()
        self.notice.setText(PREVIEW_FAILED.format(reason=reason))
        self.notice.show()
        self._render()

    def _commit(self) -> None:
        text = self.markdown()
        if text != self.region.display_text:
            self.region.edited_text = text
            self.edited.emit(text)
        self._render()

    def flush(self) -> None:
        if self._debounce.isActive():
            self._debounce.stop()
            self._commit()
