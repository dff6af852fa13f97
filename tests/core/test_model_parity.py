"""Parity of the model forward (vision tower, fusion, M-RoPE, decoder, KV-cached decode) with transformers 5.23.0.

transformers is the oracle only: it is a test dependency and never imported by the package.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from glmocr_core.checkpoint.loading import load_model
from glmocr_core.model.config import load_preprocessor_config
from glmocr_core.model.rope import mrope_positions
from glmocr_core.processing.preprocess import preprocess_images
from glmocr_core.runtime.decoding import ModelRunner

transformers = pytest.importorskip("transformers")
pytestmark = pytest.mark.reference

IMAGE, BEGIN, END = 59280, 59256, 59257
PREFIX = [59248, 59250, 59253, 198]  # [gMASK] <sop> <|user|> \n
SUFFIX = [59254, 198]  # <|assistant|> \n


def _image(height: int, width: int, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


CASES = {
    "normal": [(123, 301)],
    "smaller-than-28px": [(20, 17)],
    "extreme-aspect": [(30, 1500)],
    "two-images": [(64, 90), (45, 140)],
}


def _prompt(token_counts: list[int]) -> list[int]:
    ids = list(PREFIX)
    for count in token_counts:
        ids += [BEGIN] + [IMAGE] * count + [END]
    return ids + [40, 41, 42] + SUFFIX


@pytest.fixture(scope="module")
def models(tiny_checkpoint):
    from transformers import GlmOcrForConditionalGeneration

    reference = GlmOcrForConditionalGeneration.from_pretrained(tiny_checkpoint, dtype=torch.float32).eval()
    ours = load_model(tiny_checkpoint, dtype=torch.float32)
    return reference, ours


def _inputs(checkpoint, shapes):
    cfg = load_preprocessor_config(checkpoint)
    images = [_image(h, w, seed) for seed, (h, w) in enumerate(shapes)]
    batch = preprocess_images(images, cfg)
    ids = _prompt(batch.token_counts(cfg.merge_size))
    return batch, ids


@pytest.mark.parametrize("case", list(CASES))
@torch.no_grad()
def test_prefill_and_cached_decode_match_reference(models, tiny_checkpoint, case):
    reference, ours = models
    batch, ids = _inputs(tiny_checkpoint, CASES[case])
    pixels = torch.from_numpy(batch.pixels)
    out = reference.generate(
        input_ids=torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
        pixel_values=pixels, image_grid_thw=torch.tensor(batch.grid_thw),
        mm_token_type_ids=(torch.tensor([ids]) == IMAGE).int(), max_new_tokens=4, min_new_tokens=4,
        do_sample=False, output_logits=True, return_dict_in_generate=True)
    expected = [step[0] for step in out.logits]  # prefill's last token, then 3 cached decode steps
    tokens = out.sequences[0, len(ids):].tolist()

    runner = ModelRunner(ours)
    logits, state = runner.prefill(ids, pixels, batch.grid_thw, capacity=len(ids) + 8)
    got = [logits[0]]
    for token in tokens[:3]:
        got.append(runner.decode(torch.tensor([[token]]), state)[0, -1])
    for step, (a, b) in enumerate(zip(got, expected)):
        delta = (a - b).abs().max().item()
        assert delta <= 1e-4, f"step {step}: max |Δlogits| = {delta}"


@pytest.mark.parametrize("case", list(CASES))
@torch.no_grad()
def test_all_prompt_logits_match_reference(models, tiny_checkpoint, case):
    reference, ours = models
    batch, ids = _inputs(tiny_checkpoint, CASES[case])
    pixels = torch.from_numpy(batch.pixels)
    expected = reference(input_ids=torch.tensor([ids]), pixel_values=pixels,
                         image_grid_thw=torch.tensor(batch.grid_thw),
                         mm_token_type_ids=(torch.tensor([ids]) == IMAGE).int()).logits[0]
    got, _ = ModelRunner(ours).prefill(ids, pixels, batch.grid_thw, capacity=len(ids), all_logits=True)
    assert (got[0] - expected).abs().max().item() <= 1e-4


@pytest.mark.parametrize("case", list(CASES))
def test_position_ids_and_rope_delta_match_reference(models, tiny_checkpoint, case):
    reference, ours = models
    batch, ids = _inputs(tiny_checkpoint, CASES[case])
    tensor_ids = torch.tensor([ids])
    expected, expected_delta = reference.model.get_rope_index(
        tensor_ids, mm_token_type_ids=(tensor_ids == IMAGE).int(), image_grid_thw=torch.tensor(batch.grid_thw))
    got, delta = mrope_positions(ids, IMAGE, batch.grid_thw, merge=2)
    assert torch.equal(got, expected[:, 0])
    assert delta == int(expected_delta)
    assert delta <= 0  # an image advances positions by max(h, w), never more than its token count


@pytest.mark.parametrize("shape", [(123, 301), (20, 17), (30, 1500), (1, 1), (700, 500), (33, 29)])
@pytest.mark.parametrize("mode", ["RGB"])
def test_preprocessing_is_bit_exact(tiny_checkpoint, shape, mode):
    from transformers.models.glm46v.image_processing_pil_glm46v import Glm46VImageProcessorPil

    cfg = load_preprocessor_config(tiny_checkpoint)
    image = _image(*shape, seed=7).convert(mode)
    reference = Glm46VImageProcessorPil(size={"shortest_edge": cfg.min_pixels, "longest_edge": cfg.max_pixels})
    expected = reference([image], return_tensors="np")
    got = preprocess_images([image], cfg)
    assert got.grid_thw == expected["image_grid_thw"].tolist()
    assert got.pixels.dtype == expected["pixel_values"].dtype
    assert np.array_equal(got.pixels, expected["pixel_values"])


def test_preprocessing_refuses_aspect_ratio_over_200(tiny_checkpoint):
    from glmocr_core.errors import InputError

    cfg = load_preprocessor_config(tiny_checkpoint)
    with pytest.raises(InputError, match="aspect ratio"):
        preprocess_images([Image.new("RGB", (6000, 28))], cfg)
    assert preprocess_images([Image.new("RGB", (5600, 28))], cfg).grid_thw  # exactly 200:1 is accepted
