"""A decode step with fixed shapes and fixed tensor addresses, so that CUDA can capture it once as a graph and
replay it for every token (at batch 1 on a GPU, launching ~250 small kernels costs more than running them).

``StaticDecodeStep`` is the step itself: everything that changes from token to token (the token ids and the cache
slot being written) lives in tensors it owns, and attention runs over a fixed window of the preallocated cache
(a power of two of slots) with a mask of the slots written so far, so no shape or Python value depends on the
step. It runs eagerly on any device (that is how it is tested on CPUs). ``GraphDecoder`` captures one step per
window with ``torch.cuda.CUDAGraph`` and replays it; when capture is not possible (no CUDA, an op that cannot be
captured, out of memory) it says why once and decodes eagerly.
"""

from __future__ import annotations

import logging

import torch

from .kv_cache import SlotCache

log = logging.getLogger(__name__)

WARMUP_STEPS = 2  # CUDA graphs need the kernels' lazy set-up (cuBLAS handles, workspaces) done before capture


MIN_WINDOW = 256  # smallest number of cache slots a step attends over; windows double up to the capacity


def attention_window(slots_needed: int, capacity: int) -> int:
    """The slots a step attends over: the next power of two >= ``slots_needed`` (at least MIN_WINDOW), capped at
    the capacity. A text request reserves thousands of slots; attending over all of them from the first token
    would read the whole empty cache at every step, so each window gets its own captured graph instead."""
    window = MIN_WINDOW
    while window < slots_needed:
        window *= 2
    return min(window, capacity)


class StaticDecodeStep:
    """One token per row on top of a prefilled ``DecodeState``, attending over the first ``window`` cache slots:
    set ``token_ids`` and ``slot`` (< window), call, read ``logits`` [B, 1, V]."""

    def __init__(self, model, state, window: int):
        cache = state.cache
        batch = cache.keys[0].shape[0]
        device = model.device
        self.model = model
        self.token_ids = torch.zeros(batch, 1, dtype=torch.long, device=device)
        self.slot = torch.zeros(1, dtype=torch.long, device=device)
        self.offsets = state.offsets.clone()
        self.slots = torch.arange(window, device=device)
        written = torch.ones(batch, window, dtype=torch.bool, device=device)
        self.key_mask = written if state.key_mask is None else state.key_mask[:, :window].clone()
        self.cache = SlotCache(cache.keys, cache.values, self.slot, window)
        self.logits = None

    def __call__(self) -> torch.Tensor:
        model = self.model
        batch = self.token_ids.shape[0]
        positions = (self.slot + self.offsets)[None, :, None].expand(3, batch, 1)
        mask = ((self.slots <= self.slot)[None, :] & self.key_mask)[:, None, None, :]
        embeds = model.language_model.embed(self.token_ids)
        hidden = model.language_model(embeds, model.rope.cos_sin(positions, embeds.dtype), self.cache, mask)
        self.logits = model.lm_head(hidden)
        return self.logits


class GraphDecoder:
    """Runs the one-token decode steps of one ``DecodeState``: a static step per attention window, each captured
    as a CUDA graph on first use (``capture=True``) or run eagerly. ``mode`` says which is in use; it drops to
    "static" for good when a capture fails. Only valid while the state's cache tensors are unchanged (rows leaving
    the batch replace them; build a new decoder then)."""

    def __init__(self, model, state, capture: bool):
        self.model = model
        self.cache_keys = state.cache.keys
        for tensor in (*state.cache.keys, *state.cache.values):
            tensor[:, :, state.cache.length:].zero_()  # masked slots still meet the values: 0 * garbage must be 0
        self.steps: dict[int, tuple[StaticDecodeStep, object]] = {}
        self.mode = "cuda-graph" if capture else "static"

    def matches(self, state) -> bool:
        return state.cache.keys is self.cache_keys

    def decode(self, token_ids: torch.Tensor, state) -> torch.Tensor:
        """token_ids [B, 1] -> logits [B, 1, V]; advances the cache."""
        window = attention_window(state.cache.length + 1, state.cache.capacity)
        step, graph = self.steps.get(window) or self._build(window, state)
        step.token_ids.copy_(token_ids)
        step.slot.fill_(state.cache.length)
        if graph is not None:
            graph.replay()
            logits = step.logits.clone()  # the next replay overwrites the outputs
        else:
            logits = step()
        state.cache.advance(1)
        return logits

    def _build(self, window: int, state) -> tuple[StaticDecodeStep, object]:
        step = StaticDecodeStep(self.model, state, window)
        graph = self._capture(step, state) if self.mode == "cuda-graph" else None
        if graph is None:
            self.mode = "static"
        self.steps[window] = (step, graph)
        return self.steps[window]

    def _capture(self, step: StaticDecodeStep, state):
        """A captured graph of the step, or None (logged) when this device or model cannot be captured. Warm-up
        and capture write keys/values only at the next free slot, which the first real step overwrites before
        anything attends to it, so a failed capture leaves the cache usable."""
        try:
            step.slot.fill_(state.cache.length)
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                for _ in range(WARMUP_STEPS):
                    step()
            torch.cuda.current_stream().wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                step()
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
