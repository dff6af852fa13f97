"""Entry point: ``glmocr-studio [files...]`` or ``python -m app.main [files...]``."""

from __future__ import annotations

import os
import sys


def _prepare_environment() -> None:
    # QtWebEngine (result views) must be imported before the QApplication exists.
    try:
        import PySide6.QtWebEngineWidgets  # noqa: F401
    except ImportError:
        pass


def main(argv: list[str] | None = None) -> int:
    _prepare_environment()
    from PySide6.QtWidgets import QApplication

    from app.main_window import MainWindow
    from app.settings import APP_NAME, ORG_NAME

    argv = sys.argv if argv is None else [sys.argv[0], *argv]
    QApplication.setOrganizationName(ORG_NAME)
    QApplication.setApplicationName(APP_NAME)
    application = QApplication.instance() or QApplication(argv)
    window = MainWindow()
    window.show()
    paths = [a for a in application.arguments()[1:] if not a.startswith("-")]
    if paths:
        window.open_incoming(_incoming(paths), "Image")
    code = application.exec()
    if window.host.thread.isRunning():  # a model load that would not stop: do not let Qt abort on exit
        os._exit(code)
    return code


def _incoming(paths: list[str]):
    from app.intake import Incoming

    return Incoming(paths=[os.path.abspath(p) for p in paths])


if __name__ == "__main__":
    sys.exit(main())
