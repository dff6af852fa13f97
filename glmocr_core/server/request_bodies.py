"""Request bodies in, engine items out: ``/v1/chat/completions`` and Ollama's ``/api/generate``, checked against the
server's limits. Anything wrong is an ``ApiError`` with a message that says what and where.

Sampling follows the official SDK's and vLLM's reading of the fields: a temperature of (almost) zero, or none at
all, is greedy decoding (the checkpoint's own generation config); top_k of 0 or -1 means no top-k; the repetition
penalty applies to greedy decoding too (the SDK sends 1.1 with temperature 0). ``api.SamplingOptions`` implements
them exactly like transformers' logits processors.
"""

from __future__ import annotations

import base64
import binascii
import math
from dataclasses import dataclass
from typing import Any

from PIL import Image

from ..api import RecognizeOptions
from ..documents.document import document_from_bytes
from ..engine import BatchItem
from ..errors import InputError
from ..processing.images import check_aspect_ratio
from ..tasks.specs import EXTRACT_PREFIX, TASK_SPECS, default_max_new_tokens
from .errors import ApiError, bad_request
from .settings import ServeSettings, ServerLimits

GREEDY_BELOW = 1e-5  # vLLM's threshold: temperatures under this are argmax
# Request fields serve does not implement, with the values that mean "not used" (accepted silently)
_UNSUPPORTED = {"n": (None, 1), "best_of": (None, 1), "stop": (None, "", []), "logprobs": (None, False),
                "top_logprobs": (None, 0), "tools": (None, []), "presence_penalty": (None, 0),
                "frequency_penalty": (None, 0), "response_format": (None, {"type": "text"}), "suffix": (None, ""),
                "format": (None, "")}


@dataclass
class ParsedRequest:
    item: BatchItem
    model: str  # the served name the reply reports
    stream: bool
    include_usage: bool = False
    return_token_ids: bool = False

    @property
    def budget(self) -> int:
        return self.item.options.max_new_tokens


# ------------------------------------------------------------------------------------------------------ requests


def parse_chat_request(body: dict, settings: ServeSettings) -> ParsedRequest:
    _refuse_unsupported(body)
    model = served_model(body.get("model"), settings)
    content = _user_content(body.get("messages"))
    image, prompt, text_first = _image_and_prompt(content, settings.limits)
    budget = _optional(body, "max_tokens", int)
    budget = _optional(body, "max_completion_tokens", int) if budget is None else budget
    options = sampling_options(body, budget, prompt, settings.limits)
    item = BatchItem(image, task_for_prompt(prompt), options=options, prompt=prompt, text_first=text_first)
    stream_options = body.get("stream_options") if isinstance(body.get("stream_options"), dict) else {}
    return ParsedRequest(item, model, _flag(body, "stream", False), _flag(stream_options, "include_usage", False),
                         _flag(body, "return_token_ids", False))


def parse_generate_request(body: dict, settings: ServeSettings) -> ParsedRequest:
    """Ollama's /api/generate: the image (bare base64) comes before the prompt, as Ollama's GLM-OCR renderer does."""
    _refuse_unsupported(body)
    model = served_model(body.get("model"), settings)
    prompt = _text(body.get("prompt", ""), "prompt", settings.limits)
    image = _ollama_image(body.get("images"), settings.limits)
    options = body.get("options") if isinstance(body.get("options"), dict) else {}
    budget = _optional(options, "num_predict", int)
    budget = None if budget is not None and budget < 0 else budget  # Ollama's -1/-2: "as long as it takes"
    sampling = sampling_options({**options, "repeat_guard": body.get("repeat_guard", True)}, budget, prompt,
                                settings.limits, penalty_name="repeat_penalty")
    item = BatchItem(image, task_for_prompt(prompt), options=sampling, prompt=prompt)
    return ParsedRequest(item, model, _flag(body, "stream", True), return_token_ids=_flag(body, "return_token_ids",
                                                                                          False))


def served_model(name: Any, settings: ServeSettings) -> str:
    """The served name, when ``name`` is it (or absent, or Ollama's "NAME:latest"); a 404 otherwise."""
    served = settings.served_model_name
    if name is None or name == "":
        return served
    if not isinstance(name, str):
        raise bad_request("model must be a string", "model")
    if name.removesuffix(":latest") != served:
        raise ApiError(404, f"The model `{name}` does not exist; this server serves `{served}`",
                       kind="not_found_error", param="model", code="model_not_found")
    return served


def task_for_prompt(prompt: str) -> str:
    """Which task a prompt is (it picks the repetition guard and nothing else): a task's exact prompt, the extract
    prefix, or "text" for anything a client wrote itself."""
    for name, spec in TASK_SPECS.items():
        if name != "extract" and prompt.strip() == spec.prompt:
            return name
    return "extract" if prompt.startswith(EXTRACT_PREFIX) else "text"


def sampling_options(fields: dict, budget: int | None, prompt: str, limits: ServerLimits,
                     penalty_name: str = "repetition_penalty") -> RecognizeOptions:
    """``fields`` in OpenAI/vLLM names (Ollama's options use the same ones, but ``penalty_name``)."""
    temperature = _number(fields, "temperature", 0.0, lower=0.0)
    penalty = _number(fields, penalty_name, 1.0, lower=0.0, lower_open=True)
    max_new = _budget(budget, prompt, limits)
    guard = _flag(fields, "repeat_guard", True)
    if temperature < GREEDY_BELOW:
        return RecognizeOptions(repetition_penalty=penalty, max_new_tokens=max_new, repeat_guard=guard)
    top_p = _number(fields, "top_p", 1.0, lower=0.0, upper=1.0, lower_open=True)
    top_k = _optional(fields, "top_k", int)
    if top_k is not None and top_k < -1:
        raise bad_request("top_k must be -1 or 0 (off) or a positive number of tokens", "top_k")
    return RecognizeOptions(do_sample=True, temperature=temperature, top_p=top_p, top_k=max(top_k or 0, 0),
                            repetition_penalty=penalty, seed=_optional(fields, "seed", int), max_new_tokens=max_new,
                            repeat_guard=guard)


# ------------------------------------------------------------------------------------------------------ content


def _user_content(messages: Any) -> list | str:
    if not isinstance(messages, list) or not messages:
        raise bad_request("messages must be a non-empty list", "messages")
    if len(messages) != 1 or not isinstance(messages[0], dict) or messages[0].get("role") != "user":
        raise bad_request("serve answers exactly one user message (GLM-OCR reads one image and its prompt)",
                          "messages")
    content = messages[0].get("content")
    if not isinstance(content, (str, list)):
        raise bad_request("the message content must be a string or a list of parts", "messages")
    return content


def _image_and_prompt(content: list | str, limits: ServerLimits) -> tuple[Image.Image | None, str, bool]:
    """(image or None, prompt text, whether the text came before the image)."""
    if isinstance(content, str):
        return None, _text(content, "messages", limits), False
    texts, urls, text_first = [], [], False
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            texts.append(_text(part.get("text"), "messages", limits))
            text_first = text_first or not urls
        elif kind == "image_url":
            urls.append(_image_url(part.get("image_url")))
        else:
            raise bad_request(f"unsupported content part {kind!r}; use \"text\" and \"image_url\"", "messages")
    if len(urls) > 1:
        raise bad_request(f"serve reads one image per request, got {len(urls)}", "messages")
    image = decode_data_url(urls[0], limits) if urls else None
    return image, _text("".join(texts), "messages", limits), text_first and bool(urls)


def _image_url(value: Any) -> str:
    url = value.get("url") if isinstance(value, dict) else value
    if not isinstance(url, str):
        raise bad_request("image_url must hold a url string", "messages")
    return url


def _ollama_image(images: Any, limits: ServerLimits) -> Image.Image | None:
    if images is None or images == []:
        return None
    if not isinstance(images, list) or not all(isinstance(i, str) for i in images):
        raise bad_request("images must be a list of base64 strings", "images")
    if len(images) > 1:
        raise bad_request(f"serve reads one image per request, got {len(images)}", "images")
    return decode_image_bytes(_base64(images[0].partition(",")[2] if images[0].startswith("data:") else images[0]),
                              limits)


def decode_data_url(url: str, limits: ServerLimits) -> Image.Image:
    if not url.startswith("data:"):
        raise bad_request("only data: URLs are accepted (data:image/png;base64,...); serve fetches nothing from "
                          "the network", "messages", "invalid_image_url")
    header, comma, payload = url.partition(",")
    if not comma or not header.endswith(";base64"):
        raise bad_request("the image data URL must be base64 (data:image/png;base64,...)", "messages",
                          "invalid_image_url")
    return decode_image_bytes(_base64(payload), limits)


def _base64(text: str) -> bytes:
    try:
        return base64.b64decode("".join(text.split()), validate=True)  # MIME-style line breaks are allowed
    except (binascii.Error, ValueError):
        raise bad_request("the image is not valid base64", "messages", "invalid_base64") from None


def decode_image_bytes(data: bytes, limits: ServerLimits) -> Image.Image:
    """An RGB image from encoded bytes with the documents' checks (format, truncation, pixel limit, aspect)."""
    try:
        with document_from_bytes(data, "the image", max_pixels=limits.max_image_pixels) as document:
            if document.kind != "image":
                raise bad_request("the data is a PDF, not an image; send each page as PNG or JPEG", "messages",
                                  "invalid_image")
            image, _ = document.ocr_image(0)
        check_aspect_ratio(image.width, image.height)
    except InputError as exc:
        raise bad_request(f"the image cannot be used: {exc.reason}", "messages", "invalid_image") from None
    return image


# ------------------------------------------------------------------------------------------------------ fields


def _budget(budget: int | None, prompt: str, limits: ServerLimits) -> int:
    value = budget if budget is not None else default_max_new_tokens(task_for_prompt(prompt))
    if value < 1:
        raise bad_request(f"max_tokens must be at least 1, got {value}", "max_tokens")
    if value > limits.max_tokens:
        raise bad_request(f"too many tokens: max_tokens is {value}, this server allows at most {limits.max_tokens}",
                          "max_tokens", "max_tokens_exceeded")
    return value


def _text(value: Any, param: str, limits: ServerLimits) -> str:
    if not isinstance(value, str):
        raise bad_request("text parts must hold a string", param)
    if len(value) > limits.max_text_chars:
        raise bad_request(f"the text is {len(value)} characters, this server allows at most {limits.max_text_chars}",
                          param, "text_too_long")
    return value


def _refuse_unsupported(body: dict) -> None:
    for name, unused in _UNSUPPORTED.items():
        if name in body and body[name] not in unused:
            raise bad_request(f"{name} is not supported by glmocr-studio serve", name, "unsupported_parameter")


def _optional(fields: dict, name: str, kind: type) -> Any:
    value = fields.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, kind):
        raise bad_request(f"{name} must be {'an integer' if kind is int else 'a number'}", name)
    return value


def _number(fields: dict, name: str, default: float, lower: float, upper: float = math.inf,
            lower_open: bool = False) -> float:
    value = fields.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise bad_request(f"{name} must be a number", name)
    if value < lower or (lower_open and value == lower) or value > upper:
        bounds = f"{'(' if lower_open else '['}{lower:g}, {upper:g}]"
        raise bad_request(f"{name} must be in {bounds}, got {value}", name)
    return float(value)


def _flag(fields: dict, name: str, default: bool) -> bool:
    value = fields.get(name, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise bad_request(f"{name} must be true or false", name)
    return value
