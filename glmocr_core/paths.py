"""The user folders that the command line and the desktop app share, and the environment variables that move them.

One owner for the folder name, so the CLI finds the model the app downloaded and both reuse one weight cache.
The app keeps its own sub-folders (autosave, pasted pictures, templates, logs) in ``app/paths.py``, built on these.
"""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "glmocr-studio"  # the folder name under the platform's data, cache and log directories
MODEL_DIR_ENV = "GLMOCR_MODEL_DIR"  # a model folder to use instead of the configured one
LAYOUT_MODEL_DIR_ENV = "GLMOCR_LAYOUT_MODEL_DIR"  # a layout model (PP-DocLayoutV3) folder to use instead
DATA_DIR_ENV = "GLMOCR_DATA_DIR"  # tests and portable installs keep all user data in their own folder
NO_WEIGHT_CACHE_ENV = "GLMOCR_NO_WEIGHT_CACHE"  # set: never write converted weights to disk


def user_data_dir() -> Path:
    import platformdirs

    override = os.environ.get(DATA_DIR_ENV)
    return Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def models_dir() -> Path:
    """The folder the downloaded models live in, one sub-folder each."""
    return user_data_dir() / "models"


def default_model_dir() -> Path:
    """Where a downloaded model goes unless the user picks another folder."""
    return models_dir() / "GLM-OCR"


def default_layout_model_dir() -> Path:
    """Where the downloaded layout model (PP-DocLayoutV3) goes: next to the GLM-OCR model folder."""
    return models_dir() / "PP-DocLayoutV3"


def model_dir_from_env() -> Path | None:
    value = os.environ.get(MODEL_DIR_ENV)
    return Path(value) if value else None


def layout_model_dir_from_env() -> Path | None:
    value = os.environ.get(LAYOUT_MODEL_DIR_ENV)
    return Path(value) if value else None


def weight_cache_dir() -> Path | None:
    """Where converted weights are kept for fast later starts, or None when the cache is switched off."""
    if os.environ.get(NO_WEIGHT_CACHE_ENV):
        return None
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP_NAME)) / "converted-weights"
