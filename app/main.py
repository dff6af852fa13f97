"""Entry point: ``glmocr-studio [files...]`` or ``python -m app.main [files...]``."""

from __future__ import annotations

import os
import sys

from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QApplication  # importing is fine; QtWebEngine must only precede *creating* one


def _import_webengine_early() -> None:
    """QtWebEngine (used by result views) must be imported before the QApplication exists."""
    try:
        import PySide6.QtWebEngineWidgets  # noqa: F401
    except ImportError:
        pass


def build_window(paths: list[str], settings=None, engine_factory=None):
    """The main window, shown, with the documents named on the command line opened."""
    from app.intake import Incoming
    from app.main_window import MainWindow

    window = MainWindow(settings, engine_factory=engine_factory)
    window.show()
    if paths:
        window.open_incoming(Incoming(paths=[os.path.abspath(p) for p in paths]), "Image")
    return window


def _set_identity(application) -> None:
    """Window icon, and the desktop file name Wayland uses to match windows to the menu entry and icon."""
    from PySide6.QtGui import QIcon

    from app.resources_setup import icon_path

    application.setDesktopFileName("glmocr-studio")
    if icon_path().is_file():
        application.setWindowIcon(QIcon(str(icon_path())))


def open_file_event(window, event) -> bool:
    """macOS delivers "Open with" and Dock drops as QEvent.FileOpen to the application instead of arguments."""
    if event.type() != QEvent.Type.FileOpen or not event.file():
        return False
    from app.intake import Incoming

    window.open_incoming(Incoming(paths=[event.file()]), "Image")
    return True


class StudioApplication(QApplication):
    """Only to receive FileOpen: an application-wide Python event filter would see every event of every object
    (QtWebEngine's too) and was seen to crash the interpreter."""

    window = None

    def event(self, event):  # noqa: N802 (Qt name)
        if self.window is not None and open_file_event(self.window, event):
            return True
        return super().event(event)


def main(argv: list[str] | None = None) -> int:
    _import_webengine_early()
    from app.qt_compat import install_bool_refcount_guard
    from app.settings import APP_NAME, ORG_NAME

    install_bool_refcount_guard()  # before any signal traffic: see app/qt_compat.py

    argv = sys.argv if argv is None else [sys.argv[0], *argv]
    QApplication.setOrganizationName(ORG_NAME)
    QApplication.setApplicationName(APP_NAME)
    application = QApplication.instance() or StudioApplication(argv)
    from app.logging_setup import setup_logging  # [issue 6 hook] rotating log file in the platform log folder

    setup_logging()
    _set_identity(application)
    window = build_window([a for a in application.arguments()[1:] if not a.startswith("-")])
    if isinstance(application, StudioApplication):
        application.window = window
    from app.model_manager import install_model_manager  # [issue 6 hook] model manager, validated folder, settings

    install_model_manager(window)
    from app.results.session_actions import install_file_actions

    install_file_actions(window)
    code = application.exec()
    if window.host.thread.isRunning():  # a model load that would not stop: exit without Qt aborting on it
        os._exit(code)
    return code


if __name__ == "__main__":
    sys.exit(main())
