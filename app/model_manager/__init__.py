"""The model manager: where the model lives, whether it is usable, and getting it (download or "Choose folder…").

Qt only; the folder check and the download itself are in glmocr_core.checkpoint (no Qt, no torch).
"""

from app.dialogs.downloads import DownloadController
from app.dialogs.model_manager import ModelManagerDialog


def install_model_manager(window, downloader=None):
    """The entry point's one call: see app.model_manager.install."""
    from app.model_manager.install import install_model_manager as install

    return install(window, downloader)


__all__ = ["ModelManagerDialog", "DownloadController", "install_model_manager"]
