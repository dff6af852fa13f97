"""Loading a PP-DocLayoutV3 checkpoint (config.json + model.safetensors, or a sharded index) into a model built
on the meta device: each tensor goes straight from the memory-mapped file to its dtype and device
(checkpoint.loading.MappedSafetensors), then ``load_state_dict(assign=True)``. No renaming table: the model's names
are the file's.

Tensors the file may hold that the model never reads are accepted and skipped: batch-norm ``num_batches_tracked``
counters, and, when ``tie_word_embeddings`` is set (the published config), the decoder's class and box heads, which
are then the encoder's (transformers ties them the same way and does not save them).
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import torch

from ..checkpoint.loading import MappedSafetensors, tensor_locations
from ..errors import ModelError
from .config import LayoutConfig, load_layout_config
from .model import PPDocLayoutV3

TIED_PREFIXES = ("model.decoder.class_embed.", "model.decoder.bbox_embed.")


def load_layout_model(model_dir: str | Path, dtype: torch.dtype = torch.float32,
                      device: str | torch.device = "cpu") -> PPDocLayoutV3:
    model_dir = Path(model_dir)
    cfg = load_layout_config(model_dir)
    locations = tensor_locations(model_dir)
    with torch.device("meta"):
        model = PPDocLayoutV3(cfg)
    expected = {name: tuple(t.shape) for name, t in model.state_dict().items()}
    check_names(expected, set(locations), cfg, model_dir)
    model.load_state_dict(_read(expected, locations, dtype, device), strict=True, assign=True)
    return model.requires_grad_(False).eval()  # inference only (several blocks compute in place)


def skippable(name: str, cfg: LayoutConfig) -> bool:
    """A tensor the file may hold that the model does not use."""
    return name.endswith(".num_batches_tracked") or (cfg.tie_word_embeddings and name.startswith(TIED_PREFIXES))


def check_names(expected: dict[str, tuple], available: set[str], cfg: LayoutConfig, where) -> None:
    missing = sorted(set(expected) - available)
    unexpected = sorted(n for n in available - set(expected) if not skippable(n, cfg))
    problems = [f"{len(names)} tensors {kind}: {_some(names)}"
                for kind, names in (("missing", missing), ("unexpected", unexpected)) if names]
    if problems:
        raise ModelError("layout weights do not match config.json: " + "; ".join(problems), where)


def _some(names: list[str], limit: int = 6) -> str:
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _read(expected: dict[str, tuple], locations: dict[str, Path], dtype, device) -> dict[str, torch.Tensor]:
    with ExitStack() as stack:
        files = {path: stack.enter_context(MappedSafetensors(path)) for path in set(locations.values())}
        wrong = [f"{n} has shape {list(files[locations[n]].shape(n))}, config needs {list(s)}"
                 for n, s in expected.items() if files[locations[n]].shape(n) != s]
        if wrong:
            raise ModelError("layout weights do not match config.json: " + "; ".join(wrong[:6]),
                             next(iter(files)).parent)
        return {name: files[locations[name]].read(name, dtype, device) for name in expected}
