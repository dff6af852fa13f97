"""What ``glmocr-studio serve`` allows and where it listens, as plain data."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from ..documents.document import MAX_IMAGE_PIXELS
from ..errors import UsageError
from ..tasks.specs import MAX_NEW_TOKENS

DEFAULT_MODEL_NAME = "glm-ocr"  # what the GLM-OCR docs pass to vLLM/SGLang as --served-model-name
DEFAULT_PORT = 8080  # the port the official SDK's config points at


@dataclass(frozen=True)
class ServerLimits:
    # A 3500 px page as PNG is some tens of MB in base64; the body is held in memory while it is parsed.
    max_body_bytes: int = 64 * 2**20
    max_image_pixels: int = MAX_IMAGE_PIXELS  # the documents' decompression-bomb limit
    # A white page compresses ~1000:1, so a small body can still decode to hundreds of MB: at most this many
    # request images are decoded at once.
    max_parallel_decodes: int = 2
    # The SDK asks for 8192 by default; above this a request is refused rather than allowed to tie up the engine.
    max_tokens: int = MAX_NEW_TOKENS
    max_text_chars: int = 100_000  # the prompt text; GLM-OCR prompts are a few words or a JSON template
    max_batch: int = 8  # requests decoded together
    # The KV cache is allocated for a batch's rows × (prompt + its longest budget): this caps rows × budget, so
    # eight SDK requests (8192 each) fit, and so does one long request of max_tokens.
    max_batch_tokens: int = 65536
    max_queued: int = 256  # waiting requests; more are answered 503 with Retry-After
    gather_s: float = 0.02  # how long a batch waits for requests that are on their way (a small price per request)
    keepalive_s: float = 10.0  # a streaming client hears an SSE comment this often while its request waits


@dataclass(frozen=True)
class ServeSettings:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    api_key: str | None = None  # required ("Authorization: Bearer KEY") on every route but /health when set
    served_model_name: str = DEFAULT_MODEL_NAME
    limits: ServerLimits = field(default_factory=ServerLimits)
    graceful_timeout_s: float | None = None  # on shutdown, how long running requests may take; None: as long as needed
    log_level: str = "info"

    def checked(self) -> "ServeSettings":
        if not is_loopback(self.host) and not self.api_key:
            raise UsageError(f"binding to {self.host} lets other machines use the model; set an API key "
                             "(--api-key KEY or the GLMOCR_STUDIO_API_KEY variable) to do that")
        if not 0 <= self.port <= 65535:
            raise UsageError(f"the port must be between 0 and 65535, got {self.port}")
        if self.limits.max_batch < 1 or self.limits.max_tokens < 1:
            raise UsageError("--max-batch and the token limit must be at least 1")
        if self.limits.max_batch_tokens < self.limits.max_tokens:
            raise UsageError(f"the batch token budget ({self.limits.max_batch_tokens}) must hold one request of "
                             f"the largest size ({self.limits.max_tokens} tokens)")
        return self


def is_loopback(host: str) -> bool:
    """Only this machine can reach it: localhost, 127.0.0.0/8, ::1."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name may resolve to anything
