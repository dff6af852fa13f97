"""KV caches: per request keys and values, preallocated and written by index. Both kinds provide the interface the
decoder layers use (``model.decoder.Cache``): ``write`` a layer's new keys/values and get every key/value to attend
over, ``advance`` past them. ``KVCache`` grows with the request; ``SlotCache`` is the fixed-shape view of it that a
static (CUDA-graph) decode step writes into."""

from __future__ import annotations

import torch


class KVCache:
    """Per-request keys and values, preallocated and written by index: [B, Hkv, capacity, D] per layer."""

    def __init__(self, layers: int, batch: int, kv_heads: int, head_dim: int, capacity: int, dtype, device):
        shape = (batch, kv_heads, capacity, head_dim)
        self.keys = [torch.empty(shape, dtype=dtype, device=device) for _ in range(layers)]
        self.values = [torch.empty(shape, dtype=dtype, device=device) for _ in range(layers)]
        self.length = 0
        self.capacity = capacity

    def write(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store k/v [B, Hkv, L, D] after the cached tokens; return every key/value so far (views, no copies)."""
        start, end = self.length, self.length + k.shape[2]
        if end > self.capacity:
            raise RuntimeError(f"KV cache full: {end} > {self.capacity} tokens")
        self.keys[layer][:, :, start:end] = k
        self.values[layer][:, :, start:end] = v
        return self.keys[layer][:, :, :end], self.values[layer][:, :, :end]

    def advance(self, tokens: int) -> None:
        self.length += tokens

    def row(self, index: int, start: int) -> "KVCache":
        """A one-row cache sharing this cache's storage: row ``index`` from slot ``start`` on, so a prompt written
        into it is right-aligned after ``start`` slots of padding that its own attention never sees."""
        view = KVCache.__new__(KVCache)
        view.keys = [k[index:index + 1, :, start:] for k in self.keys]
        view.values = [v[index:index + 1, :, start:] for v in self.values]
        view.length, view.capacity = 0, self.capacity - start
        return view

    def clear_slots(self, index: int, end: int) -> None:
        """Zero slots [0, end) of one row: padding that is never attended must still hold finite numbers,
        since a masked key's weight is 0 and 0 * NaN would poison the sum."""
        for tensor in (*self.keys, *self.values):
            tensor[index, :, :end].zero_()

    def select(self, rows: torch.Tensor) -> None:
        """Keep only the given batch rows (a copy, done only when a row finishes)."""
        self.keys = [k[rows] for k in self.keys]
        self.values = [v[rows] for v in self.values]

    def truncate(self, length: int) -> None:
        """Forget tokens past ``length`` (speculative decoding rolls back rejected drafts this way)."""
        self.length = min(self.length, length)


class SlotCache:
    """The KV cache seen by a static step: each layer writes its new key/value at slot ``index`` (a tensor) and
    attends over the first ``window`` slots; the mask hides slots not written yet. Same interface as ``KVCache``."""

    def __init__(self, keys: list[torch.Tensor], values: list[torch.Tensor], index: torch.Tensor, window: int):
        self.keys, self.values, self.index = keys, values, index
        self.window = window

    def write(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.keys[layer].index_copy_(2, self.index, k)
        self.values[layer].index_copy_(2, self.index, v)
        return self.keys[layer][:, :, : self.window], self.values[layer][:, :, : self.window]

    def advance(self, tokens: int) -> None:
        pass  # the caller moves ``index`` and the real cache's length
