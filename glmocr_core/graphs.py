"""A decode step with fixed shapes and fixed tensor addresses, so that CUDA can capture it once as a graph and
replay it for every token (at batch 1 on a GPU, launching ~250 small kernels costs more than running them).

``StaticDecodeStep`` is the step itself: everything that changes from token to token (the token ids and the cache
slot being written) lives in tensors it owns, and attention runs over the whole preallocated cache with a mask of
the slots written so far, so no shape or Python value depends on the step. It runs eagerly on any device (that is
how it is tested on CPUs). ``GraphDecoder`` captures it with ``torch.cuda.CUDAGraph`` and replays it; when capture
is not possible (no CUDA, an op that cannot be captured, out of memory) it says why once and decodes eagerly.
"""

from __future__ import annotations

import logging

import torch

log = logging.getLogger(__name__)

WARMUP_STEPS = 2  # CUDA graphs need the kernels' lazy set-up (cuBLAS handles, workspaces) done before capture


class SlotCache:
    """The KV cache seen by a static step: each layer writes its new key/value at slot ``index`` (a tensor) and
    attends over the full capacity; the mask hides slots not written yet. Same interface as ``KVCache``."""

    def __init__(self, keys: list[torch.Tensor], values: list[torch.Tensor], index: torch.Tensor):
        self.keys, self.values, self.index = keys, values, index

    def write(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.keys[layer].index_copy_(2, self.index, k)
        self.values[layer].index_copy_(2, self.index, v)
        return self.keys[layer], self.values[layer]

    def advance(self, tokens: int) -> None:
        pass  # the caller moves ``index`` and the real cache's length


class StaticDecodeStep:
    """One token per row on top of a prefilled ``DecodeState``: set ``token_ids`` and ``slot``, call, read
    ``logits`` [B, 1, V] and ``hidden`` [B, 1, hidden]. Only valid while the state's cache tensors are unchanged
    (rows leaving the batch replace them; build a new step then)."""

    def __init__(self, model, state):
        cache = state.cache
        batch, capacity = cache.keys[0].shape[0], cache.capacity
        device = model.device
        self.model = model
        self.token_ids = torch.zeros(batch, 1, dtype=torch.long, device=device)
        self.slot = torch.zeros(1, dtype=torch.long, device=device)
        self.offsets = state.offsets.clone()
        self.slots = torch.arange(capacity, device=device)
        written = torch.ones(batch, capacity, dtype=torch.bool, device=device)
        self.key_mask = written if state.key_mask is None else state.key_mask.clone()
        for tensor in (*cache.keys, *cache.values):
            tensor[:, :, cache.length:].zero_()  # masked slots still meet the values: 0 * garbage must be 0
        self.cache = SlotCache(cache.keys, cache.values, self.slot)
        self.cache_keys = cache.keys
        self.logits = self.hidden = None

    def matches(self, state) -> bool:
        return state.cache.keys is self.cache_keys

    def __call__(self) -> tuple[torch.Tensor, torch.Tensor]:
        model = self.model
        batch = self.token_ids.shape[0]
        positions = (self.slot + self.offsets)[None, :, None].expand(3, batch, 1)
        mask = ((self.slots <= self.slot)[None, :] & self.key_mask)[:, None, None, :]
        embeds = model.language_model.embed(self.token_ids)
        hidden = model.language_model(embeds, model.rope.cos_sin(positions, embeds.dtype), self.cache, mask)
        self.hidden, self.logits = hidden, model.lm_head(hidden)
        return self.logits, self.hidden


class GraphDecoder:
    """Runs decode steps of one ``DecodeState`` through a captured CUDA graph (``capture=True``) or the same static
    step eagerly; ``mode`` says which one is in use."""

    def __init__(self, model, state, capture: bool):
        self.step = StaticDecodeStep(model, state)
        self.graph = None
        self.mode = "static"
        if capture:
            self.graph = self._capture(state)
            self.mode = "cuda-graph" if self.graph is not None else "static"

    def matches(self, state) -> bool:
        return self.step.matches(state)

    def decode(self, token_ids: torch.Tensor, state) -> torch.Tensor:
        """token_ids [B, 1] -> logits [B, 1, V]; advances the cache and updates ``state.last_hidden``."""
        self.step.token_ids.copy_(token_ids)
        self.step.slot.fill_(state.cache.length)
        if self.graph is not None:
            self.graph.replay()
            logits, hidden = self.step.logits, self.step.hidden
        else:
            logits, hidden = self.step()
        state.cache.advance(1)
        state.last_hidden = hidden[:, -1].clone()  # the graph overwrites its output buffers on the next replay
        return logits.clone() if self.graph is not None else logits

    def _capture(self, state):
        """A captured graph of the step, or None (logged) when this device or model cannot be captured. Warm-up
        and capture write keys/values only at the next free slot, which the first real step overwrites before
        anything attends to it, so a failed capture leaves the cache usable."""
        try:
            self.step.slot.fill_(state.cache.length)
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                for _ in range(WARMUP_STEPS):
                    self.step()
            torch.cuda.current_stream().wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                self.step()
            return graph
        except Exception as exc:  # any failure means "decode eagerly", never a failed request
            log.warning("CUDA graph capture of the decode step failed, decoding without it: %s", exc)
            return None


def graphs_supported(device: str) -> bool:
    return device.startswith("cuda") and torch.cuda.is_available() and hasattr(torch.cuda, "CUDAGraph")


def decode_step_mode(device: str, cuda_graphs: bool = True) -> str:
    """The model's ``decode_step`` for a device: captured graphs on CUDA (launch-bound at batch 1), the plain
    dynamic step elsewhere (on CPUs and MPS it reads only the written part of the cache, so it is faster)."""
    return "cuda-graph" if cuda_graphs and graphs_supported(device) else "dynamic"
