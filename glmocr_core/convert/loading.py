"""The layout model for a conversion, checked before it loads: a missing or wrong folder is one ModelError that
says what is wrong and where the model comes from, never a traceback from the loader."""

from __future__ import annotations

from pathlib import Path

from ..checkpoint.hub import LAYOUT_MODEL
from ..errors import ModelError

MISSING_HELP = ("the layout model is not in {folder}. Download {name} in the window's model manager, or fetch the "
                "files of {repo} ({files}) into a folder and pass it with --layout-model DIR "
                "(or set GLMOCR_LAYOUT_MODEL_DIR)")


def open_layout_detector(folder: str | Path, device: str = "auto", fast: bool = False):
    """A ``layout.detector.LayoutDetector`` for ``folder`` on ``device`` ("auto", "cpu", "cuda", "mps")."""
    from ..layout.folder import layout_folder_state, require_layout_dir

    if layout_folder_state(folder)[0] == "missing":
        raise ModelError(MISSING_HELP.format(folder=folder, name=LAYOUT_MODEL.name, repo=LAYOUT_MODEL.repo_id,
                                             files=", ".join(f.name for f in LAYOUT_MODEL.required)))
    require_layout_dir(folder)
    from ..layout.detector import LayoutDetector
    from ..runtime.devices import resolve_device

    return LayoutDetector.load(folder, device=resolve_device(device), fast=fast)
