"""Turning inputs into what the model reads: pictures to RGB and patches, text to prompt token ids (and back)."""
