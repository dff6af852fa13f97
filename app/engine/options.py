"""What the saved settings ask of the engine: where it runs and how it loads (``engine_choice``: this computer's
model folder with device and precision, or a server with its RemoteSettings fields), per-task recognition options
and the PDF resolution. The meaning of each precision (which dtype on which device) is the core's, not repeated
here."""

from __future__ import annotations

from dataclasses import dataclass, field

from glmocr_core.api import RecognizeOptions
from glmocr_core.backends.settings import BACKENDS, DEFAULT_URLS, REMOTE_KINDS

from app.settings import Settings, server_urls

AUTO = "auto"  # the engine's own choice: nothing to pass
LOCAL = BACKENDS[0]


@dataclass(frozen=True)
class EngineChoice:
    """One engine load: which backend, what it loads (a model folder, or comma-separated server URLs) and the
    loader's keyword arguments. The host hands ``target`` and ``options`` to the local or the remote loader."""

    backend: str
    target: str
    options: dict = field(default_factory=dict)

    @property
    def remote(self) -> bool:
        return self.backend != LOCAL

    @property
    def urls(self) -> tuple[str, ...]:
        return server_urls(self.target) if self.remote else ()


def engine_choice(settings: Settings, model_dir: str | None = None) -> EngineChoice:
    """The engine the settings ask for; ``model_dir`` replaces the saved folder of a local one."""
    backend = settings.get("backend")
    if backend not in REMOTE_KINDS:
        return EngineChoice(LOCAL, model_dir or settings.model_dir(), load_options(settings))
    urls = server_urls(settings.get("remote/urls")) or (DEFAULT_URLS[backend],)
    return EngineChoice(backend, ",".join(urls), remote_options(settings, backend))


def remote_options(settings: Settings, kind: str) -> dict:
    """``RemoteEngine.load`` keyword arguments (RemoteSettings fields) for the saved server settings."""
    return {"kind": kind, "api_key": settings.api_key() or None, "model_name": settings.get("remote/model_name"),
            "concurrency": settings.get("remote/concurrency"), "image_format": settings.get("remote/image_format"),
            "verify_tls": settings.get("remote/verify_tls")}


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
