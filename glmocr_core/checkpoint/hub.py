"""The published GLM-OCR checkpoint on the Hugging Face Hub: where it is, and what a user is told before fetching it.
Plain constants, so the window can show them without loading the download machinery (httpx)."""

DEFAULT_REPO_ID = "zai-org/GLM-OCR"
DEFAULT_REVISION = "main"
APPROX_DOWNLOAD_BYTES = 2_200_000_000  # shown before the file list is known; the real sizes come from the Hub
MODEL_LICENSE = "MIT"
