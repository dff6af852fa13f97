"""Test-only launcher: the real app, as ``glmocr-studio`` starts it, with a driver script that plays the user.

    python tests/app/run_with_driver.py DRIVER.py [app arguments...]

The driver runs once the event loop is up, with the composed app in scope as ``studio`` (``app.main.Studio``). Only
tests start the app this way; the installed app runs no script it is handed.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository, when run as a script

from PySide6.QtCore import QTimer  # noqa: E402

import app.main  # noqa: E402


def main(driver: str, app_args: list[str]) -> int:
    application, studio = app.main.start(app_args)  # installs the refcount guard before any signal
    QTimer.singleShot(0, studio.window, lambda: runpy.run_path(driver, init_globals={"studio": studio}))
    return app.main.run(application, studio)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
