"""Small byte-level and JSON-level mutators for the fuzzing suite: deterministic for a seed, cheap, and aimed at
the places parsers trust (lengths, headers, numbers, types)."""

from __future__ import annotations

import json
import random

INTERESTING_NUMBERS = (0, -1, 1, 2**31 - 1, 2**31, 2**32, 2**63 - 1, 10**12, -(10**9), 0.5, 1e308, float("nan"))
INTERESTING_VALUES = (None, True, "", "abc", [], {}, [1, 2], {"a": 1}, "\ud800"[:0] + "\u0000")


def mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    """One of: flip bytes, truncate, duplicate a slice, insert junk, overwrite a run with 0xff or 0x00."""
    data = bytearray(data)
    kind = rng.randrange(6)
    if not data or kind == 0:
        return bytes(data[: rng.randrange(len(data) + 1)])  # truncated
    position = rng.randrange(len(data))
    if kind == 1:
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    elif kind == 2:
        length = rng.randint(1, min(256, len(data) - position))
        data[position:position] = data[position:position + length] * rng.randint(1, 4)
    elif kind == 3:
        data[position:position] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
    else:
        fill = 0xFF if kind == 4 else 0x00
        length = rng.randint(1, min(64, len(data) - position))
        data[position:position + length] = bytes([fill]) * length
    return bytes(data)


def mutate_json(value, rng: random.Random):
    """The value with one leaf replaced by an interesting number or a value of another type, or one key dropped."""
    if isinstance(value, dict) and value:
        key = rng.choice(sorted(value))
        copy = dict(value)
        if rng.random() < 0.15:
            del copy[key]
        else:
            copy[key] = mutate_json(value[key], rng)
        return copy
    if isinstance(value, list) and value:
        copy = list(value)
        index = rng.randrange(len(copy))
        copy[index] = mutate_json(copy[index], rng)
        return copy
    return rng.choice(INTERESTING_NUMBERS + INTERESTING_VALUES)


def json_text(value) -> str:
    return json.dumps(value, allow_nan=True)
