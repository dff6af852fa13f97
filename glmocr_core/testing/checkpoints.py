"""Random-weight GLM-OCR checkpoints in the official file layout, for tests, benchmarks and demos.

The real weights cannot be shipped or downloaded in tests, so tests build tiny checkpoints with the real structure
(and benchmarks a real-size one). The lm_head is shaped so that generation stays on tokens the synthetic tokenizer
can print, with wide logit margins so float noise cannot flip a greedy choice.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import save_file

from ..checkpoint.layout import WEIGHTS_FILE, WEIGHTS_INDEX_FILE
from ..model.config import ModelConfig, PreprocessorConfig, TextConfig, VisionConfig, read_json
from ..model.glm_ocr import GlmOcrModel
from .tokenizer import TRAINED_VOCAB_SIZE, write_test_tokenizer

REAL_IDS = dict(image_token_id=59280, image_start_token_id=59256, image_end_token_id=59257, video_token_id=59281)
EOS_IDS = [59246, 59253]


def tiny_config(layers: int = 2, vision_depth: int = 2) -> ModelConfig:
    """A small config with every structural feature of the real one (GQA, full-head M-RoPE, QK-norm, merge 2)."""
    text = TextConfig(vocab_size=59392, hidden_size=64, intermediate_size=128, num_hidden_layers=layers,
                      num_attention_heads=4, num_key_value_heads=2, head_dim=32, mrope_section=[4, 6, 6],
                      num_nextn_predict_layers=1)
    vision = VisionConfig(hidden_size=64, depth=vision_depth, num_heads=4, intermediate_size=128, patch_size=14,
                          temporal_patch_size=2, spatial_merge_size=2, out_hidden_size=64)
    return ModelConfig(text=text, vision=vision, **REAL_IDS)


def real_config() -> ModelConfig:
    """The published GLM-OCR shape (1.1 B parameters), from the bundled reference of its config.json."""
    path = Path(__file__).with_name("real_config.json")
    return ModelConfig.from_dict(read_json(path), str(path))


@torch.no_grad()
def random_model(cfg: ModelConfig, seed: int = 0, with_mtp: bool = False, logit_scale: float = 4.0,
                 embed_std: float = 0.3) -> GlmOcrModel:
    """Random weights. A small ``embed_std`` lets the image and the prompt, not just the previous token, steer the
    output, so different images and tasks give different texts (with unit-scale embeddings a random model collapses
    into repeating one token whatever it is shown)."""
    torch.manual_seed(seed)
    model = GlmOcrModel(cfg, with_mtp=with_mtp)
    for name, param in model.named_parameters():
        if name.endswith("norm.weight") or name.endswith("layernorm.weight"):
            param.copy_(1.0 + 0.1 * torch.randn_like(param))  # not all-ones, so a skipped norm would show
        elif name.endswith("bias"):
            param.copy_(0.02 * torch.randn_like(param))
    model.language_model.embed_tokens.weight.normal_(0.0, embed_std)
    _shape_lm_head(model.lm_head.weight, cfg.text.hidden_size, logit_scale)
    return model


def _shape_lm_head(weight: torch.Tensor, hidden: int, scale: float) -> None:
    # Only printable tokens and the stop tokens can win; padding rows and unreachable fillers stay at zero logits.
    weight.zero_()
    allowed = list(range(TRAINED_VOCAB_SIZE)) + EOS_IDS
    weight[allowed] = torch.randn(len(allowed), hidden) * (scale / hidden**0.5)


def write_checkpoint(model: GlmOcrModel, out_dir: str | Path, dtype: torch.dtype = torch.bfloat16,
                     shards: int = 1, preprocessor: PreprocessorConfig | None = None) -> Path:
    """Write ``model`` in the official layout: config files, safetensors (single or sharded), tokenizer files."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    state = {name: t.detach().to(dtype).contiguous() for name, t in model.state_dict().items()}
    _write_weights(state, out, shards)
    _write_json(out / "config.json", {**model.cfg.to_dict(), "torch_dtype": str(dtype).replace("torch.", "")})
    _write_json(out / "generation_config.json", {"do_sample": False, "eos_token_id": EOS_IDS, "pad_token_id": 59246})
    _write_json(out / "preprocessor_config.json", _preprocessor_json(preprocessor or PreprocessorConfig(
        min_pixels=12544, max_pixels=9633792)))
    write_test_tokenizer(out)
    return out


def _write_weights(state: dict, out: Path, shards: int) -> None:
    if shards <= 1:
        save_file(state, str(out / WEIGHTS_FILE), metadata={"format": "pt"})
        return
    names = sorted(state)
    weight_map = {}
    for index in range(shards):
        part = names[index::shards]
        file = f"model-{index + 1:05d}-of-{shards:05d}.safetensors"
        save_file({n: state[n] for n in part}, str(out / file), metadata={"format": "pt"})
        weight_map.update({n: file for n in part})
    _write_json(out / WEIGHTS_INDEX_FILE, {"metadata": {}, "weight_map": weight_map})


def _preprocessor_json(cfg: PreprocessorConfig) -> dict:
    return {"size": {"shortest_edge": cfg.min_pixels, "longest_edge": cfg.max_pixels}, "do_rescale": cfg.do_rescale,
            "patch_size": cfg.patch_size, "temporal_patch_size": cfg.temporal_patch_size,
            "merge_size": cfg.merge_size, "image_mean": cfg.image_mean, "image_std": cfg.image_std,
            "image_processor_type": "Glm46VImageProcessor", "processor_class": "Glm46VProcessor"}


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")


def build_tiny_checkpoint(out_dir: str | Path, seed: int = 0, with_mtp: bool = False, shards: int = 1,
                          **config_kwargs) -> Path:
    """A tiny random checkpoint (a few MB) that loads and generates like the real one; ``shards`` > 1 writes the
    sharded layout (an index and model-0000N-of-0000M.safetensors files)."""
    return write_checkpoint(random_model(tiny_config(**config_kwargs), seed, with_mtp), out_dir, shards=shards)
