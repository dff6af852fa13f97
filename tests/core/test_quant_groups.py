"""Fast precision's int8 groups: the quantized linear computes the plain group math, a quantized tiny model keeps
greedy agreement with fp32, and the weights take the bytes they should."""

from __future__ import annotations

import copy

import pytest
import torch

from glmocr_core.checkpoint.loading import load_model
from glmocr_core.model import layers
from glmocr_core.runtime import quantize as qz
from glmocr_core.runtime.decoding import ModelRunner
from glmocr_core.runtime.devices import CpuFeatures

pytestmark = pytest.mark.skipif(not qz.group_kernel_available(), reason="this PyTorch has no 4-bit group kernel")
BF16_CPU = CpuFeatures(frozenset({"avx2", "avx512f", "avx512_bf16"}))
AVX2_CPU = CpuFeatures(frozenset({"avx2", "fma"}))
PLANE_ROWS = qz.DEFAULT_PLANE_ROWS
# where the probe finds no known packed layout, there is no widened GEMM: every product runs on the 4-bit kernel
KNOWN_LAYOUT = pytest.mark.skipif(qz.pack_block() is None, reason="this torch's packed 4-bit layout is not the known one")


@pytest.fixture(autouse=True)
def default_plane_rows(monkeypatch):
    """Products of up to 16 rows on the 4-bit kernel, whatever a model load of another test measured."""
    monkeypatch.setattr(qz, "_plane_rows", PLANE_ROWS)


def _outlier_linear(inputs=256, outputs=192, seed=0) -> torch.nn.Linear:
    torch.manual_seed(seed)
    linear = torch.nn.Linear(inputs, outputs)
    with torch.no_grad():
        linear.weight[:, 5] *= 40.0  # one input column far larger than the rest, as trained weights have
    return linear


def _reference_weight(weight: torch.Tensor, bits: int, group: int) -> torch.Tensor:
    """The group math written out plainly in fp64: what the quantized linear must stand for."""
    out, k = weight.shape
    w = weight.double().view(out, k // group, group)
    if bits == 8:
        scale = (w.abs().amax(-1) / 127).to(torch.bfloat16).double()[..., None]
        return (torch.round(w / scale).clamp(-127, 127) * scale).view(out, k)
    low, high = w.amin(-1), w.amax(-1)
    scale = ((high - low) / 15).to(torch.bfloat16).double()[..., None]
    zero = (low[..., None] + 8 * scale).to(torch.bfloat16).double()
    return ((torch.round((w - zero) / scale + 8).clamp(0, 15) - 8) * scale + zero).view(out, k)


@KNOWN_LAYOUT
@pytest.mark.parametrize("bits", [8, 4])
@pytest.mark.parametrize("group", [32, 64])
def test_the_stored_weight_is_the_plain_group_math(bits, group):
    linear = _outlier_linear()
    quantized = qz.GroupQuantLinear.from_linear(linear, bits=bits, group=group)
    expected = _reference_weight(linear.weight.detach(), bits, group)
    assert torch.equal(quantized.dequantized_t(torch.float64).t(), expected)


def test_int8_values_split_into_two_4bit_digits_and_a_shared_table():
    weight = _outlier_linear().weight.detach()
    (high, low), table = qz.int8_digits(weight, 32)
    scale = (weight.view(192, 8, 32).abs().amax(-1) / 127).to(torch.bfloat16).float()
    q = torch.round(weight.view(192, 8, 32) / scale[..., None]).view(192, 256)
    assert int(high.min()) >= 0 and int(high.max()) <= 15 and int(low.max()) <= 15
    assert torch.equal((16 * high + low - 128).float(), q)
    assert torch.equal(table[..., 0], scale.t().to(torch.bfloat16))
    assert torch.equal(table[..., 1], (scale.t() * 8 / 17).to(torch.bfloat16))


@pytest.mark.parametrize("bits", [8, 4])
@pytest.mark.parametrize("rows", [1, 3, 16, 17, 70])  # the 4-bit kernel up to 16 rows, a widened GEMM above
@pytest.mark.parametrize("gemm_dtype", [torch.float32, torch.bfloat16])
def test_the_product_matches_the_plain_computation(bits, rows, gemm_dtype):
    linear = _outlier_linear()
    quantized = qz.GroupQuantLinear.from_linear(linear, bits=bits, gemm_dtype=gemm_dtype)
    x = torch.randn(rows, 256, generator=torch.Generator().manual_seed(rows))
    expected = x.double() @ _reference_weight(linear.weight.detach(), bits, 32).t() + linear.bias.double()
    got = quantized(x)
    assert got.dtype == torch.float32 and got.shape == (rows, 192)
    exact_gemm = rows > PLANE_ROWS and gemm_dtype == torch.float32 and qz.pack_block() is not None
    # bf16 activations (or a bf16 GEMM) leave ~3 significant digits; the fp32 GEMM is fp32 exact
    tolerance = 1e-5 if exact_gemm else 1.5e-2
    assert (got.double() - expected).abs().max() <= tolerance * expected.abs().max()


def _three_projections(bias: bool, columns) -> list[qz.GroupQuantLinear]:
    parts = []
    for index, outputs in enumerate((128, 64, 64)):
        torch.manual_seed(10 + index)
        linear = torch.nn.Linear(256, outputs, bias=bias)
        parts.append(qz.GroupQuantLinear.from_linear(linear, gemm_dtype=torch.bfloat16, columns=columns))
    return parts




@KNOWN_LAYOUT
@pytest.mark.parametrize("rows", [1, 5, 40])  # one-row decode, a few rows (the 4-bit kernel), a widened GEMM
@pytest.mark.parametrize("bias, columns", [(True, torch.tensor([5, 99])), (False, None)])
def test_joined_projections_compute_what_they_compute_apart(rows, bias, columns):
    """The group sums are bit for bit the same; the exact columns' small fp32 product may round its last bit
    otherwise (the BLAS picks its kernel by the output width), far below the bf16 sums beside it."""
    parts = _three_projections(bias, columns)
    joined = qz.GroupQuantLinear.joined(parts)
    assert joined is not None and joined.out_features == 256
    x = torch.randn(rows, 256, generator=torch.Generator().manual_seed(rows))
    apart = torch.cat([part(x) for part in parts], dim=-1)
    if rows <= PLANE_ROWS:
        narrow = x.bfloat16()
        assert torch.equal(joined.planes_product(narrow), torch.cat([p.planes_product(narrow) for p in parts], -1))
    if columns is None:
        assert torch.equal(joined(x), apart)
    else:
        assert (joined(x) - apart).abs().max() <= 1e-6 * apart.abs().max()


@KNOWN_LAYOUT
def test_projections_that_cannot_share_one_product_stay_apart():
    assert qz.GroupQuantLinear.joined(_three_projections(True, torch.tensor([5])) + _three_projections(
        True, torch.tensor([6]))) is None  # other exact columns: another input scaling
    odd = qz.GroupQuantLinear.from_linear(torch.nn.Linear(256, 16), gemm_dtype=torch.bfloat16)
    assert qz.GroupQuantLinear.joined(_three_projections(True, None) + [odd]) is None  # off the packed blocks
    assert qz.GroupQuantLinear.joined(_three_projections(True, None) + _three_projections(False, None)) is None


def test_the_int8_product_is_sixteen_high_digits_plus_the_low_ones():
    quantized = qz.GroupQuantLinear.from_linear(_outlier_linear())
    x = torch.randn(3, 256).bfloat16()
    high, low = (qz._int4_mm(x, plane, 32, quantized.scale_zero).float() for plane in quantized.planes)
    assert torch.equal(quantized.planes_product(x), high * 16 + low)


@KNOWN_LAYOUT
def test_fast_precision_joins_each_layers_projections_without_changing_a_logit(tiny_checkpoint):
    apart = load_model(tiny_checkpoint)
    qz.quantize_decoder(apart)
    joined = copy.deepcopy(apart)
    assert qz.join_attention_projections(joined) == joined.cfg.text.num_hidden_layers
    attention = joined.language_model.layers[0].self_attn
    assert isinstance(attention.qkv_proj, qz.GroupQuantLinear) and not hasattr(attention, "q_proj")
    ids = [59248, 59250, 59253, 198, 40, 41, 42, 59254, 198, 43] * 3  # a 30-row prefill: the widened GEMM too
    with torch.inference_mode():
        prefill = [ModelRunner(m).prefill(ids, None, [], capacity=40, all_logits=True)[0] for m in (apart, joined)]
    assert torch.equal(*prefill)
    tokens = torch.randint(0, 800, (40,), generator=torch.Generator().manual_seed(2)).tolist()
    assert torch.equal(_teacher_forced(apart, tokens, prefix=4), _teacher_forced(joined, tokens, prefix=4))


def test_leading_dimensions_are_kept():
    quantized = qz.GroupQuantLinear.from_linear(_outlier_linear())
    assert quantized(torch.randn(2, 3, 256)).shape == (2, 3, 192)
    assert quantized(torch.randn(2, 40, 256)).shape == (2, 40, 192)


def _teacher_forced(model, tokens: list[int], prefix: int) -> torch.Tensor:
    with torch.inference_mode():
        runner = ModelRunner(model)
        logits, state = runner.prefill(tokens[:prefix], None, [], capacity=len(tokens) + 1)
        rows = [logits[0]]
        for token in tokens[prefix:-1]:
            rows.append(runner.decode(torch.tensor([[token]]), state)[0, -1])
    return torch.stack(rows).float()


@pytest.mark.parametrize("outliers", [False, True])
def test_a_quantized_tiny_model_keeps_greedy_agreement_with_fp32(tiny_checkpoint, outliers):
    base = load_model(tiny_checkpoint)
    if outliers:  # a few huge norm channels, the way trained models' activation outliers look
        with torch.no_grad():
            for layer in base.language_model.layers:
                for norm in (layer.input_layernorm, layer.post_attention_layernorm):
                    norm.weight[[3, 17]] *= 30.0
    tokens = torch.randint(0, 800, (80,), generator=torch.Generator().manual_seed(5)).tolist()
    reference = _teacher_forced(base, tokens, prefix=20)  # a 20-row prefill: the widened-GEMM path too
    results = {}
    for bits in (8, 4):
        model = copy.deepcopy(base)
        assert qz.quantize_decoder(model, bits=bits) == len(qz.quantize_targets(base))
        results[bits] = (_teacher_forced(model, tokens, prefix=20).argmax(-1) == reference.argmax(-1)).float().mean()
    assert results[8] >= 0.95, results
    assert results[4] < results[8]  # the study's 4-bit candidate is measurably coarser


def test_quantized_weights_take_int8_bytes_plus_one_table_entry_per_group(tiny_checkpoint):
    model = load_model(tiny_checkpoint)
    targets = qz.quantize_targets(model)
    shapes = [model.get_submodule(name).weight.shape for name in targets]
    fp32_bytes = sum(out * k * 4 for out, k in shapes)
    qz.quantize_decoder(model)
    expected = sum(out * k + (k // qz.GROUP_SIZE) * out * 2 * 2 for out, k in shapes)  # planes + bf16 (s, z)
    assert qz.quantized_bytes(model) == expected
    assert expected / fp32_bytes == pytest.approx((1 + 4 / qz.GROUP_SIZE) / 4)
    assert not [name for name, p in model.named_parameters() if any(name.startswith(t + ".") for t in targets)]


def test_the_mtp_layer_and_the_vision_tower_are_not_quantized(tiny_checkpoint_mtp):
    model = load_model(tiny_checkpoint_mtp, with_mtp=True)
    qz.quantize_decoder(model)
    kinds = {name: type(module).__name__ for name, module in model.named_modules()}
    assert not [n for n, kind in kinds.items() if kind == "GroupQuantLinear" and ("visual" in n or "layers.2." in n)]
    assert kinds["lm_head"] == "GroupQuantLinear"


@pytest.mark.parametrize("cpu, vision", [(BF16_CPU, torch.bfloat16), (AVX2_CPU, torch.float32)],
                         ids=["bf16-matrix-units", "avx2"])
def test_prepare_fast_follows_the_cpu(tiny_checkpoint, monkeypatch, cpu, vision):
    from glmocr_core.runtime import devices

    monkeypatch.setattr(devices, "load_verdict", lambda: {"recipes": {devices.VISION_BF16_RECIPE: {
        "meets_bar": True}}})
    model = load_model(tiny_checkpoint)
    targets = qz.quantize_targets(model)
    assert qz.prepare_fast(model, cpu=cpu) == len(targets)
    vision_products = {m.gemm_dtype for m in model.visual.modules() if isinstance(m, layers.Linear)}
    assert vision_products == {torch.bfloat16 if vision == torch.bfloat16 else None}
    attention_products = {block.attn.products_dtype for block in model.visual.blocks}
    assert attention_products == {torch.bfloat16 if vision == torch.bfloat16 else None}
    assert model.visual.blocks[0].norm1.weight.dtype == torch.float32  # norms and the residual stream stay fp32
    assert model.language_model.norm.weight.dtype == torch.float32
    gemm = model.language_model.layers[0].mlp.down_proj.gemm_dtype
    assert gemm == (torch.bfloat16 if cpu.fast_bf16 else torch.float32)


def test_without_a_vision_verdict_the_vision_tower_stays_fp32(tiny_checkpoint, monkeypatch):
    from glmocr_core.runtime import devices

    monkeypatch.setattr(devices, "load_verdict", lambda: {})
    model = load_model(tiny_checkpoint)
    qz.prepare_fast(model, cpu=BF16_CPU)
    assert all(m.gemm_dtype is None for m in model.visual.modules() if isinstance(m, layers.Linear))


@KNOWN_LAYOUT
def test_the_packed_layout_probe_agrees_with_the_kernel():
    """The widened GEMM reads the kernel's packed bytes itself: the probe must have found their real layout."""
    block = qz.pack_block()
    assert block in (16, 32, 64)
    digits = torch.randint(0, 16, (4 * block, 64), generator=torch.Generator().manual_seed(0), dtype=torch.int32)
    packed = qz._int4_pack(digits).view(4, 64, block // 2)
    unpacked = torch.cat([packed & 15, packed >> 4], dim=-1).permute(0, 2, 1).reshape(4 * block, 64)
    assert torch.equal(unpacked.int(), digits)


def test_outlier_channels_stay_exact_beside_the_groups():
    linear = _outlier_linear()
    norm = torch.ones(256)
    norm[[5, 77]] = 30.0
    columns = qz.outlier_columns(norm)
    assert columns.tolist() == [5, 77]
    quantized = qz.GroupQuantLinear.from_linear(linear, columns=columns)
    weight = linear.weight.detach()
    assert torch.equal(quantized.column_weight, weight[:, [5, 77]])
    rest = weight.clone()
    rest[:, [5, 77]] = 0
    x = torch.randn(40, 256)
    expected = x.double() @ _reference_weight(rest, 8, 32).t() + x[:, [5, 77]].double() @ weight[:, [5, 77]].double().t()
    expected += linear.bias.double()
    tolerance = 1e-5 if qz.pack_block() is not None else 1.5e-2  # 40 rows: a widened fp32 GEMM, else the kernel
    assert (quantized(x).double() - expected).abs().max() <= tolerance * expected.abs().max()
    plain = qz.GroupQuantLinear.from_linear(linear)
    exact = linear(x).double()
    assert (quantized(x).double() - exact).abs().max() < (plain(x).double() - exact).abs().max()


def test_outlier_columns_are_few_and_only_real_outliers():
    assert len(qz.outlier_columns(1.0 + 0.1 * torch.randn(1536, generator=torch.Generator().manual_seed(0)))) == 0
    many = torch.ones(1536)
    many[:100] = torch.arange(100, dtype=torch.float32) + 10
    assert qz.outlier_columns(many).tolist() == list(range(100 - qz.MAX_OUTLIER_COLUMNS, 100))


def _first_projection(model) -> qz.GroupQuantLinear:
    """The first layer's joined q/k/v, or its q alone where the packed layout allows no joining."""
    attention = model.language_model.layers[0].self_attn
    return attention.qkv_proj if attention.qkv_proj is not None else attention.q_proj


def test_the_fast_cache_keeps_the_outlier_columns(tiny_checkpoint, tmp_path, monkeypatch):
    def with_outliers():
        model = load_model(tiny_checkpoint)
        with torch.no_grad():
            for layer in model.language_model.layers:
                layer.input_layernorm.weight[[3, 17]] *= 30.0
        return model

    cache = tmp_path / "fast.safetensors"
    first = with_outliers()
    qz.prepare_fast(first, cache, cpu=AVX2_CPU)
    assert _first_projection(first).columns.tolist() == [3, 17]
    monkeypatch.setattr(qz, "quantize_decoder", lambda *a, **k: pytest.fail("quantized again"))
    second = with_outliers()
    qz.prepare_fast(second, cache, cpu=AVX2_CPU)
    assert _first_projection(second).columns.tolist() == [3, 17]
    ids = [59248, 59250, 59253, 198, 40, 41, 42, 59254, 198, 43]
    with torch.inference_mode():
        logits = [ModelRunner(m).prefill(ids, None, [], capacity=16, all_logits=True)[0] for m in (first, second)]
    assert torch.equal(*logits)


@pytest.mark.parametrize("bias, rows", [(False, 1000), (True, 7)])
def test_the_narrow_gated_mlp_is_bit_for_bit_the_plain_one(bias, rows):
    """bf16 vision products: the blocked path (one input conversion, fp32 silu and product on each block) gives
    exactly what gate, up, silu, product and down computed one after the other give, rows split across blocks."""
    torch.manual_seed(3)
    mlp = layers.GatedMLP(256, 1024, bias).eval()
    with torch.no_grad():
        for parameter in mlp.parameters():
            parameter.copy_(parameter.normal_(0, 0.05).bfloat16())
        for linear in (mlp.gate_proj, mlp.up_proj, mlp.down_proj):
            linear.gemm_dtype = torch.bfloat16
        x = torch.randn(rows, 256)
        plain = mlp.down_proj(torch.nn.functional.silu(mlp.gate_proj(x)) * mlp.up_proj(x))
        assert torch.equal(mlp._narrow_forward(x, torch.bfloat16), plain)  # 1000 rows: four blocks, the last short
        assert torch.equal(mlp(x), plain) and mlp(x[None]).shape == (1, rows, 256)


def test_cached_fast_weights_are_read_into_aligned_memory(tiny_checkpoint, tmp_path):
    """The cache's tensors start 8-byte aligned in the file, where the 4-bit kernel reads its tables a third
    slower; the installed weights are fresh 64-byte-aligned copies holding the same bytes."""
    from safetensors import safe_open

    cache = tmp_path / "fast.safetensors"
    qz.prepare_fast(load_model(tiny_checkpoint), cache, cpu=AVX2_CPU)
    with safe_open(str(cache), framework="pt") as stored:
        misaligned = [name for name in stored.keys() if stored.get_tensor(name).data_ptr() % 64]
        assert misaligned  # the file's own layout: what the copies are for
        reloaded = load_model(tiny_checkpoint)
        qz.prepare_fast(reloaded, cache, cpu=AVX2_CPU)
        head = reloaded.lm_head
        assert torch.equal(head.planes, stored.get_tensor("lm_head.planes"))
        assert torch.equal(head.scale_zero, stored.get_tensor("lm_head.scale_zero"))
    buffers = [t for m in reloaded.modules() if isinstance(m, qz.GroupQuantLinear) for t in m.stored_parts().values()]
    assert buffers and all(t.data_ptr() % 64 == 0 for t in buffers)


def test_quantizing_by_blocks_of_rows_gives_the_whole_matrixs_digits(monkeypatch):
    weight = _outlier_linear(inputs=256, outputs=200).weight.detach()
    whole_digits, whole_table = qz.int8_digits(weight, 32)  # one block: 200 rows fit in QUANTIZE_ELEMENTS
    monkeypatch.setattr(qz, "QUANTIZE_ELEMENTS", 3 * 256)  # blocks of 3 rows, the last one short
    digits, table = qz.int8_digits(weight, 32)
    assert all(torch.equal(a, b) for a, b in zip(digits, whole_digits)) and torch.equal(table, whole_table)
    assert digits[0].dtype == torch.int32 and int(digits[0].max()) <= 15 and int(digits[1].max()) <= 15
