"""Every available attention backend matches the eager reference within 1e-5 in fp32, and the model does too."""

from __future__ import annotations

import pytest
import torch

from glmocr_core.model.attention import available_backends, eager_attention, get_backend, resolve_backend

FAST_BACKENDS = [name for name in available_backends() if name != "eager"]
SHAPES = {  # (q_len, k_len, causal)
    "bidirectional": (37, 37, False),
    "causal-prefill": (29, 29, True),
    "decode-one": (1, 41, True),
    "verify-two": (2, 41, True),
}


def _qkv(q_len, k_len, batch=2, q_heads=8, kv_heads=4, dim=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(batch, q_heads, q_len, dim, generator=g)
    k = torch.randn(batch, kv_heads, k_len, dim, generator=g)
    v = torch.randn(batch, kv_heads, k_len, dim, generator=g)
    return q, k, v


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@pytest.mark.parametrize("shape", list(SHAPES))
def test_backend_matches_eager(backend, shape):
    q_len, k_len, causal = SHAPES[shape]
    q, k, v = _qkv(q_len, k_len)
    expected = eager_attention(q, k, v, scale=0.2, causal=causal)
    got = get_backend(backend)(q, k, v, scale=0.2, causal=causal)
    assert (got - expected).abs().max().item() <= 1e-5


@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_backend_matches_eager_with_padding_mask(backend):
    q, k, v = _qkv(6, 20)
    mask = torch.ones(2, 1, 1, 20, dtype=torch.bool)
    mask[1, ..., :7] = False  # row 1 is left-padded by 7
    expected = eager_attention(q, k, v, scale=0.2, causal=True, mask=mask)
    got = get_backend(backend)(q, k, v, scale=0.2, causal=True, mask=mask)
    assert (got - expected).abs().max().item() <= 1e-5


def test_decode_step_sees_every_cached_key():
    q, k, v = _qkv(1, 9, batch=1)
    full = eager_attention(q, k, v, scale=0.3, causal=False)
    assert torch.allclose(eager_attention(q, k, v, scale=0.3, causal=True), full)


def test_auto_resolves_to_a_registered_backend_and_unknown_fails():
    assert resolve_backend("auto", "cpu") == "sdpa"
    with pytest.raises(ValueError):
        resolve_backend("magic", "cpu")


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@torch.no_grad()
def test_whole_model_backend_matches_eager(tiny_checkpoint, backend):
    from glmocr_core.checkpoint.loading import load_model
    from glmocr_core.runtime.decoding import ModelRunner

    model = load_model(tiny_checkpoint)
    pixels = torch.randn(6 * 8, 1176)  # one 6x8-patch image -> 12 merged tokens
    ids = [59248, 59250, 59253, 198, 59256] + [59280] * 12 + [59257, 40, 41, 59254, 198]
    outputs = {}
    for name in ("eager", backend):
        model.set_attention_backend(name)
        runner = ModelRunner(model)
        logits, state = runner.prefill(ids, pixels, [[1, 6, 8]], 40, all_logits=True)
        step = runner.decode(torch.tensor([[7]]), state)
        outputs[name] = (logits, step)
    for a, b in zip(outputs["eager"], outputs[backend]):
        # through a whole model the float noise of each layer adds up: 1e-5 relative to the logits' size
        assert (a - b).abs().max().item() <= 1e-5 * a.abs().max().item()


def _bf16_rounded_attention(q, k, v, scale):
    """The narrow path's arithmetic written out in one piece: bf16 products, an fp32 softmax, bf16 probabilities."""
    scores = ((q * scale).bfloat16().float() @ k.bfloat16().float().transpose(2, 3)).bfloat16()
    probs = torch.softmax(scores.float(), dim=-1).bfloat16().float()
    return probs @ v.bfloat16().float()


@pytest.mark.parametrize("queries, keys", [(37, 37), (300, 300), (5, 200)])
def test_narrow_attention_is_attention_with_bf16_products(monkeypatch, queries, keys):
    from glmocr_core.model import attention

    monkeypatch.setattr(attention, "NARROW_MIN_ROWS", 16)
    monkeypatch.setattr(attention, "NARROW_BLOCK_SCORES", 64 * keys)  # 64-query blocks, the last one short
    q, k, v = _qkv(queries, keys, kv_heads=8)
    got = attention.narrow_attention(q, k, v, scale=0.2, dtype=torch.bfloat16)
    assert got.dtype == torch.bfloat16 and got.shape == q.shape
    got = got.float()
    exact = eager_attention(q, k, v, scale=0.2)
    rounded = _bf16_rounded_attention(q, k, v, 0.2)
    assert (got - rounded).abs().max() <= 1e-2 * rounded.abs().max()  # the same sums up to bf16 output rounding
    assert (got - exact).abs().max() <= 3e-2 * exact.abs().max()
    assert (got - exact).abs().max() > 0  # really narrow: not the fp32 path under another name


def test_narrow_attention_blocks_stay_bounded_on_long_images(monkeypatch):
    from glmocr_core.model import attention

    widest = []
    real_linear = attention.F.linear

    def spy(x, weight, bias=None):
        widest.append(x.shape[0] * weight.shape[0])
        return real_linear(x, weight, bias)

    monkeypatch.setattr(attention.F, "linear", spy)
    q, k, v = _qkv(3000, 3000, batch=1, q_heads=1, kv_heads=1, dim=8)
    attention.narrow_attention(q, k, v, scale=0.3, dtype=torch.bfloat16)
    score_products = widest[::2]
    assert max(score_products) <= max(attention.NARROW_BLOCK_SCORES, attention.NARROW_MIN_ROWS * 3000)
    assert len(score_products) == -(-3000 // max(attention.NARROW_MIN_ROWS, attention.NARROW_BLOCK_SCORES // 3000))
