"""M-RoPE position ids against hand-derived golden vectors, and the KV cache's bookkeeping: no transformers needed.

The golden vectors follow the rule of the reference's get_rope_index (shared/docs/glmocr-architecture.md, section 4):
text advances all three axes by one; an image of merged grid (t, h', w') is laid out row-major from the current
position, then the position moves on by max(h', w').
"""

import pytest
import torch

from glmocr_core.model.rope import mrope_positions
from glmocr_core.runtime.kv_cache import KVCache

IMG = 59280
A, B, C, D = 10, 11, 12, 13


def test_one_image_between_text():
    # grid [1, 4, 6] with merge 2 -> 2 x 3 merged tokens
    ids = [A, B] + [IMG] * 6 + [C, D]
    positions, delta = mrope_positions(ids, IMG, [[1, 4, 6]], merge=2)
    assert positions.tolist() == [
        [0, 1, 2, 2, 2, 2, 2, 2, 5, 6],  # t: one frame
        [0, 1, 2, 2, 2, 3, 3, 3, 5, 6],  # h: two merged rows
        [0, 1, 2, 3, 4, 2, 3, 4, 5, 6],  # w: three merged columns
    ]
    assert delta == 7 - len(ids)


def test_two_images_tall_and_wide():
    # a tall 3 x 1 image, then a wide 1 x 2 one, then text
    ids = [A] + [IMG] * 3 + [B] + [IMG] * 2 + [C]
    positions, delta = mrope_positions(ids, IMG, [[1, 6, 2], [1, 2, 4]], merge=2)
    assert positions.tolist() == [
        [0, 1, 1, 1, 4, 5, 5, 7],
        [0, 1, 2, 3, 4, 5, 5, 7],
        [0, 1, 1, 1, 4, 5, 6, 7],
    ]
    assert delta == 8 - len(ids)


def test_text_only_prompt_has_no_delta():
    positions, delta = mrope_positions([A, B, C], IMG, [], merge=2)
    assert positions.tolist() == [[0, 1, 2]] * 3 and delta == 0


def _cache(batch=2, capacity=6):
    return KVCache(layers=2, batch=batch, kv_heads=1, head_dim=2, capacity=capacity, dtype=torch.float32,
                   device="cpu")


def _kv(batch, length, value):
    return torch.full((batch, 1, length, 2), float(value))


def test_cache_write_returns_everything_cached_so_far():
    cache = _cache()
    keys, _ = cache.write(0, _kv(2, 3, 1), _kv(2, 3, -1))
    assert keys.shape == (2, 1, 3, 2)
    cache.advance(3)
    keys, values = cache.write(0, _kv(2, 1, 2), _kv(2, 1, -2))
    assert keys[0, 0, :, 0].tolist() == [1, 1, 1, 2] and values[1, 0, :, 0].tolist() == [-1, -1, -1, -2]


def test_cache_refuses_to_grow_past_its_capacity():
    cache = _cache(capacity=4)
    cache.write(0, _kv(2, 3, 1), _kv(2, 3, 1))
    cache.advance(3)
    with pytest.raises(RuntimeError, match="KV cache full"):
        cache.write(0, _kv(2, 2, 1), _kv(2, 2, 1))


def test_row_view_writes_right_aligned_into_the_shared_storage():
    cache = _cache(capacity=6)
    row = cache.row(1, start=2)  # two slots of left padding in row 1
    row.write(0, _kv(1, 3, 7), _kv(1, 3, 7))
    assert cache.keys[0][1, 0, :, 0].tolist()[2:5] == [7, 7, 7] and row.capacity == 4
    cache.clear_slots(1, 2)
    assert cache.keys[0][1, 0, :2].abs().sum() == 0 and cache.values[1][1, 0, :2].abs().sum() == 0


def test_select_keeps_rows_and_truncate_forgets_tokens():
    cache = _cache()
    cache.write(0, torch.arange(2.0).view(2, 1, 1, 1).expand(2, 1, 1, 2), _kv(2, 1, 0))
    cache.advance(1)
    cache.select(torch.tensor([1]))
    assert cache.keys[0].shape[0] == 1 and cache.keys[0][0, 0, 0, 0] == 1
    cache.advance(2)
    cache.truncate(2)
    assert cache.length == 2
    cache.truncate(5)  # never grows
    assert cache.length == 2
