"""What this machine can do at best, measured in the benchmark run itself, and what that bounds.

A first token is compute: the vision tower and the decoder prefill are big matrix products, so no engine on this
CPU can be faster than their FLOPs at the CPU's own peak bf16 GEMM rate. A decode step is memory: every decoder
weight and the head are read once per token, so no int8 engine can decode faster than the CPU's read bandwidth
over those bytes. The benchmark prints both bounds beside the targets, so a target above what the hardware allows
is visible as such instead of looking like a missing optimisation.
"""

from __future__ import annotations

import time

import torch

from glmocr_core.model.config import ModelConfig

GEMM_SIZE = 4096  # big enough for the GEMM kernels' peak, small enough to take a fraction of a second
READ_BYTES = 1 << 30  # far beyond any cache
INT8_GROUP_BYTES = 1 + 4 / 32  # one byte per weight plus a bf16 (scale, zero) pair per group of 32


def measure(rounds: int = 3) -> dict:
    """Best of ``rounds``: fp32 and bf16 GEMM GFLOP/s and read GB/s with torch's threads."""
    a, b = torch.randn(GEMM_SIZE, GEMM_SIZE), torch.randn(GEMM_SIZE, GEMM_SIZE)
    flops = 2 * GEMM_SIZE**3
    fp32 = flops / _best(lambda: a @ b, rounds) / 1e9
    a16, b16 = a.bfloat16(), b.bfloat16()
    bf16 = flops / _best(lambda: a16 @ b16, rounds) / 1e9
    data = torch.ones(READ_BYTES // 4)
    read = READ_BYTES / _best(data.sum, rounds) / 1e9
    return {"gemm_fp32_gflops": fp32, "gemm_bf16_gflops": bf16, "read_gbs": read}


def _best(work, rounds: int) -> float:
    work()
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


def prefill_flops(cfg: ModelConfig, patches: int, prompt_tokens: int) -> float:
    """FLOPs of one image's first token: patch embedding, vision blocks (products and attention over all
    patches), the 2x2 downsample and connector, and the decoder over the whole prompt (the head for one row)."""
    v, t = cfg.vision, cfg.text
    in_patch = v.in_channels * v.temporal_patch_size * v.patch_size**2
    block = 4 * v.hidden_size**2 + 3 * v.hidden_size * v.intermediate_size
    attention = 2 * patches * v.hidden_size  # scores and values, per patch per block
    merged = patches // v.spatial_merge_size**2
    out = v.out_hidden_size
    connector = v.hidden_size * v.spatial_merge_size**2 * out + out**2 + 3 * out * out * v.in_channels
    macs = patches * (in_patch * v.hidden_size + v.depth * (block + attention)) + merged * connector
    macs += prompt_tokens * decoder_weights(cfg) + t.hidden_size * t.vocab_size
    return 2.0 * macs


def decoder_weights(cfg: ModelConfig) -> int:
    """Weights of the decoder layers' products (the ones each token reads), without the head."""
    t = cfg.text
    q, kv = t.num_attention_heads * t.head_dim, t.num_key_value_heads * t.head_dim
    per_layer = t.hidden_size * (q + 2 * kv) + q * t.hidden_size + 3 * t.hidden_size * t.intermediate_size
    return t.num_hidden_layers * per_layer


def decode_bytes_int8(cfg: ModelConfig) -> float:
    """Bytes one decode step reads in fast precision (int8 groups of 32): the decoder's products and the head."""
    return (decoder_weights(cfg) + cfg.text.hidden_size * cfg.text.vocab_size) * INT8_GROUP_BYTES


def bounds(cfg: ModelConfig, measured: dict, inputs: dict[str, tuple[int, int]]) -> dict:
    """name -> the fastest first token (s) at the bf16 GEMM peak, per input (patches, prompt tokens), and the
    fastest int8 decode (tok/s) at the read bandwidth."""
    peak = measured["gemm_bf16_gflops"] * 1e9
    first = {name: prefill_flops(cfg, patches, prompt) / peak for name, (patches, prompt) in inputs.items()}
    return {"first_token_s": first, "prefill_tflop": {name: prefill_flops(cfg, *shape) / 1e12
                                                     for name, shape in inputs.items()},
            "decode_tok_s_int8": measured["read_gbs"] * 1e9 / decode_bytes_int8(cfg),
            "decode_mb_int8": decode_bytes_int8(cfg) / 1e6}
