"""The ways the desktop starts a capture besides the window (the tray icon and the global shortcut), kept in step
with the settings while the studio runs: a changed shortcut is registered at once, the tray icon comes and goes
with its check box. The signals stay the same objects whatever is made or dropped, so they are wired once."""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QObject, Signal

from app.capture.hotkeys import GlobalHotkey, HotkeyError, parse_chord
from app.capture.tray import CaptureTray

TRAY_KEY, SHORTCUT_KEY = "capture/tray_icon", "capture/shortcut"
KEYS = (TRAY_KEY, SHORTCUT_KEY)


class DesktopHooks(QObject):
    """``make_tray()`` returns a shown tray or None (no system tray); ``make_hotkey()`` a hotkey for this desktop or
    None (none can be registered here); ``report`` shows a sentence to the user (a chord that cannot be taken)."""

    capture_requested = Signal()
    open_window_requested = Signal()
    quit_requested = Signal()

    def __init__(self, settings, make_tray: Callable[[], CaptureTray | None],
                 make_hotkey: Callable[[], GlobalHotkey | None], report: Callable[[str], None],
                 parent: QObject | None = None):
        super().__init__(parent)
        self.settings, self._make_tray, self._make_hotkey, self._report = settings, make_tray, make_hotkey, report
        self.tray: CaptureTray | None = None
        self.hotkey: GlobalHotkey | None = None
        self.shortcut = ""  # the chord registered now; "" when none is
        self.follow(list(KEYS))

    def follow(self, keys: list[str]) -> None:
        """Apply the settings among ``keys`` that concern the tray or the shortcut."""
        if TRAY_KEY in keys:
            self._follow_tray(bool(self.settings.get(TRAY_KEY)))
        if SHORTCUT_KEY in keys:
            self._follow_shortcut(str(self.settings.get(SHORTCUT_KEY) or "").strip())

    def close(self) -> None:
        """The studio quits: the desktop gets its chord back."""
        self._follow_shortcut("")

    def _follow_tray(self, wanted: bool) -> None:
        if wanted and self.tray is None:
            self.tray = self._make_tray()
            if self.tray is not None:
                self.tray.capture_requested.connect(self.capture_requested)
                self.tray.open_window_requested.connect(self.open_window_requested)
                self.tray.quit_requested.connect(self.quit_requested)
        elif not wanted and self.tray is not None:
            self.tray.hide()
            self.tray.deleteLater()
            self.tray = None

    def _follow_shortcut(self, text: str) -> None:
        if text == self.shortcut:
            return
        if self.hotkey is not None and self.shortcut:
            self.hotkey.unregister()
        self.shortcut = ""
        if not text:
            return
        try:
            chord = parse_chord(text)
            if self.hotkey is None:
                self.hotkey = self._make_hotkey()
                if self.hotkey is None:
                    return  # this desktop takes no global shortcut (the settings say which way it has instead)
                self.hotkey.activated.connect(self.capture_requested)
            self.hotkey.register(chord)
        except HotkeyError as exc:
            self._report(f"Capture shortcut: {exc}")
            return
        self.shortcut = text
