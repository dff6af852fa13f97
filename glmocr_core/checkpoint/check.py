"""The model-folder check: everything wrong with a folder, read from file names, JSON files and safetensors headers
only (never tensor data), so a broken folder fails with a readable message before any heavy load. No torch here."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Iterable

from ..errors import GlmOcrError, ModelError
from ..model.config import MODEL_TYPE, ModelConfig, load_preprocessor_config
from .layout import (CONFIG_FILE, PREPROCESSOR_FILE, SMALL_JSON_FILES, WEIGHTS_FILE, WEIGHTS_INDEX_FILE, Problem,
                     missing_files, read_marker, read_weight_map)
from .safetensors import HeaderError, read_safetensors_header


def _check_json_files(folder: Path) -> list[Problem]:
    """The small JSON files must parse; tokenizer.json is only checked for being a JSON object at its start."""
    problems = []
    for name in SMALL_JSON_FILES:
        path = folder / name
        if not path.is_file():
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            problems.append(Problem(name, f"cannot be read as JSON ({exc})"))
            continue
        if not isinstance(data, dict):
            problems.append(Problem(name, "is not a JSON object"))
    tokenizer = folder / "tokenizer.json"
    if tokenizer.is_file() and not _looks_like_json_object(tokenizer):
        problems.append(Problem("tokenizer.json", "does not start like a JSON object; the file is damaged"))
    return problems


def _looks_like_json_object(path: Path) -> bool:
    with open(path, "rb") as handle:
        start = handle.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
        handle.seek(0, os.SEEK_END)
        if handle.tell() < 2:
            return False
        handle.seek(-64 if handle.tell() > 64 else -handle.tell(), os.SEEK_END)
        end = handle.read().rstrip(b" \t\r\n")
    return start.startswith(b"{") and end.endswith(b"}")



def _weight_files(folder: Path) -> tuple[list[str], list[Problem]]:
    """The safetensors files holding the weights: the single file, or the shards the index names."""
    if (folder / WEIGHTS_FILE).is_file():
        return [WEIGHTS_FILE], []
    try:
        shards = sorted(set(read_weight_map(folder).values()))
    except ValueError as exc:
        return [], [Problem(WEIGHTS_INDEX_FILE, str(exc))]
    absent = [s for s in shards if not (folder / s).is_file()]
    problems = [Problem(s, f"missing: a weight shard named by {WEIGHTS_INDEX_FILE}") for s in absent]
    return [s for s in shards if s not in absent], problems


def read_weight_shapes(folder: Path) -> tuple[dict[str, list[int]], list[Problem]]:
    """All tensor shapes across the weight files, plus the problems found in their headers."""
    names, problems = _weight_files(folder)
    shapes: dict[str, list[int]] = {}
    for name in names:
        try:
            header = read_safetensors_header(folder / name)
        except (HeaderError, OSError) as exc:
            problems.append(Problem(name, str(exc)))
            continue
        shapes.update({tensor: list(entry["shape"]) for tensor, entry in header.items()})
    return shapes, problems



TEXT_LAYER = re.compile(r"^model\.language_model\.layers\.(\d+)\.")
VISION_BLOCK = re.compile(r"^model\.visual\.blocks\.(\d+)\.")


def _expected_shapes(config) -> dict[str, list[int]]:
    """Shapes of a few telling tensors, computed from config.json (the project notes shared/docs/glmocr-architecture.md, section 6)."""
    t, v = config.text, config.vision
    return {
        "model.language_model.embed_tokens.weight": [t.vocab_size, t.hidden_size],
        "lm_head.weight": [t.vocab_size, t.hidden_size],
        "model.language_model.layers.0.self_attn.q_proj.weight": [t.num_attention_heads * t.head_dim, t.hidden_size],
        "model.language_model.layers.0.self_attn.k_proj.weight": [t.num_key_value_heads * t.head_dim, t.hidden_size],
        "model.language_model.layers.0.mlp.down_proj.weight": [t.hidden_size, t.intermediate_size],
        "model.visual.patch_embed.proj.weight": [v.hidden_size, v.in_channels, v.temporal_patch_size,
                                                 v.patch_size, v.patch_size],
        "model.visual.blocks.0.attn.qkv.weight": [3 * v.hidden_size, v.hidden_size],
        "model.visual.merger.proj.weight": [v.out_hidden_size, v.out_hidden_size],
    }


def _shape_problems(config, shapes: dict[str, list[int]], weights_name: str) -> list[Problem]:
    problems = []
    for tensor, expected in _expected_shapes(config).items():
        if tensor == "lm_head.weight" and config.text.tie_word_embeddings and tensor not in shapes:
            continue
        if tensor not in shapes:
            problems.append(Problem(weights_name, f"tensor {tensor} is missing"))
        elif shapes[tensor] != expected:
            problems.append(Problem(weights_name, f"tensor {tensor} has shape {shapes[tensor]} but config.json "
                                                  f"implies {expected}: the config does not match the weights"))
    return problems


def _indices(pattern: re.Pattern, names: Iterable[str]) -> set[int]:
    return {int(m.group(1)) for m in map(pattern.match, names) if m}


def _count_problems(config, shapes: dict[str, list[int]], weights_name: str) -> list[Problem]:
    """Layer and block counts in the weights against num_hidden_layers and depth.

    Layer index num_hidden_layers may exist: it is the optional MTP (next-token prediction) layer.
    """
    problems = []
    layers = _indices(TEXT_LAYER, shapes) - {config.text.num_hidden_layers}
    if not _first_n(layers, config.text.num_hidden_layers):
        problems.append(Problem(weights_name, f"holds text layers {_span(layers)} but config.json says "
                                              f"num_hidden_layers = {config.text.num_hidden_layers}"))
    blocks = _indices(VISION_BLOCK, shapes)
    if not _first_n(blocks, config.vision.depth):
        problems.append(Problem(weights_name, f"holds vision blocks {_span(blocks)} but config.json says "
                                              f"vision_config.depth = {config.vision.depth}"))
    return problems


def _first_n(indices: set[int], n: int) -> bool:
    """Whether ``indices`` is exactly 0..n-1, without building that range (a config may say 2**31)."""
    return len(indices) == n and (n == 0 or (min(indices) == 0 and max(indices) == n - 1))


def _span(indices: set[int]) -> str:
    if not indices:
        return "none"
    ordered = sorted(indices)
    contiguous = ordered == list(range(ordered[0], ordered[-1] + 1))
    return f"{ordered[0]}..{ordered[-1]}" if contiguous else ", ".join(map(str, ordered))


def config_weight_problems(config, shapes: dict[str, list[int]], weights_name: str = WEIGHTS_FILE) -> list[Problem]:
    """Where tensor shapes and layer/block counts disagree with a parsed config (glmocr_core.config.ModelConfig)."""
    return _shape_problems(config, shapes, weights_name) + _count_problems(config, shapes, weights_name)



def read_config_object(folder: Path) -> tuple[dict | None, Problem | None]:
    """Any model folder's config.json as a JSON object, or the Problem with it (unreadable, not JSON, not an object)."""
    try:
        data = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return None, Problem(CONFIG_FILE, f"cannot be read as JSON ({exc})")
    if not isinstance(data, dict):
        return None, Problem(CONFIG_FILE, "is not a JSON object")
    return data, None


def _load_config(folder: Path):
    """The parsed config.json, or a Problem naming the bad key."""
    data, problem = read_config_object(folder)
    if problem is not None:
        return None, problem
    if data.get("model_type") != MODEL_TYPE:
        return None, Problem(CONFIG_FILE, f"model_type is {data.get('model_type')!r}, expected "
                                          f"'{MODEL_TYPE}': this is not a GLM-OCR checkpoint")
    try:
        return ModelConfig.from_dict(data, CONFIG_FILE), None
    except GlmOcrError as exc:
        return None, Problem(CONFIG_FILE, exc.reason)


def _preprocessor_problems(folder: Path) -> list[Problem]:
    """Values in preprocessor_config.json that would divide by zero or exhaust memory (its JSON is checked above)."""
    if not (folder / PREPROCESSOR_FILE).is_file():
        return []
    try:
        load_preprocessor_config(folder)
    except ModelError as exc:
        return [Problem(PREPROCESSOR_FILE, exc.reason)]
    return []


def check_model_dir(path: str | Path) -> list[Problem]:
    """Everything wrong with a model folder, read from file names, JSON files and safetensors headers only.

    An empty list means the folder looks like a complete GLM-OCR checkpoint. Never reads tensor data.
    """
    folder = Path(path)
    if not folder.is_dir():
        return [Problem(str(folder), "the model folder does not exist")]
    problems = missing_files(folder) + _check_json_files(folder) + _marker_problems(folder)
    problems += _preprocessor_problems(folder)
    config, config_problem = _load_config(folder) if (folder / CONFIG_FILE).is_file() else (None, None)
    if config_problem:
        problems.append(config_problem)
    if (folder / WEIGHTS_FILE).is_file() or (folder / WEIGHTS_INDEX_FILE).is_file():
        shapes, weight_problems = read_weight_shapes(folder)
        problems += weight_problems
        if config is not None and shapes and not weight_problems:
            weights_name = WEIGHTS_FILE if (folder / WEIGHTS_FILE).is_file() else WEIGHTS_INDEX_FILE
            problems += config_weight_problems(config, shapes, weights_name)
    return problems


def require_model_dir(path: str | Path) -> Path:
    """``check_model_dir`` for callers that must stop: raises ModelError listing every problem."""
    return require_folder(path, check_model_dir, "GLM-OCR model")


def folder_state(path: str | Path | None) -> tuple[str, list[Problem]]:
    """("missing" | "problems" | "ready", problems) for the model manager's status line."""
    return checked_folder_state(path, check_model_dir)


def require_folder(path: str | Path, check, what: str) -> Path:
    """Any model folder's check for callers that must stop: ModelError listing every problem ``check`` finds."""
    problems = check(path)
    if problems:
        listing = "\n".join(f"  - {p}" for p in problems)
        raise ModelError(f"not a usable {what} folder:\n{listing}", path)
    return Path(path)


def checked_folder_state(path: str | Path | None, check) -> tuple[str, list[Problem]]:
    """("missing" | "problems" | "ready", problems) of any model folder, by its ``check``."""
    folder = Path(path) if path else None
    if folder is None or not folder.is_dir() or not any(folder.iterdir()):
        return "missing", []
    problems = check(folder)
    return ("problems" if problems else "ready"), problems



def _marker_problems(folder: Path) -> list[Problem]:
    """A file whose size changed since it was verified has been damaged or replaced."""
    marker = read_marker(folder) or {"files": {}}
    problems = []
    for name, meta in marker["files"].items():
        path = folder / name
        if path.is_file() and isinstance(meta, dict) and path.stat().st_size != meta.get("size"):
            problems.append(Problem(name, f"is {path.stat().st_size} bytes but the verified download was "
                                          f"{meta.get('size')} bytes: the file changed after download"))
    return problems
