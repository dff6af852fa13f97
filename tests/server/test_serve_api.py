"""``glmocr-studio serve`` as clients see it: the OpenAI client and the official SDK's client work against it
unchanged, text-only messages are answered, and every bad request gets a 4xx with an error body, never a
traceback."""

from __future__ import annotations

import base64
import io
import json
import socket
import struct
import zlib

import httpx
import pytest
from PIL import Image

from glmocr_core.api import OcrResult, RecognizeOptions
from glmocr_core.backends.remote import encode_image
from glmocr_core.engine import BatchItem
from glmocr_core.tasks.specs import task_prompt

from .conftest import API_KEY, drawn_image


def _data_url(image: Image.Image, fmt: str = "png") -> str:
    mime, data = encode_image(image, fmt)
    return f"data:{mime};base64,{data}"


def _chat(content, **fields) -> dict:
    return {"model": "glm-ocr", "messages": [{"role": "user", "content": content}], **fields}


def _image_chat(url: str, **fields) -> dict:
    return _chat([{"type": "image_url", "image_url": {"url": url}}, {"type": "text", "text": "Text Recognition:"}],
                 max_tokens=8, **fields)


def _local(engine, image, prompt: str, **options) -> OcrResult:
    item = BatchItem(image, prompt=prompt, options=RecognizeOptions(**options))
    return [e.item for e in engine.recognize_many([item]) if isinstance(e.item, OcrResult)][0]


def _png_header(width: int, height: int) -> bytes:
    """A PNG that declares ``width``×``height`` pixels in a few bytes: a decompression bomb's header."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + \
        chunk(b"IEND", b"")


def _b64_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


# ------------------------------------------------------------------------------------------------ clients


def test_openai_client_gets_local_text_and_tokens(server, local_engine, image):
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0)
    content = [{"type": "image_url", "image_url": {"url": _data_url(image)}},
               {"type": "text", "text": "Text Recognition:"}]
    completion = client.chat.completions.create(model="glm-ocr", messages=[{"role": "user", "content": content}],
                                                max_tokens=16, temperature=0, extra_body={"return_token_ids": True})
    local = _local(local_engine, image, "Text Recognition:", max_new_tokens=16)
    choice = completion.choices[0]
    assert choice.message.content == local.text and choice.model_extra["token_ids"] == local.token_ids
    assert choice.finish_reason == ("length" if local.stop_reason == "max_tokens" else "stop")
    assert completion.usage.prompt_tokens == local.prompt_tokens
    stream = client.chat.completions.create(model="glm-ocr", messages=[{"role": "user", "content": content}],
                                            max_tokens=16, temperature=0, stream=True)
    streamed = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert streamed.strip() == local.text
    assert [m.id for m in client.models.list()] == ["glm-ocr"]


def test_openai_client_sees_typed_errors(server, strict_server, image):
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0)
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}], max_tokens=2)
    wrong = openai.OpenAI(base_url=f"{strict_server.url}/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        wrong.models.list()


@pytest.mark.parametrize("mode, path, model", [("openai", "/v1/chat/completions", "glm-ocr"),
                                               ("ollama_generate", "/api/generate", "glm-ocr:latest")])
def test_the_official_sdk_client_gets_its_text_from_serve(server, local_engine, image, mode, path, model):
    pytest.importorskip("glmocr")
    from glmocr.config import load_config
    from glmocr.dataloader.page_loader import PageLoader
    from glmocr.ocr_client import OCRClient

    config = load_config()
    config.pipeline.ocr_api.api_url = f"{server.url}{path}"
    config.pipeline.ocr_api.api_mode = mode
    config.pipeline.ocr_api.model = model
    config.pipeline.page_loader.max_tokens = 48  # keeps the random model's answer short
    client = OCRClient(config.pipeline.ocr_api)
    client.start()  # the SDK's start-up check: a text-only "hello" while it holds a second connection open
    try:
        request = PageLoader(config.pipeline.page_loader).build_request_from_image(image, "text")
        response, status = client.process(json.loads(json.dumps(request)))
    finally:
        client.stop()
    assert status == 200, response
    # what the SDK sent (its own resize, JPEG, repetition penalty 1.1, greedy), run by the local engine
    parts = request["messages"][0]["content"]
    sent = Image.open(io.BytesIO(base64.b64decode(parts[0]["image_url"]["url"].split(",", 1)[1]))).convert("RGB")
    local = _local(local_engine, sent, parts[1]["text"], max_new_tokens=48, repetition_penalty=1.1)
    assert response["choices"][0]["message"]["content"] == local.text


def test_a_text_only_message_is_answered_while_another_connection_waits(server, local_engine):
    with socket.create_connection(("127.0.0.1", server.port)):  # held open and silent, as the SDK does
        reply = httpx.post(f"{server.url}/v1/chat/completions", timeout=60,
                           json=_chat([{"type": "text", "text": "hello"}], max_tokens=10, temperature=0))
    assert reply.status_code == 200
    local = _local(local_engine, None, "hello", max_new_tokens=10)
    assert reply.json()["choices"][0]["message"]["content"] == local.text
    sampled = httpx.post(f"{server.url}/v1/chat/completions", timeout=60,
                         json=_chat([{"type": "text", "text": "hello"}], max_tokens=10, temperature=0.1))
    assert sampled.status_code == 200 and len(sampled.json()["choices"][0]["message"]["content"]) >= 0


def test_health_models_and_ollama_routes(server, local_engine, image):
    assert httpx.get(f"{server.url}/health").json()["status"] == "ok"
    assert httpx.get(f"{server.url}/v1/models").json()["data"][0]["id"] == "glm-ocr"
    assert httpx.get(f"{server.url}/api/tags").json()["models"][0]["name"] == "glm-ocr:latest"
    body = {"model": "glm-ocr:latest", "prompt": "Formula Recognition:", "stream": False,
            "images": [encode_image(image, "png")[1]], "options": {"num_predict": 9, "temperature": 0}}
    reply = httpx.post(f"{server.url}/api/generate", json=body, timeout=60).json()
    local = _local(local_engine, image, "Formula Recognition:", max_new_tokens=9)
    assert reply["done"] and reply["response"] == local.text and reply["eval_count"] == len(local.token_ids)
    with httpx.stream("POST", f"{server.url}/api/generate", json={**body, "stream": True}, timeout=60) as stream:
        lines = [json.loads(line) for line in stream.iter_lines() if line]
    assert lines[-1]["done"] and "".join(line["response"] for line in lines).strip() == local.text


# ------------------------------------------------------------------------------------------------ bad requests


def _bad_requests():
    tiny = drawn_image(40, 30, 1)
    return [
        ("invalid JSON", b"{not json", 400, None),
        ("not an object", b"[1, 2]", 400, None),
        ("no messages", {"model": "glm-ocr"}, 400, None),
        ("two messages", {"messages": [{"role": "system", "content": "x"}, {"role": "user", "content": "y"}]},
         400, None),
        ("bad base64", _image_chat("data:image/png;base64,@@not base64@@"), 400, "invalid_base64"),
        ("not an image", _image_chat(_b64_url(b"plain text, not a picture " * 4)), 400, "invalid_image"),
        ("a PDF", _image_chat(_b64_url(b"%PDF-1.7\n%%EOF\n", "application/pdf")), 400, "invalid_image"),
        ("over the pixel limit", _image_chat(_b64_url(_png_header(20000, 20000))), 400, "invalid_image"),
        ("too narrow", _image_chat(_data_url(Image.new("RGB", (1000, 4), "white"))), 400, "invalid_image"),
        ("a web URL", _image_chat("http://127.0.0.1:9/picture.png"), 400, "invalid_image_url"),
        ("too many tokens", {**_image_chat(_data_url(tiny)), "max_tokens": 16385}, 400, "max_tokens_exceeded"),
        ("no tokens", {**_image_chat(_data_url(tiny)), "max_tokens": 0}, 400, None),
        ("unknown model", {**_image_chat(_data_url(tiny)), "model": "gpt-4o"}, 404, "model_not_found"),
        ("n=2", _image_chat(_data_url(tiny), n=2), 400, "unsupported_parameter"),
        ("a string temperature", _image_chat(_data_url(tiny), temperature="hot"), 400, None),
        ("top_p of 0", _image_chat(_data_url(tiny), temperature=0.5, top_p=0), 400, None),
        ("two images", _chat([{"type": "image_url", "image_url": {"url": _data_url(tiny)}}] * 2), 400, None),
        ("an audio part", _chat([{"type": "input_audio", "input_audio": {}}]), 400, None),
    ]


BAD_REQUESTS = _bad_requests()


@pytest.mark.parametrize("name, body, status, code", BAD_REQUESTS, ids=[case[0] for case in BAD_REQUESTS])
def test_bad_requests_get_a_4xx_with_an_error_body(server, name, body, status, code):
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    reply = httpx.post(f"{server.url}/v1/chat/completions", content=content,
                       headers={"Content-Type": "application/json"}, timeout=60)
    assert reply.status_code == status, (name, reply.text)
    assert "Traceback" not in reply.text and reply.headers["content-type"].startswith("application/json")
    error = reply.json()["error"]
    assert error["message"] and error["type"], name
    if code is not None:
        assert error["code"] == code, (name, error)


def test_the_pixel_limit_message_says_so(server):
    reply = httpx.post(f"{server.url}/v1/chat/completions", json=_image_chat(_b64_url(_png_header(20000, 20000))))
    assert "megapixel limit" in reply.json()["error"]["message"]


def test_a_body_over_the_size_limit_is_413(strict_server):
    big = _b64_url(b"\0" * (400 * 1024))
    reply = httpx.post(f"{strict_server.url}/v1/chat/completions", json=_image_chat(big),
                       headers={"Authorization": f"Bearer {API_KEY}"}, timeout=60)
    assert reply.status_code == 413 and reply.json()["error"]["code"] == "body_too_large"


def test_a_wrong_or_missing_key_is_401(strict_server):
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": API_KEY}):
        reply = httpx.post(f"{strict_server.url}/v1/chat/completions", json=_chat("hello"), headers=headers)
        assert reply.status_code == 401 and reply.json()["error"]["code"] == "invalid_api_key"
    assert httpx.get(f"{strict_server.url}/health").status_code == 200  # load balancers need no key
    assert httpx.get(f"{strict_server.url}/v1/models", headers={"Authorization": f"Bearer {API_KEY}"}).is_success


def test_the_strict_token_limit(strict_server):
    reply = httpx.post(f"{strict_server.url}/v1/chat/completions", json=_chat("hello", max_tokens=65),
                       headers={"Authorization": f"Bearer {API_KEY}"})
    assert reply.status_code == 400 and "at most 64" in reply.json()["error"]["message"]


def test_unknown_routes_and_methods_get_json_errors(server):
    assert httpx.get(f"{server.url}/v2/nothing").status_code == 404
    reply = httpx.get(f"{server.url}/v1/chat/completions")
    assert reply.status_code == 405 and reply.json()["error"]["message"]


def test_ollama_errors_are_ollama_shaped(server):
    reply = httpx.post(f"{server.url}/api/generate", json={"prompt": "x", "images": ["@@@"], "stream": False})
    assert reply.status_code == 400 and isinstance(reply.json()["error"], str)
    reply = httpx.post(f"{server.url}/api/generate", json={"model": "llava", "prompt": "x"})
    assert reply.status_code == 404 and "llava" in reply.json()["error"]
