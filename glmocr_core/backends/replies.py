"""What every wire protocol turns a request and a reply into: a ``RequestSpec`` going out, ``ReplyPiece``s coming
back, and readable messages out of the error bodies servers send (OpenAI, vLLM, SGLang, llama-server, Ollama)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from ..api import STOP_EOS, STOP_MAX_TOKENS, SamplingOptions


class ServerReportedError(Exception):
    """An error object inside an otherwise successful reply (a stream that failed half-way)."""


def json_object(text: str, what: str) -> dict:
    """One JSON object the server sent (``what``: "an event", "a line"), or ServerReportedError saying what came."""
    try:
        value = json.loads(text)
    except ValueError:
        raise ServerReportedError(f"the server sent {what} that is not JSON: {text[:120]!r}") from None
    if not isinstance(value, dict):
        raise ServerReportedError(f"the server sent {what} that is not a JSON object: {text[:120]!r}")
    return value

# glmocr-studio serve adds this object to its replies: the final text and token ids after the repetition guard, and
# the engine's stop reason and image grid, so that a remote result can equal a local one.
EXTENSION = "glmocr"
# finish_reason (OpenAI) and done_reason (Ollama) in the core's words; anything else counts as a normal stop
FINISH_REASONS = {"stop": STOP_EOS, "eos": STOP_EOS, "length": STOP_MAX_TOKENS}
_ERROR_PREVIEW = 300


@dataclass
class RequestSpec:
    """One recognition request, independent of the wire format."""

    prompt: str
    max_tokens: int
    sampling: SamplingOptions
    image_b64: str | None = None  # None: a text-only prompt
    image_mime: str = "image/png"
    model: str = "glm-ocr"
    repeat_guard: bool = True  # read by glmocr-studio serve only; other servers ignore unknown fields

    @property
    def image_data_url(self) -> str | None:
        return None if self.image_b64 is None else f"data:{self.image_mime};base64,{self.image_b64}"


@dataclass
class ReplyPiece:
    text: str = ""
    token_ids: list[int] = field(default_factory=list)
    finish_reason: str | None = None
    done: bool = False  # the server says the reply is complete
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    extension: dict | None = None


def sampling_fields(sampling: SamplingOptions) -> dict[str, Any]:
    """The sampling part of a request, in the names vLLM, SGLang and the official SDK use. Greedy is temperature 0
    (what every one of these servers reads as argmax); the repetition penalty applies to greedy decoding too."""
    fields: dict[str, Any] = {"temperature": 0.0}
    if sampling.do_sample:
        fields = {"temperature": sampling.temperature, "top_p": sampling.top_p}
        if sampling.top_k > 0:
            fields["top_k"] = sampling.top_k
        if sampling.seed is not None:
            fields["seed"] = sampling.seed
    if sampling.repetition_penalty != 1.0:
        fields["repetition_penalty"] = sampling.repetition_penalty
    return fields


def sse_payloads(lines: Iterable[str]) -> Iterator[str]:
    """The data of each server-sent event (comment lines, such as keep-alives, and other fields are skipped)."""
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield "\n".join(data)
            data = []
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
    if data:
        yield "\n".join(data)


def error_message(body: bytes | str) -> str:
    """The human part of an error body: {"error": {"message"}} (OpenAI, vLLM, llama-server), {"error": "..."}
    (Ollama), {"message"} (older vLLM), {"detail"} (FastAPI-based servers), or the start of the text."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        value = json.loads(text)
    except ValueError:
        return _preview(text) or "(no details)"
    found = _message_in(value) if isinstance(value, dict) else None
    return _preview(found if found else text)


def _message_in(value: dict) -> str | None:
    error = value.get("error")
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return error["message"]
    for candidate in (error, value.get("message"), value.get("detail")):
        if isinstance(candidate, str) and candidate:
            return candidate
    return None


def _preview(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _ERROR_PREVIEW else text[:_ERROR_PREVIEW] + "…"


def int_list(value: Any) -> list[int]:
    """A list of ints from a reply, or [] for anything else (replies come from servers we do not control)."""
    if isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return list(value)
    return []


def int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
