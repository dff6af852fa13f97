"""A cache of weights already converted to the compute dtype, mapped straight into memory on later starts.

The checkpoint ships bf16 weights; exact CPU inference computes in fp32. Converting 1.1 B parameters costs seconds at
every start, so after the first conversion the fp32 tensors are written once to the user's cache folder. Later loads
map that file and use its pages as the parameters themselves: no read, no conversion, no copy (the operating system
pages them in as they are used, from its file cache). The values are the same upcast numbers, so results are
identical. The cache is keyed by the weight files' names, sizes and modification times plus the dtype, so a changed
checkpoint never meets stale weights; a full disk only means no cache.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import torch
from safetensors.torch import save_file

FORMAT_VERSION = 3  # 3: the embedding and the vision matrices stay in their stored dtype
KEEP_FILES = 2  # caches of other checkpoints or dtypes kept besides the one in use
log = logging.getLogger(__name__)


def cache_key(weight_files: list[Path], dtype: torch.dtype, names: list[str]) -> str:
    """Changes whenever a weight file, the dtype, the set of tensors or this format changes."""
    stats = [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(set(weight_files))]
    text = json.dumps([FORMAT_VERSION, str(dtype), stats, sorted(names), str(weight_files[0].parent.resolve())])
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def cache_file(cache_dir: Path, key: str) -> Path:
    return cache_dir / f"{key}.safetensors"


def store(state: dict[str, torch.Tensor], target: Path) -> bool:
    """Write the converted tensors atomically; False (and nothing left behind) when the disk refuses."""
    temporary = target.with_suffix(f".tmp{os.getpid()}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _prune(target.parent, keep=target.name)
        save_file({name: t.contiguous() for name, t in state.items()}, str(temporary),
                  metadata={"format": "pt", "glmocr-cache": str(FORMAT_VERSION)})
        os.replace(temporary, target)
        return True
    except OSError as exc:  # disk full, read-only or missing folder: run without a cache
        log.warning("could not cache converted weights in %s: %s", target.parent, exc)
        temporary.unlink(missing_ok=True)
        return False


def _prune(folder: Path, keep: str) -> None:
    """Drop unfinished writes and all but the newest few caches."""
    for stale in folder.glob("*.tmp*"):
        stale.unlink(missing_ok=True)
    caches = sorted((p for p in folder.glob("*.safetensors") if p.name != keep), key=lambda p: p.stat().st_mtime)
    for old in caches[: max(0, len(caches) - KEEP_FILES + 1)]:
        old.unlink(missing_ok=True)
