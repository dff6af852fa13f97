"""What the saved settings ask of the engine: load options (device, precision), per-task recognition options and the
PDF resolution. The meaning of each precision (which dtype on which device) is the core's, not repeated here."""

from __future__ import annotations

from glmocr_core.api import RecognizeOptions

from app.settings import Settings

AUTO = "auto"  # the engine's own choice: nothing to pass


def load_options(settings: Settings) -> dict:
    """``EngineLoader`` keyword arguments for the saved device and precision."""
    options = {}
    for name in ("device", "precision"):
        value = settings.get(name)
        if value and value != AUTO:
            options[name] = value
    return options


def recognize_options(settings: Settings, task: str, schema: str | None = None) -> RecognizeOptions:
    """The task's token budget and the repetition guard from the settings; ``schema`` for Extract regions."""
    return RecognizeOptions(schema=schema, max_new_tokens=settings.get(f"max_new_tokens/{task}"),
                            repeat_guard=settings.get("repeat_guard"))


def ocr_dpi(settings: Settings) -> int:
    """The resolution PDF pages are rendered at for recognition."""
    return settings.get("pdf_dpi")
