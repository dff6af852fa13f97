"""GLM-OCR Studio, the desktop app (PySide6). Talks to glmocr_core through the engine API only."""

__version__ = "0.1.0"
