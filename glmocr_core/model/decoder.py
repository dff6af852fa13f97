"""The text decoder (GLM, sandwich norms, GQA, interleaved M-RoPE).

Module and parameter names mirror the checkpoint's ``model.language_model.*`` keys. Layers write keys and values
into whatever cache they are given (the ``Cache`` protocol below; the runtime owns the caches), so the decoder
holds no request state itself.
"""

from __future__ import annotations

from typing import Protocol

import torch
import torch.nn.functional as F
from torch import nn

from .attention import get_backend
from .config import TextConfig
from .layers import Embedding, Linear, RMSNorm, check_activation
from .rope import apply_text_rope


class Cache(Protocol):
    """What a layer needs of a KV cache (the runtime's caches provide it): store k/v [B, Hkv, L, D] of ``layer``
    and get back every key/value to attend over; ``advance`` moves past the tokens just written."""

    def write(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]: ...

    def advance(self, tokens: int) -> None: ...


class TextAttention(nn.Module):
    def __init__(self, cfg: TextConfig):
        super().__init__()
        self.num_heads = cfg.num_attention_heads
        self.kv_heads = cfg.num_key_value_heads
        self.head_dim = cfg.head_dim
        bias = cfg.attention_bias
        self.q_proj = Linear(cfg.hidden_size, self.num_heads * self.head_dim, bias=bias)
        self.k_proj = Linear(cfg.hidden_size, self.kv_heads * self.head_dim, bias=bias)
        self.v_proj = Linear(cfg.hidden_size, self.kv_heads * self.head_dim, bias=bias)
        self.o_proj = Linear(self.num_heads * self.head_dim, cfg.hidden_size, bias=False)
        self.qkv_proj: nn.Module | None = None  # set by join_projections

    @property
    def projection_sizes(self) -> list[int]:
        return [self.num_heads * self.head_dim] + [self.kv_heads * self.head_dim] * 2

    def join_projections(self, joined: nn.Module) -> None:
        """Replace q/k/v by one product over their stacked output rows (q, then k, then v). The fast precision
        does this: one weight pass and one kernel call per token instead of three."""
        del self.q_proj, self.k_proj, self.v_proj
        self.qkv_proj = joined

    def forward(self, x, cos_sin, cache: Cache | None, layer: int, mask, backend: str):
        b, length, _ = x.shape
        q, k, v = self._project(x)
        q = q.view(b, length, self.num_heads, self.head_dim).transpose(1, 2)  # [B, Hq, L, D]
        k = k.view(b, length, self.kv_heads, self.head_dim).transpose(1, 2)  # [B, Hkv, L, D]
        v = v.view(b, length, self.kv_heads, self.head_dim).transpose(1, 2)
        q, k = apply_text_rope(q, *cos_sin), apply_text_rope(k, *cos_sin)
        if cache is not None:
            k, v = cache.write(layer, k, v)
        out = get_backend(backend)(q, k, v, scale=self.head_dim**-0.5, causal=True, mask=mask)
        return self.o_proj(out.transpose(1, 2).reshape(b, length, -1))

    def _project(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if self.qkv_proj is None:
            return self.q_proj(x), self.k_proj(x), self.v_proj(x)
        return self.qkv_proj(x).split(self.projection_sizes, dim=-1)


class TextMLP(nn.Module):
    def __init__(self, cfg: TextConfig):
        super().__init__()
        self.gate_up_proj = Linear(cfg.hidden_size, 2 * cfg.intermediate_size, bias=False)
        self.down_proj = Linear(cfg.intermediate_size, cfg.hidden_size, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.gate_up_proj(x).chunk(2, dim=-1)
        return self.down_proj(up * F.silu(gate))


class DecoderLayer(nn.Module):
    """Four RMSNorms: before and after attention, before and after the MLP."""

    def __init__(self, cfg: TextConfig):
        super().__init__()
        self.self_attn = TextAttention(cfg)
        self.mlp = TextMLP(cfg)
        eps = cfg.rms_norm_eps
        self.input_layernorm = RMSNorm(cfg.hidden_size, eps)
        self.post_self_attn_layernorm = RMSNorm(cfg.hidden_size, eps)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, eps)
        self.post_mlp_layernorm = RMSNorm(cfg.hidden_size, eps)

    def forward(self, x, cos_sin, cache, layer, mask, backend):
        attn = self.self_attn(self.input_layernorm(x), cos_sin, cache, layer, mask, backend)
        x = x + self.post_self_attn_layernorm(attn)
        return x + self.post_mlp_layernorm(self.mlp(self.post_attention_layernorm(x)))


class SharedHead(nn.Module):
    def __init__(self, cfg: TextConfig):
        super().__init__()
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)


class MtpLayer(DecoderLayer):
    """The checkpoint's multi-token-prediction (NextN) layer: predicts the token after next from the next token's
    embedding and the main model's last hidden state. Its head is the main lm_head."""

    def __init__(self, cfg: TextConfig):
        super().__init__(cfg)
        self.enorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.hnorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.eh_proj = Linear(2 * cfg.hidden_size, cfg.hidden_size, bias=False)
        self.shared_head = SharedHead(cfg)

    def draft(self, next_embeds, hidden, cos_sin, cache: Cache, backend: str) -> torch.Tensor:
        """next_embeds/hidden [B, n, hidden]: the embedding of each position's next token and the main model's
        final hidden state there -> normed states [B, n, hidden] whose lm_head logits predict the token after next.
        ``cache`` is this layer's own one-layer cache over the same positions."""
        x = self.eh_proj(torch.cat([self.enorm(next_embeds), self.hnorm(hidden)], dim=-1))
        x = super().forward(x, cos_sin, cache, 0, None, backend)
        cache.advance(x.shape[1])
        return self.shared_head.norm(x)


class TextModel(nn.Module):
    def __init__(self, cfg: TextConfig, with_mtp: bool = False):
        super().__init__()
        check_activation(cfg.hidden_act)
        self.cfg = cfg
        self.embed_tokens = Embedding(cfg.vocab_size, cfg.hidden_size)
        layers = [DecoderLayer(cfg) for _ in range(cfg.num_hidden_layers)]
        if with_mtp:
            layers.append(MtpLayer(cfg))  # index num_hidden_layers, as in the checkpoint
        self.layers = nn.ModuleList(layers)
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.attn_backend = "auto"

    def embed(self, token_ids: torch.Tensor) -> torch.Tensor:
        """Token embeddings in the compute dtype. The table may stay in the checkpoint's narrower dtype (bf16): an
        upcast of the looked-up rows gives exactly the values an upcast table would, for half the memory."""
        return self.embed_tokens(token_ids).to(self.norm.weight.dtype)

    @property
    def mtp(self) -> MtpLayer | None:
        extra = self.layers[self.cfg.num_hidden_layers:]
        return extra[0] if len(extra) else None

    def forward(self, embeds: torch.Tensor, cos_sin, cache: Cache | None, mask=None) -> torch.Tensor:
        """embeds [B, L, hidden] -> final-normed hidden states [B, L, hidden]; appends L tokens to ``cache``."""
        x = embeds
        for index in range(self.cfg.num_hidden_layers):
            x = self.layers[index](x, cos_sin, cache, index, mask, self.attn_backend)
        if cache is not None:
            cache.advance(embeds.shape[1])
        return self.norm(x)
