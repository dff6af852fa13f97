"""Attention backends behind one signature, and a small registry.

Every backend computes ``softmax(q k^T * scale + mask) v`` for
q ``[B, Hq, Lq, D]``, k/v ``[B, Hkv, Lk, D]`` (Hq a multiple of Hkv: grouped-query attention) and returns
``[B, Hq, Lq, D]``. ``mask`` is None or a boolean ``[B, 1, Lq, Lk]`` tensor (True = may attend); ``causal`` applies a
causal mask aligned to the *end* of the keys (so a decode step with Lq=1 sees every cached key).
The eager backend is the reference the others are tested against.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

AttentionFn = Callable[..., torch.Tensor]
_BACKENDS: dict[str, AttentionFn] = {}


def register(name: str):
    def wrap(fn: AttentionFn) -> AttentionFn:
        _BACKENDS[name] = fn
        return fn

    return wrap


def _repeat_kv(x: torch.Tensor, groups: int) -> torch.Tensor:
    # [B, Hkv, L, D] -> [B, Hkv*groups, L, D], each kv head serving `groups` consecutive q heads
    if groups == 1:
        return x
    b, h, length, d = x.shape
    return x[:, :, None].expand(b, h, groups, length, d).reshape(b, h * groups, length, d)


def causal_mask(q_len: int, k_len: int, device: torch.device) -> torch.Tensor:
    """[Lq, Lk] boolean: query i (the (k_len-q_len+i)-th token) sees keys up to its own position."""
    offset = k_len - q_len
    rows = torch.arange(q_len, device=device)[:, None] + offset
    return torch.arange(k_len, device=device)[None, :] <= rows


@register("eager")
def eager_attention(q, k, v, *, scale: float, causal: bool = False, mask: torch.Tensor | None = None):
    groups = q.shape[1] // k.shape[1]
    k, v = _repeat_kv(k, groups), _repeat_kv(v, groups)
    scores = torch.matmul(q, k.transpose(2, 3)) * scale
    allowed = _combined_mask(q.shape[2], k.shape[2], q.device, causal, mask)
    if allowed is not None:
        scores = scores.masked_fill(~allowed, torch.finfo(scores.dtype).min)
    probs = torch.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype)
    return torch.matmul(probs, v)


@register("sdpa")
def sdpa_attention(q, k, v, *, scale: float, causal: bool = False, mask: torch.Tensor | None = None):
    # enable_gqa lets the kernel read each kv head for its q heads; repeating k/v would copy the whole cache per step
    gqa = {"enable_gqa": True} if q.shape[1] != k.shape[1] else {}
    q_len, k_len = q.shape[2], k.shape[2]
    if mask is None and (not causal or q_len == 1 or q_len == k_len):
        # The fused kernels' own causal flag is aligned to the start; it only equals ours when Lq == Lk.
        return F.scaled_dot_product_attention(q, k, v, scale=scale, is_causal=causal and q_len > 1, **gqa)
    allowed = _combined_mask(q_len, k_len, q.device, causal, mask)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, scale=scale, **gqa)


NARROW_BLOCK_SCORES = 1 << 19  # scores per query block of narrow attention: 2 MB of fp32 softmax, cache-sized
NARROW_MIN_ROWS = 64  # queries per block at least, so long images do not turn into thousands of tiny products


def narrow_attention(q, k, v, *, scale: float, dtype: torch.dtype) -> torch.Tensor:
    """Full (non-causal, unmasked) attention whose two products run in ``dtype`` (bf16 on CPUs with bf16 matrix
    units) with an fp32 softmax between them. q/k/v ``[B, H, L, D]``, equal heads. The result stays in ``dtype``
    for the product after it: ``[B, H, Lq, D]``, a view of a ``[B, Lq, H, D]`` tensor, the order heads merge in.

    Why not SDPA with bf16 inputs: torch's CPU flash kernel widens them and computes in fp32, at fp32 speed. Here
    each head's queries go in blocks, so no score matrix is ever larger than ``NARROW_BLOCK_SCORES``."""
    b, heads, queries, dim = q.shape
    rows = max(NARROW_MIN_ROWS, NARROW_BLOCK_SCORES // max(1, k.shape[2]))
    # One pass each into contiguous narrow copies: the products read whole rows of one head.
    scaled = torch.mul(q, scale, out=torch.empty(q.shape, dtype=dtype, device=q.device))
    keys = torch.empty(k.shape, dtype=dtype, device=k.device).copy_(k)
    values_t = torch.empty((b, heads, dim, v.shape[2]), dtype=dtype, device=v.device).copy_(v.transpose(2, 3))
    out = torch.empty((b, queries, heads, dim), dtype=dtype, device=q.device)
    for i in range(b):
        for h in range(heads):
            for start in range(0, queries, rows):
                scores = F.linear(scaled[i, h, start:start + rows], keys[i, h])
                probs = torch.softmax(scores, dim=-1, dtype=torch.float32).to(dtype)
                out[i, start:start + rows, h] = F.linear(probs, values_t[i, h])
    return out.transpose(1, 2)


def _combined_mask(q_len, k_len, device, causal: bool, mask: torch.Tensor | None):
    if not causal:
        return mask
    tri = causal_mask(q_len, k_len, device)
    return tri if mask is None else (mask & tri)


def _flash_module():
    try:
        import flash_attn  # optional, CUDA only

        return flash_attn
    except ImportError:
        return None


if _flash_module() is not None:

    @register("flash")
    def flash_attention(q, k, v, *, scale: float, causal: bool = False, mask: torch.Tensor | None = None):
        if mask is not None or q.device.type != "cuda" or q.dtype not in (torch.float16, torch.bfloat16):
            return sdpa_attention(q, k, v, scale=scale, causal=causal, mask=mask)
        # flash-attn takes [B, L, H, D], handles GQA itself, and aligns its causal mask to the end like ours
        out = _flash_module().flash_attn_func(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                              softmax_scale=scale, causal=causal)
        return out.transpose(1, 2)


def available_backends() -> list[str]:
    return list(_BACKENDS)


def resolve_backend(name: str, device: str) -> str:
    """'auto' -> flash on CUDA when flash-attn is installed, else sdpa; unknown names are an error."""
    if name == "auto":
        return "flash" if device.startswith("cuda") and "flash" in _BACKENDS else "sdpa"
    get_backend(name)
    return name


def get_backend(name: str) -> AttentionFn:
    if name == "auto":
        name = "sdpa"
    try:
        return _BACKENDS[name]
    except KeyError:
        raise ValueError(f"unknown attention backend {name!r}; available: {', '.join(_BACKENDS)}") from None
