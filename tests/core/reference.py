"""transformers as the oracle: the reference's own tokenizer, image processor and greedy generate.

The Glm46V processor class itself cannot be built without torchvision (for its video half), so this module does
what it does for images: render the chat template with the reference tokenizer, expand ``<|image|>`` to
t*h*w/4 copies, tokenize, and run the PIL image processor.
"""

from __future__ import annotations

from pathlib import Path

import torch

IMAGE_TOKEN = "<|image|>"


class Reference:
    def __init__(self, checkpoint: str | Path, dtype: torch.dtype = torch.float32):
        from transformers import AutoTokenizer, GlmOcrForConditionalGeneration
        from transformers.models.glm46v.image_processing_pil_glm46v import Glm46VImageProcessorPil

        checkpoint = Path(checkpoint)
        self.tokenizer = AutoTokenizer.from_pretrained(checkpoint)
        self.tokenizer.chat_template = (checkpoint / "chat_template.jinja").read_text(encoding="utf-8")
        self.images = Glm46VImageProcessorPil.from_pretrained(checkpoint)
        self.model = GlmOcrForConditionalGeneration.from_pretrained(
            checkpoint, dtype=dtype, attn_implementation="sdpa").eval()  # fp32: its best setting on most CPUs

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

    @torch.no_grad()
    def generate(self, image, prompt: str, max_new_tokens: int) -> tuple[list[int], str, list[float]]:
        """Greedy generation: (new token ids, decoded text, top-1 minus top-2 logit margin per step)."""
        inputs = self.inputs(image, prompt)
        out = self.model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False,
                                  output_logits=True, return_dict_in_generate=True)
        tokens = out.sequences[0, inputs["input_ids"].shape[1]:].tolist()
        margins = [float(step[0].topk(2).values[0] - step[0].topk(2).values[1]) for step in out.logits]
        return tokens, self.tokenizer.decode(tokens, skip_special_tokens=True), margins
