"""Where a dialog's file or folder picker opens: never the current directory.

A window started from a shortcut, a file manager or a terminal has whatever working directory its launcher had (the
source tree, /, C:\\Windows\\System32). Qt's pickers fall back to it when they are given nothing, or a folder that
does not exist, so every picker is given a folder that exists: the first of its candidates, else the user's home.
"""

from __future__ import annotations

from pathlib import Path


def start_folder(*candidates: str | Path | None) -> str:
    """The first candidate that is an existing folder, else the home folder."""
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return str(Path(candidate))
    return str(Path.home())
