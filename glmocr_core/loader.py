"""The in-process engine as an ``api.EngineLoader``: what the window hands its worker thread. A module of its own, above
the engine, so that the contract (``api``) imports nothing of the core and the engine's torch loads only here, on the
caller's thread, when a model is loaded."""

from __future__ import annotations

from typing import Any

from .api import OcrEngine, Progress


def load_engine(model_dir: str, *, progress: Progress | None = None, **options: Any) -> OcrEngine:
    """``Engine.load`` with its options (device, dtype, precision, attention, mtp, weight_cache, cuda_graphs, cpu)."""
    from .engine import Engine

    return Engine.load(model_dir, progress=progress, **options)
