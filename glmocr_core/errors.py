"""The exception types the core raises for problems a user can fix.

Callers (the CLI, the GUI worker) catch these and show ``str(exc)``; anything else is a bug.
"""

from __future__ import annotations

from pathlib import Path


class GlmOcrError(Exception):
    """Base class: a problem with the user's model, input or options, with a readable message."""

    def __init__(self, reason: str, path: str | Path | None = None):
        self.reason = reason
        self.path = str(path) if path is not None else None
        super().__init__(f"{self.path}: {reason}" if self.path else reason)


class ModelError(GlmOcrError):
    """The model folder is missing, incomplete, corrupt or not a GLM-OCR checkpoint."""


class InputError(GlmOcrError):
    """An image, PDF, region or schema the user gave cannot be used."""


class UsageError(GlmOcrError):
    """Options that contradict each other or are out of range."""


class DownloadCancelled(Exception):
    """The user cancelled a download; what arrived stays in the partial file so the next download resumes."""
