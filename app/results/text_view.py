"""Text result: Markdown rendered (math by KaTeX) in one tab, the editable Markdown source in the other."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QTabWidget, QTextBrowser

from app.results.formula_view import RERENDER_DELAY_MS, monospace_editor, notice_label
from app.document.markdown import markdown_to_html
from app.results.web import make_katex_view
from app.results.base import ResultView

NO_WEBENGINE = "Math is shown as LaTeX source (QtWebEngine is not installed)."
RENDERED_TAB, SOURCE_TAB = 0, 1


class TextResultView(ResultView):
    """``edited(str)`` carries the new Markdown after each (debounced) change of the source."""

    def __init__(self, region, parent=None):
        super().__init__(region, parent)
        layout = self.body
        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)
        self.preview = make_katex_view(self)
        self.fallback = None
        if self.preview is None:
            self.fallback = QTextBrowser()
            self.fallback.setOpenExternalLinks(True)
        rendered = self.preview or self.fallback
        rendered.setAccessibleName("Rendered text")
        self.tabs.addTab(rendered, "Rendered")
        self.source = monospace_editor(region.display_text, "Markdown source", lines=8)
        self.tabs.addTab(self.source, "Source")
        layout.addWidget(self.tabs)
        if self.fallback is not None:
            layout.addWidget(notice_label(NO_WEBENGINE))
        self._debounce = QTimer(self, singleShot=True, interval=RERENDER_DELAY_MS)
        self._debounce.timeout.connect(self._commit)
        self.source.textChanged.connect(self._debounce.start)
        self._render()

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
