"""Loading a checkpoint's safetensors into a GlmOcrModel built on the meta device.

Each tensor is converted straight from the memory-mapped file into its final dtype and device (one copy, no
intermediate tensor), and the file pages it came from are dropped from memory right after, so peak memory is the
model itself plus one tensor. Names match the checkpoint 1:1: there is no renaming table. Every problem (missing
file, corrupt or truncated file, missing/unexpected tensors, wrong shapes) is a ModelError naming the file or tensors.
"""

from __future__ import annotations

import logging
import math
import mmap
import os
import struct
from contextlib import ExitStack
from pathlib import Path

import torch

from ..errors import ModelError
from ..model.config import ModelConfig, load_model_config
from ..model.glm_ocr import GlmOcrModel
from .layout import WEIGHTS_FILE, WEIGHTS_INDEX_FILE, read_weight_map
from .safetensors import DTYPES, HeaderError, read_safetensors_header
from .weight_cache import cache_file, cache_key, discard, intact, mark_used, store

log = logging.getLogger(__name__)

# Copies of shared tensors that some exports place inside the MTP layer; the model uses the main ones.
MTP_OPTIONAL_SUFFIXES = ("shared_head.head.weight", "embed_tokens.weight")


def tensor_locations(model_dir: Path) -> dict[str, Path]:
    """Tensor name -> the safetensors file that holds it (single file or sharded index)."""
    index = model_dir / WEIGHTS_INDEX_FILE
    if index.exists():
        try:
            weight_map = read_weight_map(model_dir)
        except ValueError as exc:
            raise ModelError(f"cannot read the shard index: {exc}", index) from None
        return {name: model_dir / file for name, file in weight_map.items()}
    single = model_dir / WEIGHTS_FILE
    if not single.exists():
        raise ModelError(f"no {WEIGHTS_FILE} or {WEIGHTS_INDEX_FILE} in the model folder", model_dir)
    return {name: single for name in _header(single)}


def _header(path: Path) -> dict[str, dict]:
    if not path.exists():
        raise ModelError("weights file is missing", path)
    try:
        return read_safetensors_header(path)
    except (HeaderError, OSError) as exc:
        raise ModelError(f"not a readable safetensors file (corrupt or truncated?): {exc}", path) from None


def torch_dtype(stored: str) -> torch.dtype | None:
    """The torch dtype of a safetensors dtype name, or None when this torch has no such dtype."""
    name = DTYPES.get(stored, (None, None))[0]
    return getattr(torch, name, None) if name else None


# Weights that may stay in the checkpoint's narrower dtype when computing in fp32, because upcasting them at use is
# exact: the embedding table (only looked-up rows are upcast, TextModel.embed) and the vision tower's matrices (used
# once per image, upcast block by block, layers.compute_weight). 525 M of the 1.1 B parameters at half the memory;
# the decoder's matrices, read at every token, stay converted.
NARROW_STORED = ("model.language_model.embed_tokens.weight", "model.visual.")


def target_dtype(name: str, stored: str, dtype: torch.dtype, ndim: int = 2) -> torch.dtype:
    source = torch_dtype(stored)
    narrow = source in (torch.bfloat16, torch.float16) and dtype == torch.float32
    if narrow and ndim >= 2 and name.startswith(NARROW_STORED):
        return source
    return dtype


class MappedSafetensors:
    """A safetensors file mapped copy-on-write (never written back), read tensor by tensor."""

    def __init__(self, path: Path):
        self.path, self.entries = path, _header(path)
        with open(path, "rb") as handle:
            self.data_start = 8 + struct.unpack("<Q", handle.read(8))[0]
            self.map = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_COPY)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.map.close()

    def shape(self, name: str) -> tuple[int, ...]:
        return tuple(self.entries[name]["shape"])

    def view(self, name: str) -> torch.Tensor:
        """The tensor as it is stored, sharing the mapping's memory (valid while the mapping is open)."""
        entry = self.entries[name]
        source_dtype = torch_dtype(entry["dtype"])
        if source_dtype is None:
            raise ModelError(f"tensor {name} has unsupported dtype {entry['dtype']}", self.path)
        begin, end = entry["data_offsets"]
        if begin == end:
            return torch.empty(self.shape(name), dtype=source_dtype)
        return torch.frombuffer(self.map, dtype=source_dtype, count=(end - begin) // source_dtype.itemsize,
                                offset=self.data_start + begin).view(self.shape(name))

    def read(self, name: str, dtype: torch.dtype, device) -> torch.Tensor:
        """A converted copy of the tensor; the file pages it came from are dropped afterwards."""
        dtype = target_dtype(name, self.entries[name]["dtype"], dtype, len(self.entries[name]["shape"]))
        return self._copied(name, dtype, device)

    def copy(self, name: str) -> torch.Tensor:
        """The tensor as stored, in fresh memory, its file pages dropped afterwards. A view starts wherever the file
        put it (safetensors aligns to 8 bytes), and some kernels run far slower from there (runtime.quantize);
        torch's own allocations are 64-byte aligned."""
        return self._copied(name, self.view(name).dtype, "cpu")

    def _copied(self, name: str, dtype: torch.dtype, device) -> torch.Tensor:
        tensor = self.view(name).to(device=device, dtype=dtype, copy=True)
        begin, end = self.entries[name]["data_offsets"]
        self._forget(self.data_start + begin, self.data_start + end)
        return tensor

    def _forget(self, start: int, end: int) -> None:
        # The pages just read would otherwise stay resident (and count in RSS) until the whole file is unmapped.
        if hasattr(self.map, "madvise") and hasattr(mmap, "MADV_DONTNEED"):
            page = mmap.PAGESIZE
            first, last = (start + page - 1) // page * page, end // page * page
            if last > first:
                self.map.madvise(mmap.MADV_DONTNEED, first, last - first)


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
               with_mtp: bool | None = None, cache_dir: Path | None = None) -> GlmOcrModel:
    """Build the model from ``model_dir``. ``with_mtp=None`` loads the MTP layer when the checkpoint has it.
    ``cache_dir`` keeps CPU weights converted to ``dtype`` there for near-instant later loads (weight_cache.py)."""
    model_dir = Path(model_dir)
    cfg = load_model_config(model_dir)
    locations = tensor_locations(model_dir)
    if with_mtp is None:
        with_mtp = has_mtp_weights(locations, cfg)
    with torch.device("meta"):
        model = GlmOcrModel(cfg, with_mtp=with_mtp)
    expected = {name: tensor.shape for name, tensor in model.state_dict().items()}
    _check_names(expected, set(locations), cfg, with_mtp, model_dir)
    entries = _entries(locations, expected)
    if torch.device(device).type == "cpu":
        _check_fits_in_memory(entries, dtype, model_dir)
    if cache_dir is not None and torch.device(device).type == "cpu" and _converts(entries, dtype):
        state = _through_cache(model, expected, locations, dtype, Path(cache_dir))
    else:
        state = _read_tensors(expected, locations, dtype, device)
    model.load_state_dict(state, strict=True, assign=True)
    return model.eval()


def _entries(locations: dict[str, Path], expected) -> dict[str, dict]:
    """The header entry (dtype, shape, offsets) of every tensor the model takes."""
    headers = {path: _header(path) for path in set(locations.values())}
    return {name: headers[locations[name]][name] for name in expected}


def _converts(entries: dict[str, dict], dtype: torch.dtype) -> bool:
    return any(torch_dtype(e["dtype"]) != target_dtype(name, e["dtype"], dtype, len(e["shape"]))
               for name, e in entries.items())


def _check_fits_in_memory(entries: dict[str, dict], dtype: torch.dtype, where: Path) -> None:
    """Refuse, before allocating anything, weights that cannot fit in this machine's memory at all (a huge or
    sparse checkpoint would otherwise fail deep inside the allocator)."""
    total = physical_memory_bytes()
    needed = sum(math.prod(e["shape"]) * target_dtype(n, e["dtype"], dtype, len(e["shape"])).itemsize
                 for n, e in entries.items())
    if total and needed > total:
        raise ModelError(f"the weights need {needed / 2**30:.1f} GiB of memory as {str(dtype).replace('torch.', '')} "
                         f"but this machine has {total / 2**30:.1f} GiB in all", where)


def physical_memory_bytes() -> int | None:
    """Installed memory (Linux, macOS); None where the platform does not say (then nothing is refused)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def _through_cache(model: GlmOcrModel, expected, locations, dtype, cache_dir: Path) -> dict:
    path = cache_file(cache_dir, cache_key(list(locations.values()), dtype, list(expected)))
    state = _map_cache(model, path, expected, dtype) if path.exists() else None
    if state is None:
        state = _read_tensors(expected, locations, dtype, "cpu")
        store(state, path)
    return state


def _map_cache(model: GlmOcrModel, path: Path, expected, dtype) -> dict | None:
    """The cached tensors as views of the mapped file (kept open by the model), or None if it is unusable."""
    try:
        if not intact(path):
            log.warning("the converted-weight cache %s was changed after it was written; rebuilding it", path)
            raise ModelError("cache changed after it was written", path)
        mapped = MappedSafetensors(path)
        if any(mapped.shape(n) != tuple(s) or torch_dtype(mapped.entries[n]["dtype"]) not in
               (dtype, target_dtype(n, mapped.entries[n]["dtype"], dtype, len(s))) for n, s in expected.items()):
            raise ModelError("cache does not match the checkpoint", path)
    except (ModelError, KeyError, OSError):
        discard(path)  # rebuilt below
        return None
    model.weight_source = mapped  # the parameters live in this mapping
    mark_used(path)
    return {name: mapped.view(name) for name in expected}


def _read_tensors(expected: dict[str, torch.Size], locations: dict[str, Path], dtype, device) -> dict:
    state = {}
    with ExitStack() as stack:
        files = {path: stack.enter_context(MappedSafetensors(path)) for path in set(locations.values())}
        mismatched = [f"{name} has shape {list(files[locations[name]].shape(name))}, config needs {list(shape)}"
                      for name, shape in expected.items() if files[locations[name]].shape(name) != tuple(shape)]
        if mismatched:
            raise ModelError("weights do not match config.json: " + "; ".join(mismatched[:6]),
                             next(iter(files)).parent)
        for name in expected:
            state[name] = files[locations[name]].read(name, dtype, device)
    return state
