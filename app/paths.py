"""Every folder the desktop app reads or writes, in one place.

Built on ``glmocr_core.paths``, which owns the folder name and the environment variables, so the command line and the
app agree on where the model and the user's data live. ``GLMOCR_DATA_DIR`` (tests, portable installs) moves all of
them, logs included.
"""

from __future__ import annotations

import os
from pathlib import Path

from glmocr_core.paths import (APP_NAME, DATA_DIR_ENV, LAYOUT_MODEL_DIR_ENV, MODEL_DIR_ENV, default_layout_model_dir,
                               default_model_dir, layout_model_dir_from_env, model_dir_from_env, user_data_dir)

__all__ = ["APP_NAME", "DATA_DIR_ENV", "LAYOUT_MODEL_DIR_ENV", "MODEL_DIR_ENV", "autosave_dir",
           "default_layout_model_dir", "default_model_dir", "layout_model_dir_from_env", "log_dir",
           "model_dir_from_env", "pasted_dir", "samples_dir", "templates_dir", "user_data_dir"]


def autosave_dir() -> Path:
    """Crash-recovery autosaves and the lock files that tell a live app from a dead one."""
    return user_data_dir() / "autosave"


def pasted_dir() -> Path:
    """Copies of pasted or dropped pictures, so their sessions reopen without the clipboard."""
    return user_data_dir() / "pasted"


def templates_dir() -> Path:
    """The user's saved extraction templates."""
    return user_data_dir() / "templates"


def samples_dir() -> Path:
    """The sample page the model manager draws for a first try."""
    return user_data_dir() / "samples"


def log_dir() -> Path:
    """The platform's log folder, or ``logs`` in the data folder when ``GLMOCR_DATA_DIR`` moves everything."""
    if os.environ.get(DATA_DIR_ENV):
        return user_data_dir() / "logs"
    import platformdirs

    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))
