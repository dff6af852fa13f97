"""The published checkpoints on the Hugging Face Hub, as data: where each one is, which of its files a download
fetches, and what a user is told before fetching it. Plain constants (no httpx, no torch), so the window can show
them without loading the download machinery.

Two models: GLM-OCR (the recognizer) and PP-DocLayoutV3 (the layout model that finds a page's regions). A download
names one by its ``kind``; ``download.download_model`` reads everything else from the facts here.
"""

from __future__ import annotations

from dataclasses import dataclass

from .layout import (CONFIG_FILE, OPTIONAL_DOWNLOADS, PREPROCESSOR_FILE, REQUIRED_FILES, WEIGHTS_FILE,
                     WEIGHTS_INDEX_FILE, ModelFile)

GLM_OCR_KIND = "glm-ocr"
LAYOUT_KIND = "layout"


@dataclass(frozen=True)
class HubModel:
    """One published checkpoint. ``required`` files must be in the repository (or their stand-ins); ``optional``
    ones are fetched when present; weight shards (model-0000N-of-0000M.safetensors) are always fetched."""

    kind: str
    name: str  # shown to users
    repo_id: str
    revision: str
    approx_download_bytes: int  # shown before the file list is known; the real sizes come from the Hub
    license: str
    required: tuple[ModelFile, ...]
    optional: tuple[str, ...]

    @property
    def wanted_names(self) -> frozenset[str]:
        """Every file name a download fetches besides the shards."""
        return frozenset({f.name for f in self.required} | {WEIGHTS_INDEX_FILE} | set(self.optional))


GLM_OCR = HubModel(GLM_OCR_KIND, "GLM-OCR", "zai-org/GLM-OCR", "main", 2_200_000_000, "MIT", REQUIRED_FILES,
                   OPTIONAL_DOWNLOADS)

# The safetensors export that transformers (and our core) load; "PaddlePaddle/PP-DocLayoutV3" is the Paddle export.
# 33.2 M parameters in fp32. The revision is the branch: no published commit is pinned in this project yet.
LAYOUT_MODEL = HubModel(
    LAYOUT_KIND, "PP-DocLayoutV3 (layout)", "PaddlePaddle/PP-DocLayoutV3_safetensors", "main", 133_000_000,
    "Apache-2.0",
    (ModelFile(CONFIG_FILE, "layout model configuration"),
     ModelFile(WEIGHTS_FILE, "layout weights", alternative=WEIGHTS_INDEX_FILE)),
    (PREPROCESSOR_FILE, "LICENSE", "README.md"),
)

HUB_MODELS: dict[str, HubModel] = {model.kind: model for model in (GLM_OCR, LAYOUT_MODEL)}


def hub_model(kind: str) -> HubModel:
    try:
        return HUB_MODELS[kind]
    except KeyError:
        raise ValueError(f"unknown model kind {kind!r}; choose one of: {', '.join(HUB_MODELS)}") from None


# The GLM-OCR facts under the names the window already imports.
DEFAULT_REPO_ID = GLM_OCR.repo_id
DEFAULT_REVISION = GLM_OCR.revision
APPROX_DOWNLOAD_BYTES = GLM_OCR.approx_download_bytes
MODEL_LICENSE = GLM_OCR.license
