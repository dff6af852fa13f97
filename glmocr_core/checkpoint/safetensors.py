"""safetensors headers, read without torch: the one dtype table and the one header reader of the project.

A header is checked against the file's size, so a truncated download is reported as such instead of failing later
inside the loader.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Iterable

# safetensors dtype name -> (torch dtype name, bytes per element)
DTYPES = {"F64": ("float64", 8), "F32": ("float32", 4), "F16": ("float16", 2), "BF16": ("bfloat16", 2),
          "I64": ("int64", 8), "I32": ("int32", 4), "I16": ("int16", 2), "I8": ("int8", 1), "U8": ("uint8", 1),
          "BOOL": ("bool", 1), "F8_E4M3": ("float8_e4m3fn", 1), "F8_E5M2": ("float8_e5m2", 1),
          "U16": ("uint16", 2), "U32": ("uint32", 4), "U64": ("uint64", 8)}
MAX_HEADER_BYTES = 100 * 1024 * 1024  # the format's own limit; a larger length means a damaged file


class HeaderError(ValueError):
    """A safetensors file whose header cannot be trusted; the message says why."""


def read_safetensors_header(path: str | Path) -> dict[str, dict]:
    """Tensor name -> {"dtype", "shape", "data_offsets"}, read from the header only (no tensor data).

    Raises HeaderError when the header is unreadable or when the file is shorter than its tensors need (truncated).
    """
    path = Path(path)
    size = path.stat().st_size
    if size < 8:
        raise HeaderError(f"the file is {size} bytes, too short to hold a safetensors header")
    with open(path, "rb") as handle:
        (header_len,) = struct.unpack("<Q", handle.read(8))
        if header_len > MAX_HEADER_BYTES:
            raise HeaderError(f"the header length field says {header_len} bytes: not a safetensors file")
        if 8 + header_len > size:
            raise HeaderError(f"the header needs {8 + header_len} bytes but the file has only {size}: "
                              "the file is truncated (an unfinished download?)")
        raw = handle.read(header_len)
    tensors = _parse_header_json(raw)
    _check_data_extent(tensors, 8 + header_len, size)
    return tensors


def _parse_header_json(raw: bytes) -> dict[str, dict]:
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise HeaderError(f"the header is not valid JSON ({exc})") from None
    if not isinstance(header, dict):
        raise HeaderError("the header is not a JSON object")
    header.pop("__metadata__", None)
    for name, entry in header.items():
        if not (isinstance(entry, dict) and {"dtype", "shape", "data_offsets"} <= entry.keys()):
            raise HeaderError(f"the header entry for tensor {name} lacks dtype, shape or data_offsets")
    return header


def _check_data_extent(tensors: dict[str, dict], data_start: int, file_size: int) -> None:
    """Each tensor's byte span must fit its dtype and shape, and the file must reach the furthest span."""
    furthest = 0
    for name, entry in tensors.items():
        begin, end = entry["data_offsets"]
        item = DTYPES.get(entry["dtype"], (None, None))[1]
        if item is not None and end - begin != item * _product(entry["shape"]):
            raise HeaderError(f"tensor {name} ({entry['dtype']} {entry['shape']}) should take "
                              f"{item * _product(entry['shape'])} bytes but its data_offsets span {end - begin}")
        furthest = max(furthest, end)
    if data_start + furthest > file_size:
        raise HeaderError(f"the tensors need {data_start + furthest} bytes but the file has only {file_size}: "
                          "the file is truncated (an unfinished download?)")


def _product(shape: Iterable[int]) -> int:
    total = 1
    for dim in shape:
        total *= int(dim)
    return total
