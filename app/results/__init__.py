"""Finished-result views, one per task: rendered Markdown with KaTeX math (text), a live KaTeX formula with its LaTeX
source (formula), an editable grid (table) or a JSON tree (extract). Every view has an ``edited(str)`` signal and
writes the edit into ``region.edited_text`` itself, in the task's text format, so export and sessions see every
change; ``text()`` is the result as shown, in that format. The cards that hold them are in ``app.results.cards``.
"""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from app.results.extract_view import ExtractResultView
from app.results.formula_view import FormulaResultView
from app.results.table_view import TableResultView
from app.results.text_view import TextResultView

VIEWS = {"text": TextResultView, "formula": FormulaResultView, "table": TableResultView, "extract": ExtractResultView}


def make_result_view(region, parent: QWidget | None = None) -> QWidget:
    """The finished view for ``region`` (its task's view; unknown tasks get the text view)."""
    return VIEWS.get(region.task, TextResultView)(region, parent)
