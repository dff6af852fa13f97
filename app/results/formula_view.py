"""Formula result: KaTeX display rendering above an editable LaTeX source that re-renders as the user types.

Without a working web view (QtWebEngine missing, a view that cannot be made, or its render process dying while the
card is shown) the preview gives way to a notice and the LaTeX source stays: nothing the user can do is lost.
"""

from __future__ import annotations

from PySide6.QtCore import QTimer

from app.document.content import formula_latex
from app.results.base import ResultView
from app.results.web import make_katex_view, web_unavailable_reason
from app.results.widgets import SourceEditor, notice_label

RERENDER_DELAY_MS = 250  # typing pauses shorter than this do not re-render
EDITOR_LINES = 4
NO_WEBENGINE = "Formula preview is unavailable ({reason}). The LaTeX source is still editable."
PREVIEW_FAILED = "The formula preview stopped ({reason}). The LaTeX source below still works."


class FormulaResultView(ResultView):
    """``edited(str)`` carries the new LaTeX source after each (debounced) change."""

    def __init__(self, region, parent=None):
        super().__init__(region, parent)
        layout = self.body
        self.notice = notice_label(NO_WEBENGINE.format(reason=web_unavailable_reason()))
        self.preview = make_katex_view(self)
        if self.preview is not None:
            self.preview.setAccessibleName("Rendered formula")
            self.preview.failed.connect(self._on_preview_failed)
            layout.addWidget(self.preview)
            self.notice.hide()
        layout.addWidget(self.notice)
        self.source = SourceEditor(formula_latex(region), "LaTeX source", min_lines=EDITOR_LINES)
        self.source.setPlaceholderText("LaTeX, e.g. \\frac{a}{b}")
        layout.addWidget(self.source)
        self._debounce = QTimer(self, singleShot=True, interval=RERENDER_DELAY_MS)
        self._debounce.timeout.connect(self._commit)
        self.source.textChanged.connect(self._debounce.start)
        self._render()

    def latex(self) -> str:
        return self.source.toPlainText()

    def text(self) -> str:
        return self.latex()

    def set_latex(self, tex: str) -> None:
        self.source.set_text_keeping_undo(tex)

    def _render(self) -> None:
        if self.preview is not None:
            self.preview.show_formula(self.latex())

    def _on_preview_failed(self, reason: str) -> None:
        """The web page is gone: drop it, say so, keep the source."""
        preview, self.preview = self.preview, None
        self.body.removeWidget(preview)
        preview.hide()
        preview.deleteLater()
        self.notice.setText(PREVIEW_FAILED.format(reason=reason))
        self.notice.show()

    def _commit(self) -> None:
        """Store the edit in the region first (so nothing is lost), then re-render."""
        tex = self.latex()
        if tex != formula_latex(self.region):
            self.region.edited_text = tex
            self.edited.emit(tex)
        self._render()

    def flush(self) -> None:
        """Commit a pending edit now (before a save, an export or closing)."""
        if self._debounce.isActive():
            self._debounce.stop()
            self._commit()
