"""Checkpoint configuration as data: dataclasses read from config.json, preprocessor_config.json and
generation_config.json.

Unknown keys are ignored (new checkpoints add fields); a missing or mistyped required key is a ModelError that names
the key and the file. Nothing here hard-codes a model size: tests build tiny instances of the same classes.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ModelError

MODEL_TYPE = "glm_ocr"


def _coerce(value: Any, kind: type, key: str, source: str) -> Any:
    """Check one JSON value against the field's declared type; ints are accepted where floats are expected."""
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is list and isinstance(value, (int, float)) and not isinstance(value, bool):
        return [value]  # eos_token_id may be a single id
    if kind in (int, float, str, bool, list, dict) and not isinstance(value, kind) or (
        kind is int and isinstance(value, bool)
    ):
        raise ModelError(f"key '{key}' should be {kind.__name__}, found {type(value).__name__} {value!r}", source)
    return value


def from_json_dict(cls: type, data: Any, source: str, prefix: str = "", given: dict | None = None):
    """Build dataclass ``cls`` from a JSON object. Field metadata ``path`` reads a nested key; fields in ``given``
    are taken as they are (already parsed parts)."""
    if not isinstance(data, dict):
        raise ModelError(f"expected a JSON object{' at ' + prefix if prefix else ''}", source)
    values = dict(given or {})
    for f in dataclasses.fields(cls):
        if not f.init or f.name in values:
            continue
        path = f.metadata.get("path", (f.name,))
        value = _lookup(data, path)
        key = prefix + ".".join(path)
        if value is _MISSING:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ModelError(f"required key '{key}' is missing", source)
            continue
        if value is None and f.default is None:
            values[f.name] = None
            continue
        values[f.name] = _coerce(value, f.metadata.get("kind", _base_type(f.type)), key, source)
    return cls(**values)


_MISSING = object()


def _lookup(data: dict, path: tuple[str, ...]) -> Any:
    for part in path:
        if not isinstance(data, dict) or part not in data:
            return _MISSING
        data = data[part]
    return data


def _base_type(annotation: Any) -> type:
    text = str(annotation)
    for name, kind in (("list", list), ("dict", dict), ("bool", bool), ("int", int), ("float", float), ("str", str)):
        if text.startswith(name):
            return kind
    return object


def read_json(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        raise ModelError("file is missing", path) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"cannot read JSON: {exc}", path) from None
    if not isinstance(data, dict):
        raise ModelError("expected a JSON object at the top level", path)
    return data


def require_positive(config, names: tuple[str, ...], prefix: str, source: str) -> None:
    """Sizes the model divides by or allocates from must be whole numbers of at least 1."""
    for name in names:
        value = getattr(config, name)
        if value < 1:
            raise ModelError(f"key '{prefix}{name}' must be at least 1, found {value!r}", source)


def require_within(key: str, value: float, low: float, high: float, source: str) -> None:
    """A float the model computes with must be a finite number in (low, high]."""
    if not (math.isfinite(value) and low < value <= high):
        raise ModelError(f"key '{key}' must be a number above {low:g} and at most {high:g}, found {value!r}", source)


TEXT_SIZES = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
              "num_key_value_heads", "head_dim")
VISION_SIZES = ("hidden_size", "depth", "num_heads", "intermediate_size", "patch_size", "temporal_patch_size",
                "spatial_merge_size", "out_hidden_size", "in_channels")
# The most pixels a checkpoint may ask the processor to feed the model: four times the published model's
# longest_edge (9,633,792). Past it the vision pass alone would need tens of GB, so such a config is refused.
MAX_MODEL_PIXELS = 4 * 9_633_792


@dataclass
class VisionConfig:
    hidden_size: int
    depth: int
    num_heads: int
    intermediate_size: int
    patch_size: int
    temporal_patch_size: int
    spatial_merge_size: int
    out_hidden_size: int
    rms_norm_eps: float = 1e-5
    attention_bias: bool = True
    hidden_act: str = "silu"
    in_channels: int = 3
    rope_theta: float = field(default=10000.0, metadata={"path": ("rope_parameters", "rope_theta")})

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads


@dataclass
class TextConfig:
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    rms_norm_eps: float = 1e-5
    rope_theta: float = field(default=10000.0, metadata={"path": ("rope_parameters", "rope_theta")})
    mrope_section: list = field(default_factory=lambda: [8, 12, 12], metadata={"path": ("rope_parameters", "mrope_section")})
    partial_rotary_factor: float = field(
        default=1.0, metadata={"path": ("rope_parameters", "partial_rotary_factor")}
    )
    pad_token_id: int = 59246
    eos_token_id: list = field(default_factory=lambda: [59246, 59253])
    num_nextn_predict_layers: int = 0
    attention_bias: bool = False
    hidden_act: str = "silu"
    tie_word_embeddings: bool = False


@dataclass
class ModelConfig:
    text: TextConfig
    vision: VisionConfig
    image_token_id: int = 59280
    image_start_token_id: int = 59256
    image_end_token_id: int = 59257
    video_token_id: int = 59281
    model_type: str = MODEL_TYPE

    @classmethod
    def from_dict(cls, data: dict, source: str = "config.json") -> "ModelConfig":
        model_type = data.get("model_type")
        if model_type != MODEL_TYPE:
            raise ModelError(f"model_type is {model_type!r}, expected '{MODEL_TYPE}' (not a GLM-OCR checkpoint)", source)
        for key in ("text_config", "vision_config"):
            if key not in data:
                raise ModelError(f"required key '{key}' is missing", source)
        text = from_json_dict(TextConfig, data["text_config"], source, "text_config.")
        vision = from_json_dict(VisionConfig, data["vision_config"], source, "vision_config.")
        config = from_json_dict(cls, data, source, given={"text": text, "vision": vision})
        config.validate(source)
        return config

    def validate(self, source: str) -> None:
        t, v = self.text, self.vision
        require_positive(t, TEXT_SIZES, "text_config.", source)
        require_positive(v, VISION_SIZES, "vision_config.", source)
        for key, value, low, high in (("text_config.rope_parameters.partial_rotary_factor", t.partial_rotary_factor,
                                       0.0, 1.0), ("text_config.rope_parameters.rope_theta", t.rope_theta, 1.0, 1e9),
                                      ("vision_config.rope_parameters.rope_theta", v.rope_theta, 1.0, 1e9),
                                      ("text_config.rms_norm_eps", t.rms_norm_eps, 0.0, 1.0),
                                      ("vision_config.rms_norm_eps", v.rms_norm_eps, 0.0, 1.0)):
            require_within(key, value, low, high, source)
        if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in t.mrope_section):
            raise ModelError("text_config.rope_parameters.mrope_section must be a list of whole numbers", source)
        if t.num_attention_heads % t.num_key_value_heads:
            raise ModelError("text_config.num_attention_heads must be a multiple of num_key_value_heads", source)
        if sum(t.mrope_section) * 2 != int(t.head_dim * t.partial_rotary_factor):
            raise ModelError("text_config.rope_parameters.mrope_section must sum to head_dim/2", source)
        if v.hidden_size % v.num_heads:
            raise ModelError("vision_config.hidden_size must be a multiple of num_heads", source)

    def to_dict(self) -> dict:
        """The config.json layout (used by the synthetic checkpoint builder)."""
        text = dataclasses.asdict(self.text)
        rope = {"rope_type": "default", "rope_theta": text.pop("rope_theta"),
                "mrope_section": text.pop("mrope_section"),
                "partial_rotary_factor": text.pop("partial_rotary_factor")}
        vision = dataclasses.asdict(self.vision)
        vision["rope_parameters"] = {"rope_type": "axial", "rope_theta": vision.pop("rope_theta")}
        top = {k: v for k, v in dataclasses.asdict(self).items() if k not in ("text", "vision")}
        return {"architectures": ["GlmOcrForConditionalGeneration"], **top,
                "text_config": {"model_type": "glm_ocr_text", **text, "rope_parameters": rope},
                "vision_config": {"model_type": "glm_ocr_vision", **vision}}


@dataclass
class PreprocessorConfig:
    min_pixels: int = field(default=112 * 112, metadata={"path": ("size", "shortest_edge")})
    max_pixels: int = field(default=28 * 28 * 15000, metadata={"path": ("size", "longest_edge")})
    patch_size: int = 14
    temporal_patch_size: int = 2
    merge_size: int = 2
    image_mean: list = field(default_factory=lambda: [0.48145466, 0.4578275, 0.40821073])
    image_std: list = field(default_factory=lambda: [0.26862954, 0.26130258, 0.27577711])
    rescale_factor: float = 1 / 255
    do_rescale: bool = True
    do_normalize: bool = True

    @property
    def factor(self) -> int:
        return self.patch_size * self.merge_size

    def validate(self, source: str) -> None:
        require_positive(self, ("patch_size", "temporal_patch_size", "merge_size", "min_pixels", "max_pixels"),
                         "", source)
        if not self.min_pixels <= self.max_pixels <= MAX_MODEL_PIXELS:
            raise ModelError(f"size.shortest_edge ({self.min_pixels}) and size.longest_edge ({self.max_pixels}) must "
                             f"satisfy shortest <= longest <= {MAX_MODEL_PIXELS:,} pixels", source)
        if not (_three_numbers(self.image_mean) and _three_numbers(self.image_std) and all(self.image_std)):
            raise ModelError("image_mean and image_std must be three numbers each, image_std without zeros", source)
        if self.rescale_factor <= 0:
            raise ModelError(f"rescale_factor must be above 0, found {self.rescale_factor}", source)


def _three_numbers(values: list) -> bool:
    return len(values) == 3 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


@dataclass
class GenerationConfig:
    """What the core reads of generation_config.json: the ids that end a generation. Decoding itself is greedy
    (the official setting) unless a request asks for sampling (``api.SamplingOptions``)."""

    eos_token_id: list = field(default_factory=list)


def load_model_config(model_dir: str | Path) -> ModelConfig:
    path = Path(model_dir) / "config.json"
    return ModelConfig.from_dict(read_json(path), str(path))


def load_preprocessor_config(model_dir: str | Path) -> PreprocessorConfig:
    path = Path(model_dir) / "preprocessor_config.json"
    config = from_json_dict(PreprocessorConfig, read_json(path), str(path))
    config.validate(str(path))
    return config


def load_generation_config(model_dir: str | Path) -> GenerationConfig:
    """generation_config.json is optional in the wild; without it the official defaults apply."""
    path = Path(model_dir) / "generation_config.json"
    if not path.exists():
        return GenerationConfig()
    return from_json_dict(GenerationConfig, read_json(path), str(path))
