"""Loading a checkpoint's safetensors into a GlmOcrModel built on the meta device.

Tensors are read one at a time from memory-mapped files and cast to the target dtype, so at most one tensor exists
in two copies at any moment. Names match the checkpoint 1:1: there is no renaming table. Every problem (missing file,
corrupt or truncated file, missing/unexpected tensors, wrong shapes) is a ModelError naming the file or tensors.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open

from .config import ModelConfig, load_model_config
from .errors import ModelError
from .model import GlmOcrModel

SINGLE_FILE = "model.safetensors"
INDEX_FILE = "model.safetensors.index.json"
# Copies of shared tensors that some exports place inside the MTP layer; the model uses the main ones.
MTP_OPTIONAL_SUFFIXES = ("shared_head.head.weight", "embed_tokens.weight")


def tensor_locations(model_dir: Path) -> dict[str, Path]:
    """Tensor name -> the safetensors file that holds it (single file or sharded index)."""
    index = model_dir / INDEX_FILE
    if index.exists():
        try:
            weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelError(f"cannot read the shard index: {exc}", index) from None
        return {name: model_dir / file for name, file in weight_map.items()}
    single = model_dir / SINGLE_FILE
    if not single.exists():
        raise ModelError(f"no {SINGLE_FILE} or {INDEX_FILE} in the model folder", model_dir)
    with _open_safetensors(single) as handle:
        return {name: single for name in handle.keys()}


def _open_safetensors(path: Path):
    if not path.exists():
        raise ModelError("weights file is missing", path)
    try:
        return safe_open(str(path), framework="pt", device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise ModelError(f"not a readable safetensors file (corrupt or truncated?): {exc}", path) from None


def mtp_prefix(cfg: ModelConfig) -> str:
    return f"model.language_model.layers.{cfg.text.num_hidden_layers}."


def has_mtp_weights(names, cfg: ModelConfig) -> bool:
    return any(name.startswith(mtp_prefix(cfg) + "eh_proj") for name in names)


def _check_names(expected: dict[str, torch.Size], available: set[str], cfg: ModelConfig, with_mtp: bool, where):
    missing = sorted(set(expected) - available)
    prefix = mtp_prefix(cfg)
    unexpected = sorted(name for name in available - set(expected)
                        if not (name.startswith(prefix) and (not with_mtp or name.endswith(MTP_OPTIONAL_SUFFIXES))))
    problems = []
    if missing:
        problems.append(f"{len(missing)} tensors missing: {_names(missing)}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected tensors: {_names(unexpected)}")
    if problems:
        raise ModelError("weights do not match config.json: " + "; ".join(problems), where)


def _names(names: list[str], limit: int = 6) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def load_model(model_dir: str | Path, dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu",
               with_mtp: bool | None = None) -> GlmOcrModel:
    """Build the model from ``model_dir``. ``with_mtp=None`` loads the MTP layer when the checkpoint has it."""
    model_dir = Path(model_dir)
    cfg = load_model_config(model_dir)
    locations = tensor_locations(model_dir)
    if with_mtp is None:
        with_mtp = has_mtp_weights(locations, cfg)
    with torch.device("meta"):
        model = GlmOcrModel(cfg, with_mtp=with_mtp)
    expected = {name: tensor.shape for name, tensor in model.state_dict().items()}
    _check_names(expected, set(locations), cfg, with_mtp, model_dir)
    state = _read_tensors(expected, locations, dtype, device)
    model.load_state_dict(state, strict=True, assign=True)
    return model.eval()


def _read_tensors(expected: dict[str, torch.Size], locations: dict[str, Path], dtype, device) -> dict:
    state, mismatched = {}, []
    with ExitStack() as stack:
        handles = {path: stack.enter_context(_open_safetensors(path)) for path in set(locations.values())}
        for name, shape in expected.items():
            handle = handles[locations[name]]
            found = tuple(handle.get_slice(name).get_shape())
            if found != tuple(shape):
                mismatched.append(f"{name} has shape {list(found)}, config needs {list(shape)}")
                continue
            state[name] = _read_one(handle, name, locations[name]).to(device=device, dtype=dtype)
    if mismatched:
        raise ModelError("weights do not match config.json: " + "; ".join(mismatched[:6]), locations[name].parent)
    return state


def _read_one(handle, name: str, path: Path) -> torch.Tensor:
    try:
        return handle.get_tensor(name)
    except (SafetensorError, OSError, RuntimeError) as exc:
        raise ModelError(f"cannot read tensor {name}: {exc}", path) from None
