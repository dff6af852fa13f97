"""Logging to a rotating file in the platform's log folder, so a user can send us what happened.

Call ``setup_logging()`` once at start-up. It is safe to call again (tests, a second window): the file handler is
installed only once. Qt's own warnings go to the same file.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path

from app.paths import log_dir

LOG_FILE_NAME = "glmocr-studio.log"
MAX_LOG_BYTES = 2 * 1024 * 1024
BACKUP_COUNT = 3  # 4 files x 2 MB at most
LOG_FORMAT = "%(asctime)s %(levelname)-7s %(threadName)s %(name)s: %(message)s"
_HANDLER_NAME = "glmocr-studio-file"


def setup_logging(level: int = logging.INFO, folder: str | Path | None = None) -> Path:
    """Send the root logger to <log folder>/glmocr-studio.log (rotating); returns the log file path."""
    target = Path(folder) if folder else log_dir()
    path = target / LOG_FILE_NAME
    root = logging.getLogger()
    if root.level == logging.NOTSET or root.level > level:
        root.setLevel(level)
    if not any(h.get_name() == _HANDLER_NAME for h in root.handlers):
        root.addHandler(_file_handler(path, level))
        _route_qt_messages()
        logging.getLogger(__name__).info("GLM-OCR Studio log started (Python %s)", sys.version.split()[0])
    return path


def _file_handler(path: Path, level: int) -> logging.Handler:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=MAX_LOG_BYTES, backupCount=BACKUP_COUNT, encoding="utf-8")
    except OSError as exc:  # a read-only profile must not stop the app; log to stderr instead
        print(f"cannot write the log file {path}: {exc}", file=sys.stderr)
        handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    return handler


def _route_qt_messages() -> None:
    from PySide6.QtCore import QtMsgType, qInstallMessageHandler

    levels = {QtMsgType.QtDebugMsg: logging.DEBUG, QtMsgType.QtInfoMsg: logging.INFO,
              QtMsgType.QtWarningMsg: logging.WARNING, QtMsgType.QtCriticalMsg: logging.ERROR,
              QtMsgType.QtFatalMsg: logging.CRITICAL}
    qt_log = logging.getLogger("qt")

    def handler(kind, context, message) -> None:
        qt_log.log(levels.get(kind, logging.WARNING), message)

    qInstallMessageHandler(handler)


def close_logging() -> None:
    """Detach and close the file handler (tests, and before the log folder is removed)."""
    from PySide6.QtCore import qInstallMessageHandler

    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(handler)
        handler.close()
        qInstallMessageHandler(None)
