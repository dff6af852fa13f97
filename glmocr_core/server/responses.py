"""Reply bodies and stream events: OpenAI ``chat.completion`` / ``chat.completion.chunk`` (as vLLM writes them,
``token_ids`` included when asked with ``return_token_ids``) and Ollama's ``/api/generate`` objects.

Every final reply carries a ``glmocr`` object: the text and stop reason after the repetition guard, the image grid
and, on Ollama's route, the token ids. ``glmocr_core.backends`` reads it so a remote result equals a local one;
other clients ignore it.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timezone

from ..api import STOP_MAX_TOKENS, OcrResult

OWNER = "glmocr-studio"


def finish_reason(result: OcrResult) -> str:
    # a repetition loop the guard cut off, or a cancelled row, ended normally as far as OpenAI clients are concerned
    return "length" if result.stop_reason == STOP_MAX_TOKENS else "stop"


def new_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def extension(result: OcrResult, with_tokens: bool = False) -> dict:
    ext = {"text": result.text, "stop_reason": result.stop_reason, "image_grid_thw": result.image_grid_thw,
           "prompt_tokens": result.prompt_tokens}
    return {**ext, "token_ids": result.token_ids} if with_tokens else ext


def usage(result: OcrResult) -> dict:
    completion = len(result.token_ids)
    return {"prompt_tokens": result.prompt_tokens, "completion_tokens": completion,
            "total_tokens": result.prompt_tokens + completion}


class ChatReply:
    """The bodies of one chat-completions reply (one id and creation time for all its chunks)."""

    def __init__(self, model: str, return_token_ids: bool):
        self.id, self.created, self.model = new_id(), int(time.time()), model
        self.return_token_ids = return_token_ids

    def completion(self, result: OcrResult) -> dict:
        choice = {"index": 0, "message": {"role": "assistant", "content": result.text}, "logprobs": None,
                  "finish_reason": finish_reason(result), "glmocr": extension(result)}
        if self.return_token_ids:
            choice["token_ids"] = result.token_ids
        return {**self._head("chat.completion"), "choices": [choice], "usage": usage(result)}

    def chunk(self, delta: dict, finish: str | None = None, **extra) -> dict:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish, **extra}
        return {**self._head("chat.completion.chunk"), "choices": [choice]}

    def last_chunk(self, result: OcrResult) -> dict:
        # every token id goes in the last chunk, so ids summed over the chunks are the kept ones even when the
        # repetition guard cut text that was already streamed
        extra = {"token_ids": result.token_ids} if self.return_token_ids else {}
        return self.chunk({}, finish_reason(result), glmocr=extension(result), **extra)

    def usage_chunk(self, result: OcrResult) -> dict:
        return {**self._head("chat.completion.chunk"), "choices": [], "usage": usage(result)}

    def _head(self, kind: str) -> dict:
        return {"id": self.id, "object": kind, "created": self.created, "model": self.model}


class GenerateReply:
    """Ollama /api/generate objects."""

    def __init__(self, model: str, return_token_ids: bool):
        self.model, self.return_token_ids = model, return_token_ids
        self.started = time.perf_counter()

    def piece(self, text: str) -> dict:
        return {"model": self.model, "created_at": _now(), "response": text, "done": False}

    def final(self, result: OcrResult, text: str = "") -> dict:
        t = result.timings
        return {"model": self.model, "created_at": _now(), "response": text, "done": True,
                "done_reason": finish_reason(result), "total_duration": _ns(time.perf_counter() - self.started),
                "load_duration": 0, "prompt_eval_count": result.prompt_tokens,
                "prompt_eval_duration": _ns(t.preprocess_s + t.first_token_s), "eval_count": len(result.token_ids),
                "eval_duration": _ns(t.decode_s), "glmocr": extension(result, self.return_token_ids)}


def sse(value: dict | str) -> str:
    return f"data: {value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)}\n\n"


def ndjson(value: dict) -> str:
    return json.dumps(value, ensure_ascii=False) + "\n"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


def _ns(seconds: float) -> int:
    return int(seconds * 1e9)
