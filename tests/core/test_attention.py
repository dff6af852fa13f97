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
