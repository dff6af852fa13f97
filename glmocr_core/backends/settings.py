"""How to reach a remote GLM-OCR server, as plain data: kind, endpoints, key, model name, pool size, timeouts, retries.

The defaults are the safe ones: PNG images (nothing lost), TLS verification on, a few retries on 429/5xx only.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

from ..errors import UsageError

BACKENDS = ("local", "openai", "ollama")  # "local": the in-process engine (glmocr_core.engine)
REMOTE_KINDS = BACKENDS[1:]
# Where each kind listens when started with its defaults (vLLM/SGLang/llama-server as the GLM-OCR docs start them).
DEFAULT_URLS = {"openai": "http://127.0.0.1:8080", "ollama": "http://127.0.0.1:11434"}
IMAGE_FORMATS = ("png", "jpeg")
DEFAULT_MODEL_NAME = "glm-ocr"  # vLLM/SGLang --served-model-name in the GLM-OCR docs, and serve's default

# What users paste: a bare base, the OpenAI "/v1" base, or a whole endpoint. Longest first.
_API_SUFFIXES = ("/v1/chat/completions", "/chat/completions", "/api/generate", "/api/chat", "/v1", "/api")


@dataclass(frozen=True)
class RetryPolicy:
    """Retries happen only before any of the reply has arrived, so nothing is ever streamed twice."""

    attempts: int = 4  # the first try and three retries
    backoff_base_s: float = 0.5  # doubled per retry, capped, with jitter so a crowd of clients spreads out
    backoff_max_s: float = 8.0
    retry_after_max_s: float = 60.0  # a longer Retry-After is cut to this, so a client never hangs for hours
    statuses: frozenset[int] = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RemoteSettings:
    kind: str = "openai"  # "openai" (chat completions) or "ollama" (/api/generate)
    urls: tuple[str, ...] = ()  # several endpoints are used in rotation; empty: DEFAULT_URLS[kind]
    api_key: str | None = None  # sent as "Authorization: Bearer KEY"
    model_name: str = DEFAULT_MODEL_NAME
    image_format: str = "png"  # "png" is lossless (remote tokens can equal local ones); "jpeg" is smaller
    jpeg_quality: int = 95
    concurrency: int = 4  # requests in flight at once (regions and pages fan out over them)
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 120.0  # longest silence allowed while waiting for the next piece of a reply
    verify_tls: bool = True
    # proxy and CA-bundle variables from the environment, like every other HTTP tool (never for this machine's own
    # addresses: a proxy cannot reach a server on the user's loopback)
    trust_env: bool = True
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    headers: tuple[tuple[str, str], ...] = ()  # extra headers, e.g. for a gateway in front of the server

    def checked(self) -> "RemoteSettings":
        """These settings with base URLs normalized; UsageError for values that cannot work."""
        if self.kind not in REMOTE_KINDS:
            raise UsageError(f"unknown backend {self.kind!r}; choose one of: {', '.join(REMOTE_KINDS)}")
        if self.image_format not in IMAGE_FORMATS:
            raise UsageError(f"unknown image format {self.image_format!r}; choose one of: {', '.join(IMAGE_FORMATS)}")
        if self.concurrency < 1:
            raise UsageError(f"concurrency must be at least 1, got {self.concurrency}")
        _check_positive("connect timeout", self.connect_timeout_s)
        _check_positive("read timeout", self.read_timeout_s)
        if not self.model_name.strip():
            raise UsageError("the model name is empty")
        urls = tuple(base_url(url) for url in (self.urls or (DEFAULT_URLS[self.kind],)))
        return replace(self, urls=urls, trust_env=self.trust_env and not all(map(is_loopback_url, urls)))


def base_url(url: str) -> str:
    """``http://host:port[/prefix]`` without a trailing API path (the protocol adds its own)."""
    text = url.strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"bad server URL {url!r}: expected http://HOST:PORT or https://HOST[:PORT]")
    for suffix in _API_SUFFIXES:
        if parts.path.endswith(suffix):
            return text[: len(text) - len(suffix)]
    return text


def is_loopback_url(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_positive(name: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise UsageError(f"the {name} must be a positive number of seconds, got {value!r}")
