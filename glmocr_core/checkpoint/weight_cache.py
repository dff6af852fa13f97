"""A cache of weights already converted to the compute dtype, mapped straight into memory on later starts.

The checkpoint ships bf16 weights; exact CPU inference computes in fp32. Converting 1.1 B parameters costs seconds at
every start, so after the first conversion the fp32 tensors are written once to the user's cache folder. Later loads
map that file and use its pages as the parameters themselves: no read, no conversion, no copy (the operating system
pages them in as they are used, from its file cache). The values are the same upcast numbers, so results are
identical. The cache is keyed by the weight files' names, sizes and modification times plus the dtype, so a changed
checkpoint never meets stale weights; a full disk only means no cache.

Each cache file has a seal beside it: its size, a CRC-32 of its bytes, and the file's change time (ctime) when the
seal was made. Nothing can write to the file without moving its ctime (not even a tool that puts the mtime back), so a
file whose ctime still matches is used at once, and any other is checked against its CRC first (about a second per
GB); a cache that fails the check is deleted and rebuilt, never used.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import zlib
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
        seal(target)
        return True
    except OSError as exc:  # disk full, read-only or missing folder: run without a cache
        log.warning("could not cache converted weights in %s: %s", target.parent, exc)
        temporary.unlink(missing_ok=True)
        return False


def _prune(folder: Path, keep: str) -> None:
    """Drop unfinished writes, seals without a cache, and all but the newest few caches."""
    for stale in folder.glob("*.tmp*"):
        stale.unlink(missing_ok=True)
    caches = sorted((p for p in folder.glob("*.safetensors") if p.name != keep), key=lambda p: p.stat().st_mtime)
    for old in caches[: max(0, len(caches) - KEEP_FILES + 1)]:
        discard(old)
    for seal in folder.glob("*" + SEAL_SUFFIX):
        if not seal.with_name(seal.name[: -len(SEAL_SUFFIX)]).exists():
            seal.unlink(missing_ok=True)


SEAL_SUFFIX = ".seal.json"
CRC_CHUNK = 16 * 1024 * 1024


def seal_path(path: Path) -> Path:
    return path.with_name(path.name + SEAL_SUFFIX)


def file_crc(path: Path) -> int:
    crc = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CRC_CHUNK):
            crc = zlib.crc32(chunk, crc)
    return crc


def seal(path: Path) -> None:
    """Vouch for a cache file as it is now (written by ``store``; tests seal files they built by hand)."""
    _write_seal(path, file_crc(path))


def _write_seal(path: Path, crc: int) -> None:
    stat = path.stat()
    seal = {"size": stat.st_size, "crc32": crc, "ctime_ns": stat.st_ctime_ns}
    seal_path(path).write_text(json.dumps(seal), encoding="utf-8")


def _read_seal(path: Path) -> dict | None:
    try:
        seal = json.loads(seal_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return seal if isinstance(seal, dict) and {"size", "crc32", "ctime_ns"} <= seal.keys() else None


def intact(path: Path) -> bool:
    """Whether a cache file is exactly what was written: its seal vouches for it, or its bytes still match the
    seal's CRC (then the seal is renewed for the new ctime)."""
    seal, stat = _read_seal(path), path.stat()
    if seal is None or seal["size"] != stat.st_size:
        return False
    if seal["ctime_ns"] == stat.st_ctime_ns:
        return True
    if file_crc(path) != seal["crc32"]:
        return False
    _write_seal(path, seal["crc32"])
    return True


def mark_used(path: Path) -> None:
    """Most recently used: pruning keeps it. Touching moves the ctime, so the seal follows."""
    seal = _read_seal(path)
    path.touch()
    if seal is not None:
        _write_seal(path, seal["crc32"])


def discard(path: Path) -> None:
    path.unlink(missing_ok=True)
    seal_path(path).unlink(missing_ok=True)
