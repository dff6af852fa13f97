"""What the screenshot scripts share: the app composed as ``glmocr-studio`` composes it (``app.main.build`` and
``boot``), driven by the test suite's fake engine, with its data in a scratch folder and a short event-loop pump."""

from __future__ import annotations

import itertools
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "app")]
SCRATCH = Path(tempfile.mkdtemp())
os.environ["GLMOCR_DATA_DIR"] = str(SCRATCH / "data")  # autosaves and logs stay out of the user's folders

import PySide6.QtWebEngineWidgets  # noqa: E402,F401  (result views: before the QApplication exists)
from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.main import Studio, boot, build  # noqa: E402
from app.paths import MODEL_DIR_ENV  # noqa: E402
from app.qt_compat import install_refcount_guards  # noqa: E402
from app.settings import Settings  # noqa: E402
from helpers import header_checkpoint  # noqa: E402

install_refcount_guards()  # before any signal traffic
APP = QApplication.instance() or QApplication(sys.argv)  # global: it must outlive every window
_windows = itertools.count(1)


def pump(ms: int = 300) -> None:
    """Let the window live for ``ms`` (a local loop: QApplication.quit would close the window)."""
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def open_studio(loader, *, with_model: bool, size=(1380, 860), **settings_values) -> Studio:
    """A shown window; ``with_model`` gives it a model folder the fake engine "loads"."""
    model = header_checkpoint(SCRATCH / "model") if with_model else SCRATCH / "missing-model"
    os.environ[MODEL_DIR_ENV] = str(model)
    settings = Settings(SCRATCH / f"settings-{next(_windows)}.ini")  # each window starts from the defaults
    for name, value in settings_values.items():
        settings.set(name, value)
    studio = build(settings, loader)
    studio.window.resize(*size)
    boot(studio, [])
    return studio


def close(studio: Studio) -> None:
    studio.file_actions.autosaver.finish()
    studio.window.close()  # stops the engine thread cleanly
