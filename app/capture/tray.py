"""The tray icon: Capture, Open window, Quit. Made only where the desktop has a system tray (GNOME without an
extension has none: there the shortcut and ``glmocr-studio --capture`` start a capture)."""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QObject, QRectF, Qt, Signal
from PySide6.QtGui import QAction, QColor, QGuiApplication, QIcon, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

TRAY_TOOLTIP = "GLM-OCR Studio: click to capture the screen"
ACTION_TEXTS = {"capture": "Capture", "open_window": "Open window", "quit": "Quit"}


def snip_icon(size: int = 64) -> QIcon:
    """A dashed selection frame with a corner handle: drawn, so the tray needs no image file."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    pen = QPen(QColor("#0072B2"), size / 12, Qt.PenStyle.DashLine)
    painter.setPen(pen)
    inset = size / 8
    painter.drawRect(QRectF(inset, inset, size - 2 * inset, size - 2 * inset))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor("#E69F00"))
    painter.drawEllipse(QRectF(size * 0.62, size * 0.62, size * 0.3, size * 0.3))
    painter.end()
    return QIcon(pixmap)


class CaptureTray(QObject):
    """The icon and its menu; a click on the icon starts a capture, as "Capture" does."""

    capture_requested = Signal()
    open_window_requested = Signal()
    quit_requested = Signal()

    def __init__(self, icon: QIcon | None = None, parent: QObject | None = None):
        super().__init__(parent)
        chosen = icon if icon is not None and not icon.isNull() else QGuiApplication.windowIcon()
        self.icon = QSystemTrayIcon(chosen if not chosen.isNull() else snip_icon(), self)
        self.icon.setToolTip(TRAY_TOOLTIP)
        self.menu = QMenu()
        signals = {"capture": self.capture_requested, "open_window": self.open_window_requested,
                   "quit": self.quit_requested}
        self.actions: dict[str, QAction] = {}
        for key, text in ACTION_TEXTS.items():
            action = self.menu.addAction(text)
            action.triggered.connect(signals[key])
            self.actions[key] = action
        self.menu.insertSeparator(self.actions["quit"])
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._on_activated)

    def _on_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self.capture_requested.emit()
        elif reason == QSystemTrayIcon.ActivationReason.DoubleClick:
            self.open_window_requested.emit()

    def show(self) -> None:
        self.icon.show()

    def hide(self) -> None:
        self.icon.hide()


def create_tray(icon: QIcon | None = None, *, available: Callable[[], bool] = QSystemTrayIcon.isSystemTrayAvailable,
                parent: QObject | None = None) -> CaptureTray | None:
    """The tray, shown, where there is a system tray; None where there is not."""
    if not available():
        return None
    tray = CaptureTray(icon, parent)
    tray.show()
    return tray
