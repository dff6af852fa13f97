"""Ollama's native ``POST /api/generate``: the prompt, the image as bare base64 in ``images``, sampling under
``options``; the reply is newline-delimited JSON objects, the last one with ``"done": true`` and the counts."""

from __future__ import annotations

import json
from typing import Any, Iterable, Iterator

from .replies import (EXTENSION, ReplyPiece, RequestSpec, ServerReportedError, error_message, int_or_none, json_object,
                      sampling_fields)

PATH = "/api/generate"
MODELS_PATH = "/api/tags"
# Ollama's option names for the fields sampling_fields() writes in the OpenAI/vLLM spelling
_OPTION_NAMES = {"temperature": "temperature", "top_p": "top_p", "top_k": "top_k", "seed": "seed",
                 "repetition_penalty": "repeat_penalty"}


def build_request(spec: RequestSpec, stream: bool = True) -> dict[str, Any]:
    options = {_OPTION_NAMES[name]: value for name, value in sampling_fields(spec.sampling).items()}
    body = {"model": spec.model, "prompt": spec.prompt, "stream": stream,
            "options": {"num_predict": spec.max_tokens, **options},
            # read by glmocr-studio serve only (Ollama ignores fields it does not know)
            "repeat_guard": spec.repeat_guard, "return_token_ids": True}
    if spec.image_b64 is not None:
        body["images"] = [spec.image_b64]
    return body


def parse_stream(lines: Iterable[str]) -> Iterator[ReplyPiece]:
    for line in lines:
        if line.strip():
            piece = parse_line(json_object(line, "a line"))
            yield piece
            if piece.done:
                return


def parse_line(value: dict) -> ReplyPiece:
    """One object of the stream (or the whole non-streaming reply, which has the same shape)."""
    if "error" in value:
        raise ServerReportedError(error_message(json.dumps(value)))
    done = value.get("done") is True
    reason = value.get("done_reason")
    extension = value.get(EXTENSION)
    return ReplyPiece(text=value.get("response") if isinstance(value.get("response"), str) else "",
                      finish_reason=(reason if isinstance(reason, str) else "stop") if done else None, done=done,
                      prompt_tokens=int_or_none(value.get("prompt_eval_count")),
                      completion_tokens=int_or_none(value.get("eval_count")),
                      extension=extension if isinstance(extension, dict) else None)


def model_names(body: Any) -> list[str]:
    """Model names from ``GET /api/tags`` (e.g. "glm-ocr:latest")."""
    models = body.get("models") if isinstance(body, dict) else None
    return [m["name"] for m in models if isinstance(m, dict) and isinstance(m.get("name"), str)] \
        if isinstance(models, list) else []


