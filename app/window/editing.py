"""Edit ▸ Copy and Select All: on the text the user is in (a result view, a field), else on the selected region.

Text widgets take their own Ctrl+C and Ctrl+A first where Qt lets them (editable fields do); these slots serve the
menu, read-only views and the page view, where Copy copies the selected region's result as its card's Copy button
would.
"""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QApplication, QWidget

from app.document.content import copy_choices
from app.results.copy_menu import copy_to_clipboard
from app.window.main_window import MainWindow
from app.window.regions import COPIED_HINT, RegionController


class EditController(QObject):
    def __init__(self, window: MainWindow, regions: RegionController):
        super().__init__(window)
        self.window, self.regions = window, regions

    def copy(self) -> None:
        target = self._text_target()
        if target is not None:
            _copy_from(target)
            return
        region = self.regions.selected_region()
        if region is None:
            self.window.show_status("Select a region (or some text) to copy.")
            return
        choices = copy_choices(region)
        if not choices or not choices[0].text:
            self.window.show_status(f"{self.regions.label(region)} has no result to copy yet.")
            return
        copy_to_clipboard(choices[0])
        self.window.show_status(COPIED_HINT.format(label=self.regions.label(region)))

    def select_all(self) -> None:
        target = self._text_target()
        if target is not None:
            _select_all_in(target)
        else:
            self.window.show_status("Select All works in a result's text: click into it first.")

    def _text_target(self) -> QWidget | None:
        """The focused text widget (or web view) the user is in, unless the focus is on the page or a list."""
        widget = QApplication.focusWidget()
        keys = self.window.key_widgets()
        while widget is not None and widget is not self.window:
            if widget in keys:
                return None
            if _is_text(widget):
                return widget
            widget = widget.parentWidget()
        return None


def _is_text(widget: QWidget) -> bool:
    web = callable(getattr(widget, "triggerPageAction", None))
    return web or (callable(getattr(widget, "copy", None)) and callable(getattr(widget, "selectAll", None)))


def _web_action(name: str):
    from PySide6.QtWebEngineCore import QWebEnginePage  # only where a result page has the focus

    return getattr(QWebEnginePage.WebAction, name)


def _copy_from(widget: QWidget) -> None:
    if callable(getattr(widget, "triggerPageAction", None)):
        widget.triggerPageAction(_web_action("Copy"))
    else:
        widget.copy()


def _select_all_in(widget: QWidget) -> None:
    if callable(getattr(widget, "triggerPageAction", None)):
        widget.triggerPageAction(_web_action("SelectAll"))
    else:
        widget.selectAll()
