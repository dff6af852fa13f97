"""The OpenAI chat-completions wire format, as vLLM, SGLang, llama-server, mlx_vlm.server and LM Studio speak it.

Request: one user message, the image first as a data URL, then the task's prompt (what GLM-OCR servers expect and
what the official SDK sends). Reply: server-sent events of ``chat.completion.chunk`` objects ending in ``[DONE]``,
or one ``chat.completion`` object when a server ignores ``stream``. ``return_token_ids`` asks vLLM (and serve) for
the generated ids; servers that do not know it ignore it.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Iterator

from .replies import (EXTENSION, ReplyPiece, RequestSpec, ServerReportedError, error_message, int_list, int_or_none,
                      json_object, sampling_fields, sse_payloads)

PATH = "/v1/chat/completions"
MODELS_PATH = "/v1/models"
DONE = "[DONE]"


def build_request(spec: RequestSpec, stream: bool = True) -> dict[str, Any]:
    content: list[dict] = []
    if spec.image_data_url is not None:
        content.append({"type": "image_url", "image_url": {"url": spec.image_data_url}})
    content.append({"type": "text", "text": spec.prompt})
    body = {"model": spec.model, "messages": [{"role": "user", "content": content}], "max_tokens": spec.max_tokens,
            "stream": stream, **sampling_fields(spec.sampling), "return_token_ids": True,
            "repeat_guard": spec.repeat_guard}
    if stream:
        body["stream_options"] = {"include_usage": True}
    return body


def parse_stream(lines: Iterable[str]) -> Iterator[ReplyPiece]:
    for payload in sse_payloads(lines):
        if payload.strip() == DONE:
            yield ReplyPiece(done=True)
            return
        yield parse_chunk(json_object(payload, "an event"))


def parse_chunk(chunk: dict) -> ReplyPiece:
    """One ``chat.completion.chunk``: the delta's text, its token ids, and on the last ones finish_reason and usage."""
    _raise_reported_error(chunk)
    choice = _first_choice(chunk)
    delta = choice.get("delta") if isinstance(choice.get("delta"), dict) else {}
    piece = ReplyPiece(text=_text(delta.get("content")), token_ids=int_list(choice.get("token_ids")),
                       finish_reason=_finish(choice), extension=_extension(chunk, choice))
    _add_usage(piece, chunk)
    return piece


def parse_completion(body: dict) -> ReplyPiece:
    """A whole ``chat.completion`` (non-streaming) reply."""
    _raise_reported_error(body)
    choice = _first_choice(body)
    message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
    piece = ReplyPiece(text=_text(message.get("content")), token_ids=int_list(choice.get("token_ids")),
                       finish_reason=_finish(choice) or "stop", done=True, extension=_extension(body, choice))
    _add_usage(piece, body)
    return piece


def model_names(body: Any) -> list[str]:
    """Model ids from ``GET /v1/models``."""
    data = body.get("data") if isinstance(body, dict) else None
    return [m["id"] for m in data if isinstance(m, dict) and isinstance(m.get("id"), str)] if isinstance(data, list) \
        else []


def _raise_reported_error(value: dict) -> None:
    if "error" in value or value.get("object") == "error":
        raise ServerReportedError(error_message(json.dumps(value)))


def _first_choice(value: dict) -> dict:
    choices = value.get("choices")
    return choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else {}


def _text(content: Any) -> str:
    return content if isinstance(content, str) else ""


def _finish(choice: dict) -> str | None:
    reason = choice.get("finish_reason")
    return reason if isinstance(reason, str) else None


def _extension(value: dict, choice: dict) -> dict | None:
    found = choice.get(EXTENSION, value.get(EXTENSION))
    return found if isinstance(found, dict) else None


def _add_usage(piece: ReplyPiece, value: dict) -> None:
    usage = value.get("usage")
    if isinstance(usage, dict):
        piece.prompt_tokens = int_or_none(usage.get("prompt_tokens"))
        piece.completion_tokens = int_or_none(usage.get("completion_tokens"))
