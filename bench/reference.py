"""Measurements of the reference, transformers' ``GlmOcrForConditionalGeneration``, at its best CPU setting:
fp32 weights, SDPA attention, greedy ``generate``.

The Glm46V processor class needs torchvision (for its video half), so inputs are built the way it builds them for
images: the chat template rendered by the reference tokenizer, ``<|image|>`` expanded to t·h·w/4 copies, and the
PIL image processor for the pixels.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
from transformers import AutoTokenizer, GlmOcrForConditionalGeneration
from transformers.generation.streamers import BaseStreamer
from transformers.models.glm46v.image_processing_pil_glm46v import Glm46VImageProcessorPil

from glmocr_core.tasks import task_prompt

from . import inputs

IMAGE_TOKEN = "<|image|>"
TASK = "text"


class Reference:
    def __init__(self, checkpoint: str):
        folder = Path(checkpoint)
        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        self.tokenizer.chat_template = (folder / "chat_template.jinja").read_text(encoding="utf-8")
        self.images = Glm46VImageProcessorPil.from_pretrained(folder)
        self.model = GlmOcrForConditionalGeneration.from_pretrained(
            folder, dtype=torch.float32, attn_implementation="sdpa").eval()

    def inputs(self, image, prompt: str) -> dict:
        messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": prompt}]}]
        text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        pixels = self.images([image], return_tensors="pt")
        t, h, w = pixels["image_grid_thw"][0].tolist()
        text = text.replace(IMAGE_TOKEN, IMAGE_TOKEN * (t * h * w // 4))
        ids = self.tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"]
        image_id = self.tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "pixel_values": pixels["pixel_values"],
                "image_grid_thw": pixels["image_grid_thw"], "mm_token_type_ids": (ids == image_id).int()}

    @torch.inference_mode()
    def recognize(self, image, tokens: int) -> dict:
        """Greedy generation of exactly ``tokens`` tokens (min = max); times measured from the image."""
        start = time.perf_counter()
        model_inputs = self.inputs(image, task_prompt(TASK))
        clock = TokenClock()
        out = self.model.generate(**model_inputs, max_new_tokens=tokens, min_new_tokens=tokens, do_sample=False,
                                  streamer=clock)
        new_ids = out[0, model_inputs["input_ids"].shape[1]:].tolist()
        return {"ttft_s": clock.first - start, "decode_tok_s": clock.rate(), "new_tokens": len(new_ids),
                "token_ids": new_ids, "wall_s": time.perf_counter() - start}


class TokenClock(BaseStreamer):
    """Timestamps from ``generate``'s streamer hook: the first ``put`` is the prompt, each later one a token."""

    def __init__(self):
        self.puts, self.first, self.last, self.tokens = 0, 0.0, 0.0, 0

    def put(self, value) -> None:
        self.puts += 1
        now = time.perf_counter()
        if self.puts == 2:
            self.first = now
        if self.puts >= 2:
            self.last, self.tokens = now, self.tokens + 1

    def end(self) -> None:
        pass

    def rate(self) -> float:
        elapsed = self.last - self.first
        return (self.tokens - 1) / elapsed if self.tokens > 1 and elapsed > 0 else 0.0


def load(checkpoint: str) -> tuple[Reference, float]:
    start = time.perf_counter()
    reference = Reference(checkpoint)
    return reference, time.perf_counter() - start


def warm_up(reference: Reference) -> None:
    reference.recognize(inputs.warmup_image(), 2)


def single_region(reference: Reference, tokens: int) -> dict:
    return reference.recognize(inputs.region_image(), tokens)


def page_one_by_one(reference: Reference, tokens: int) -> dict:
    """The full page as strips, one ``generate`` call per strip (the reference has no region batching)."""
    page = inputs.page_image()
    start = time.perf_counter()
    runs = [reference.recognize(inputs.crop(page, box), tokens) for box in inputs.page_strips()]
    return {"mode": "one-by-one", "wall_s": time.perf_counter() - start,
            "new_tokens": [r["new_tokens"] for r in runs], "token_ids": [r["token_ids"] for r in runs]}
