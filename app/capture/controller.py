"""``CaptureController``: grab every screen, freeze them in overlays, emit the crop the user framed and its task.

One capture at a time: a second ``start_capture`` while the screens are frozen only brings the overlays forward (a
shortcut pressed twice must not grab the overlay itself). The grab waits ``grab_delay_ms`` after ``about_to_grab``,
so a tray menu or the last capture's popup has left the screen before its picture is taken.
"""

from __future__ import annotations

import logging
from typing import Callable

from PySide6.QtCore import QObject, QRect, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QImage

from glmocr_core.api import TASKS

from app.capture.geometry import Selection, to_desktop
from app.capture.grabbers import Desktop, GrabChain, GrabError, GrabTarget, build_chain
from app.capture.overlay import CaptureOverlay, rect_of, screen_layout

log = logging.getLogger(__name__)

GRAB_DELAY_MS = 150  # long enough for a closing menu or popup to be repainted away, short enough not to notice


def _targets(screens: list) -> list[GrabTarget]:
    return [GrabTarget(rect_of(screen.geometry()), screen.devicePixelRatio(), screen) for screen in screens]


class CaptureController(QObject):
    """Starts captures and reports what they produced; knows nothing of the engine."""

    about_to_grab = Signal()  # hide anything that must not be in the picture (the popup)
    overlays_shown = Signal()
    captured = Signal(QImage, str)  # the crop (picture pixels, device pixel ratio 1) and the task
    cancelled = Signal()
    failed = Signal(str)  # why the screen could not be grabbed, for the user

    def __init__(self, *, chain: Callable[[], GrabChain] | None = None, screens: Callable[[], list] | None = None,
                 task: Callable[[], str] = lambda: TASKS[0], grab_delay_ms: int = GRAB_DELAY_MS,
                 confirm_on_release: bool = True, parent: QObject | None = None):
        super().__init__(parent)
        self._chain = chain or (lambda: build_chain(Desktop.current()))
        self._screens = screens or (lambda: list(QGuiApplication.screens()))
        self._task = task
        self._grab_delay_ms = grab_delay_ms
        self.confirm_on_release = confirm_on_release  # read at each capture: the settings may change it meanwhile
        self._pending = False
        self.overlays: list[CaptureOverlay] = []
        self.grabber_used = ""
        self.last_selection = QRect()  # the framed rectangle in desktop logical coordinates, for the popup
        self.last_screen = None

    @property
    def capturing(self) -> bool:
        return self._pending or bool(self.overlays)

    def start_capture(self) -> bool:
        """Begin a capture (the grab follows after ``grab_delay_ms``); False if one is already under way."""
        if self.capturing:
            for overlay in self.overlays:
                overlay.raise_()
            return False
        self._pending = True
        self.about_to_grab.emit()
        QTimer.singleShot(self._grab_delay_ms, self, self._grab_and_freeze)
        return True

    def cancel(self) -> None:
        if self.overlays:
            self._close_overlays()
            self.cancelled.emit()

    def _grab_and_freeze(self) -> None:
        screens = self._screens()
        try:
            self.grabber_used, pictures = self._chain().grab(_targets(screens))
        except GrabError as error:
            self._pending = False
            self.failed.emit(str(error))
            return
        self._pending = False
        task = self._task()
        task = task if task in TASKS else TASKS[0]  # a hand-edited setting must not break the overlay
        self.overlays = [self._overlay(screen, picture, task) for screen, picture in zip(screens, pictures)]
        for overlay in self.overlays:
            overlay.show_frozen()
        self.overlays_shown.emit()

    def _overlay(self, screen, picture: QImage, task: str) -> CaptureOverlay:
        overlay = CaptureOverlay(screen_layout(screen, picture), picture, task, screen=screen,
                                 confirm_on_release=self.confirm_on_release)
        overlay.selected.connect(lambda selection, source=overlay: self._on_selected(source, selection))
        overlay.cancelled.connect(self.cancel)
        overlay.task_chosen.connect(self._set_task_everywhere)
        return overlay

    def _set_task_everywhere(self, task: str) -> None:
        for overlay in self.overlays:
            overlay.set_task(task)

    def _on_selected(self, overlay: CaptureOverlay, selection: Selection) -> None:
        rect = overlay.crop()
        if rect is None:
            return
        crop = overlay.picture.copy(rect.x, rect.y, rect.width, rect.height)
        crop.setDevicePixelRatio(1.0)
        on_desktop = to_desktop(overlay.layout_info, selection)
        self.last_selection = QRect(round(on_desktop.x), round(on_desktop.y), round(on_desktop.width),
                                    round(on_desktop.height))
        self.last_screen = overlay.screen()
        task = overlay.task
        self._close_overlays()
        log.info("captured %d×%d px as %s with %s", crop.width(), crop.height(), task, self.grabber_used)
        self.captured.emit(crop, task)

    def _close_overlays(self) -> None:
        overlays, self.overlays = self.overlays, []
        for overlay in overlays:
            overlay.close()
