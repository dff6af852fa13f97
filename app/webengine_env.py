"""What QtWebEngine needs from the process environment, set before Qt starts.

Chromium, inside QtWebEngine, refuses to start its sandboxed helper processes for the root user: the first result
view kills the whole process (Docker, WSL, CI, kiosk setups run as root). As root, and only where the user has not
decided it already, the sandbox is switched off the two ways QtWebEngine reads it, and the log says so. Both are read
when the first web view starts Chromium, so this runs at the top of every entry point, before any Qt object exists.
"""

from __future__ import annotations

import logging
import os
from typing import MutableMapping

SANDBOX_ENV = "QTWEBENGINE_DISABLE_SANDBOX"
FLAGS_ENV = "QTWEBENGINE_CHROMIUM_FLAGS"
NO_SANDBOX_FLAG = "--no-sandbox"
ROOT_NOTE = (f"running as root: QtWebEngine's sandbox is switched off ({SANDBOX_ENV}=1, {NO_SANDBOX_FLAG}), "
             "because Chromium will not start as root with it; run as a normal user to keep it")

log = logging.getLogger(__name__)


def allow_webengine_as_root(environ: MutableMapping[str, str], euid: int | None) -> str | None:
    """For ``euid`` 0, switch Chromium's sandbox off in ``environ`` (the user's other Chromium flags kept) and return
    the line to log; None when nothing changed: not root, no uid (Windows), or the user set the variable."""
    if euid != 0 or SANDBOX_ENV in environ:
        return None
    environ[SANDBOX_ENV] = "1"
    flags = environ.get(FLAGS_ENV, "").split()
    if NO_SANDBOX_FLAG not in flags:
        environ[FLAGS_ENV] = " ".join([*flags, NO_SANDBOX_FLAG])
    return ROOT_NOTE


def effective_uid() -> int | None:
    """This process's effective user id; None where the OS has none (Windows)."""
    geteuid = getattr(os, "geteuid", None)
    return geteuid() if geteuid is not None else None


def prepare_webengine() -> str | None:
    """``allow_webengine_as_root`` for this process, with its line in the app's log. Call it before Qt starts."""
    note = allow_webengine_as_root(os.environ, effective_uid())
    if note is not None:
        from app.logging_setup import setup_logging  # idempotent; the window's start-up reuses this handler

        setup_logging()
        log.warning(note)
    return note
