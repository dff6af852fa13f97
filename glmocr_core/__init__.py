"""Self-contained GLM-OCR inference core: pure PyTorch + safetensors + tokenizers. Never imports Qt."""

__version__ = "0.1.0"
