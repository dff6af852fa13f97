"""Formula result: KaTeX display rendering above an editable LaTeX source that re-renders as the user types."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QLabel, QPlainTextEdit

from app.document.content import formula_latex
from app.results.web import make_katex_view
from app.results.base import ResultView

RERENDER_DELAY_MS = 250  # typing pauses shorter than this do not re-render
NO_WEBENGINE = "Formula preview is unavailable (QtWebEngine is not installed). The LaTeX source is still editable."


def monospace_editor(text: str, accessible_name: str, lines: int = 3) -> QPlainTextEdit:
    editor = QPlainTextEdit()
    editor.setPlainText(text)
    editor.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
    editor.setAccessibleName(accessible_name)
    editor.setFixedHeight(editor.fontMetrics().lineSpacing() * lines + 14)
    return editor


def notice_label(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setAccessibleName("Notice")
    label.setStyleSheet("color: palette(placeholder-text); font-style: italic;")
    return label


class FormulaResultView(ResultView):
    """``edited(str)`` carries the new LaTeX source after each (debounced) change."""

    def __init__(self, region, parent=None):
        super().__init__(region, parent)
        layout = self.body
        self.preview = make_katex_view(self)
        if self.preview is not None:
            self.preview.setAccessibleName("Rendered formula")
            layout.addWidget(self.preview)
        else:
            layout.addWidget(notice_label(NO_WEBENGINE))
        self.source = monospace_editor(formula_latex(region), "LaTeX source", lines=2)
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
        self.source.setPlainText(tex)

    def _render(self) -> None:
        if self.preview is not None:
            self.preview.show_formula(self.latex())

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
