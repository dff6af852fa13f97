"""Finished-result views, one per task, and the hooks the workspace's result cards call.

``make_result_view(region)`` builds the view for a finished region: rendered Markdown with KaTeX math (text), a live
KaTeX formula with its LaTeX source (formula), an editable grid (table) or a JSON tree (extract). Every view has an
``edited(str)`` signal and writes the edit into ``region.edited_text`` itself, in the task's text format, so export
and sessions see every change. ``install()`` plugs the views and the "Copy as" button into ``app.cards``.
"""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

_VIEW_MODULES = {
    "text": ("app.results.text_view", "TextResultView"),
    "formula": ("app.results.formula_view", "FormulaResultView"),
    "table": ("app.results.table_view", "TableResultView"),
    "extract": ("app.results.extract_view", "ExtractResultView"),
}


def view_class(task: str):
    import importlib

    module_name, class_name = _VIEW_MODULES.get(task, _VIEW_MODULES["text"])
    return getattr(importlib.import_module(module_name), class_name)


def make_result_view(region, parent: QWidget | None = None) -> QWidget:
    """The finished view for ``region`` (its task's view; unknown tasks get the text view)."""
    return view_class(region.task)(region, parent)


def add_copy_button(card) -> None:
    """Card decorator: a "Copy" button with a format menu in the card's header."""
    from app.results.copy_menu import CopyAsButton

    card.copy_button = CopyAsButton(card.region, card)
    card.add_header_widget(card.copy_button)


def install() -> None:
    """Make ``app.cards`` use these views, give every card a Copy-as button, and route card edits to the autosaver.
    Safe to call more than once."""
    from app import cards
    from app.results.extract_view import add_template_button
    from app.results.session_actions import connect_card_edits

    cards.set_default_result_view(make_result_view)
    for decorate in (add_copy_button, add_template_button, connect_card_edits):
        if decorate not in cards.CARD_DECORATORS:
            cards.CARD_DECORATORS.append(decorate)


def install_into_window(window):
    """The one call the app's entry point makes: result views, copy-as, sessions, export, autosave, restore."""
    from app.results.session_actions import install_file_actions

    install()
    return install_file_actions(window)
