"""The wire formats, checked on recorded reply bodies of vLLM, llama.cpp's llama-server and Ollama, and on the
requests we build.

The recorded bodies below were written by hand from each project's documented formats (vLLM's OpenAI-compatible
server and its ``return_token_ids`` extension, llama.cpp's tools/server README, Ollama's docs/api.md), not captured
from running servers: no such server runs in these tests.
"""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
from PIL import Image
from starlette.responses import Response

from glmocr_core.api import RecognizeOptions, SamplingOptions
from glmocr_core.backends import ollama_generate, openai_chat
from glmocr_core.backends.remote import RemoteEngine, encode_image
from glmocr_core.backends.replies import RequestSpec, error_message, sampling_fields, sse_payloads
from glmocr_core.backends.settings import RemoteSettings, base_url
from glmocr_core.backends.transport import retry_after_seconds
from glmocr_core.errors import UsageError

from .fakes import FakeServer


def _sse(*events: dict | str) -> str:
    return "".join(f"data: {e if isinstance(e, str) else json.dumps(e)}\n\n" for e in events)


_VLLM_HEAD = {"id": "chatcmpl-5b1f", "object": "chat.completion.chunk", "created": 1767225600, "model": "glm-ocr"}
VLLM_STREAM = _sse(
    {**_VLLM_HEAD, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": None,
                                "finish_reason": None}], "prompt_token_ids": None},
    {**_VLLM_HEAD, "choices": [{"index": 0, "delta": {"content": "Invoice"}, "logprobs": None,
                                "finish_reason": None, "token_ids": [1001]}]},
    {**_VLLM_HEAD, "choices": [{"index": 0, "delta": {"content": " No. 17"}, "logprobs": None,
                                "finish_reason": None, "token_ids": [1002, 1003]}]},
    {**_VLLM_HEAD, "choices": [{"index": 0, "delta": {"content": ""}, "logprobs": None, "finish_reason": "stop",
                                "stop_reason": None, "token_ids": [59246]}]},
    {**_VLLM_HEAD, "choices": [], "usage": {"prompt_tokens": 312, "total_tokens": 316, "completion_tokens": 4}},
    "[DONE]")
VLLM_COMPLETION = {
    "id": "chatcmpl-9f2c", "object": "chat.completion", "created": 1767225600, "model": "glm-ocr",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Invoice No. 17", "refusal": None,
                                         "tool_calls": [], "reasoning_content": None},
                 "logprobs": None, "finish_reason": "length", "stop_reason": None, "token_ids": [1001, 1002, 1003]}],
    "usage": {"prompt_tokens": 312, "total_tokens": 315, "completion_tokens": 3, "prompt_tokens_details": None},
    "prompt_logprobs": None, "prompt_token_ids": None}
_LLAMA_HEAD = {"created": 1767225600, "id": "chatcmpl-Xk2", "model": "glm-ocr", "system_fingerprint": "b7100",
               "object": "chat.completion.chunk"}
LLAMA_SERVER_STREAM = _sse(
    {**_LLAMA_HEAD, "choices": [{"finish_reason": None, "index": 0, "delta": {"role": "assistant",
                                                                                "content": None}}]},
    {**_LLAMA_HEAD, "choices": [{"finish_reason": None, "index": 0, "delta": {"content": "$$E = mc"}}]},
    {**_LLAMA_HEAD, "choices": [{"finish_reason": None, "index": 0, "delta": {"content": "^2$$"}}]},
    {**_LLAMA_HEAD, "choices": [{"finish_reason": "stop", "index": 0, "delta": {}}],
     "usage": {"completion_tokens": 6, "prompt_tokens": 280, "total_tokens": 286},
     "timings": {"prompt_n": 280, "prompt_ms": 410.2, "predicted_n": 6, "predicted_ms": 80.1}},
    "[DONE]")
OLLAMA_STREAM = "".join(json.dumps(line) + "\n" for line in (
    {"model": "glm-ocr", "created_at": "2026-01-01T00:00:00.000001Z", "response": "<table><tr>", "done": False},
    {"model": "glm-ocr", "created_at": "2026-01-01T00:00:00.000002Z", "response": "<td>1</td></tr></table>",
     "done": False},
    {"model": "glm-ocr", "created_at": "2026-01-01T00:00:00.000003Z", "response": "", "done": True,
     "done_reason": "stop", "context": [1, 2, 3], "total_duration": 5043500667, "load_duration": 5025959,
     "prompt_eval_count": 26, "prompt_eval_duration": 325953000, "eval_count": 9, "eval_duration": 4709213000}))
ERROR_BODIES = [
    ({"error": {"message": "The model `glm` does not exist.", "type": "NotFoundError", "param": "model",
                "code": 404}}, "The model `glm` does not exist."),  # vLLM
    ({"object": "error", "message": "max_tokens is too large", "type": "BadRequestError", "param": None,
      "code": 400}, "max_tokens is too large"),  # older vLLM
    ({"error": {"code": 400, "message": "image input is not supported - hint: you may need to provide the mmproj",
                "type": "invalid_request_error"}}, "image input is not supported"),  # llama-server
    ({"error": "model 'glm' not found"}, "model 'glm' not found"),  # Ollama
    ({"detail": "Not Found"}, "Not Found"),  # FastAPI-based servers
]


def _lines(text: str) -> list[str]:
    return text.split("\n")


def test_vllm_stream_pieces():
    pieces = list(openai_chat.parse_stream(_lines(VLLM_STREAM)))
    assert "".join(p.text for p in pieces) == "Invoice No. 17"
    assert [t for p in pieces for t in p.token_ids] == [1001, 1002, 1003, 59246]
    assert [p.finish_reason for p in pieces if p.finish_reason] == ["stop"]
    assert pieces[-2].prompt_tokens == 312 and pieces[-1].done


def test_vllm_completion_body():
    piece = openai_chat.parse_completion(VLLM_COMPLETION)
    assert (piece.text, piece.token_ids, piece.finish_reason, piece.prompt_tokens) == \
        ("Invoice No. 17", [1001, 1002, 1003], "length", 312)


def test_llama_server_stream_pieces():
    pieces = list(openai_chat.parse_stream(_lines(LLAMA_SERVER_STREAM)))
    assert "".join(p.text for p in pieces) == "$$E = mc^2$$"
    assert not any(p.token_ids for p in pieces) and pieces[-2].completion_tokens == 6


def test_ollama_stream_pieces():
    pieces = list(ollama_generate.parse_stream(_lines(OLLAMA_STREAM)))
    assert "".join(p.text for p in pieces) == "<table><tr><td>1</td></tr></table>"
    assert pieces[-1].done and pieces[-1].finish_reason == "stop" and pieces[-1].completion_tokens == 9


@pytest.mark.parametrize("body, message", ERROR_BODIES)
def test_error_bodies_give_their_message(body, message):
    assert message in error_message(json.dumps(body).encode())


def test_an_error_inside_a_stream_is_raised():
    with pytest.raises(openai_chat.ServerReportedError, match="out of memory"):
        list(openai_chat.parse_stream(_lines(_sse({"error": {"message": "out of memory", "code": 500}}))))


def test_sse_comments_and_multiline_data():
    lines = [": keep-alive", "", "event: message", "data: {\"a\":", "data: 1}", "", "data: [DONE]", ""]
    assert list(sse_payloads(lines)) == ['{"a":\n1}', "[DONE]"]


@pytest.mark.parametrize("body, kind, text, tokens, stop, prompt", [
    (VLLM_STREAM, "openai", "Invoice No. 17", [1001, 1002, 1003, 59246], "eos", 312),
    (LLAMA_SERVER_STREAM, "openai", "$$E = mc^2$$", [], "eos", 280),
    (OLLAMA_STREAM, "ollama", "<table><tr><td>1</td></tr></table>", [], "eos", 26),
    (json.dumps(VLLM_COMPLETION), "openai", "Invoice No. 17", [1001, 1002, 1003], "max_tokens", 312),
])
def test_remote_engine_on_recorded_replies(image, body, kind, text, tokens, stop, prompt):
    media = {"openai": "text/event-stream", "ollama": "application/x-ndjson"}[kind]
    media = "application/json" if body.startswith("{\"id\"") else media

    async def replay(request, call, fake):
        return Response(body, media_type=media)

    path = openai_chat.PATH if kind == "openai" else ollama_generate.PATH
    with FakeServer(replay, path) as fake:
        engine = RemoteEngine(RemoteSettings(kind=kind, urls=(fake.url,)))
        items = list(engine.recognize(image, "text", options=RecognizeOptions(max_new_tokens=20)))
        engine.close()
    result = items[-1]
    assert (result.text, result.token_ids, result.stop_reason, result.prompt_tokens) == (text, tokens, stop, prompt)
    assert "".join(i.text for i in items[:-1]).strip() == text


# ---------------------------------------------------------------------------------------------------- requests


def test_the_request_sends_the_image_first_as_a_lossless_data_url(image):
    mime, data = encode_image(image, "png")
    spec = RequestSpec("Text Recognition:", 100, SamplingOptions(), data, mime, "glm-ocr")
    body = openai_chat.build_request(spec)
    [message] = body["messages"]
    assert message["role"] == "user" and [p["type"] for p in message["content"]] == ["image_url", "text"]
    url = message["content"][0]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,") and message["content"][1]["text"] == "Text Recognition:"
    decoded = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert np.array_equal(np.asarray(decoded), np.asarray(image))
    assert body["model"] == "glm-ocr" and body["max_tokens"] == 100 and body["temperature"] == 0.0
    assert body["stream"] and body["stream_options"] == {"include_usage": True} and body["return_token_ids"]


def test_jpeg_is_an_option(image):
    mime, data = encode_image(image, "jpeg")
    assert mime == "image/jpeg" and base64.b64decode(data)[:2] == b"\xff\xd8"


def test_sampling_fields_follow_the_sdk_names():
    assert sampling_fields(SamplingOptions()) == {"temperature": 0.0}
    assert sampling_fields(SamplingOptions(repetition_penalty=1.1)) == {"temperature": 0.0,
                                                                       "repetition_penalty": 1.1}
    sampled = SamplingOptions(do_sample=True, temperature=0.7, top_p=0.9, top_k=20, seed=3)
    assert sampling_fields(sampled) == {"temperature": 0.7, "top_p": 0.9, "top_k": 20, "seed": 3}


def test_the_ollama_request_uses_its_own_names(image):
    _, data = encode_image(image, "png")
    spec = RequestSpec("Table Recognition:", 50, SamplingOptions(repetition_penalty=1.1), data, model="glm-ocr")
    body = ollama_generate.build_request(spec)
    assert body["images"] == [data] and body["prompt"] == "Table Recognition:" and body["stream"]
    assert body["options"] == {"num_predict": 50, "temperature": 0.0, "repeat_penalty": 1.1}


@pytest.mark.parametrize("url, base", [
    ("http://127.0.0.1:8080", "http://127.0.0.1:8080"), ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
    ("http://127.0.0.1:8080/v1", "http://127.0.0.1:8080"),
    ("http://127.0.0.1:8080/v1/chat/completions", "http://127.0.0.1:8080"),
    ("http://127.0.0.1:11434/api/generate", "http://127.0.0.1:11434"),
    ("https://127.0.0.1/gateway/v1", "https://127.0.0.1/gateway")])
def test_base_urls(url, base):
    assert base_url(url) == base


@pytest.mark.parametrize("url", ["127.0.0.1:8080", "ftp://127.0.0.1", "http://", ""])
def test_bad_urls_are_usage_errors(url):
    with pytest.raises(UsageError):
        base_url(url)


def test_retry_after_seconds():
    assert retry_after_seconds("3") == 3.0 and retry_after_seconds("0") == 0.0
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past: no wait


def test_the_remote_engine_satisfies_the_engine_protocol():
    from glmocr_core.api import OcrEngine

    engine = RemoteEngine(RemoteSettings(urls=("http://127.0.0.1:9",)))
    assert isinstance(engine, OcrEngine) and engine.info.device == "remote" and engine.info.backend == "openai"
    engine.close()


def test_remote_settings_are_checked():
    with pytest.raises(UsageError):
        RemoteSettings(kind="grpc").checked()
    with pytest.raises(UsageError):
        RemoteSettings(concurrency=0).checked()
    assert RemoteSettings(kind="ollama").checked().urls == ("http://127.0.0.1:11434",)


def test_proxies_are_never_used_for_this_machine():
    assert not RemoteSettings(urls=("http://127.0.0.1:8080", "http://localhost:9")).checked().trust_env
    from glmocr_core.backends.settings import is_loopback_url

    assert not is_loopback_url("http://gpu-box:8080")  # a name is only looked at, never resolved here
