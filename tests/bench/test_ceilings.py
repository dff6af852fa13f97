"""The machine's ceilings and the bounds they put on a first token and an int8 decode step (bench/ceilings.py):
the model's work counted from its config, by hand here for the real GLM-OCR shapes."""

from pathlib import Path

import pytest

from bench import ceilings
from glmocr_core.model.config import load_model_config

REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "glm-ocr"


@pytest.fixture(scope="module")
def cfg():
    if not (REFERENCE / "config.json").exists():
        pytest.skip(f"the shared reference folder {REFERENCE} is absent")
    return load_model_config(REFERENCE)


def test_a_decode_step_reads_every_decoder_product_and_the_head_once(cfg):
    per_layer = 1536 * (2048 + 2 * 1024) + 2048 * 1536 + 3 * 1536 * 4608  # q, k, v; o; gate, up, down
    assert ceilings.decoder_weights(cfg) == 16 * per_layer == 490_733_568
    assert ceilings.decode_bytes_int8(cfg) == pytest.approx((16 * per_layer + 59392 * 1536) * (1 + 4 / 32))


def test_a_first_token_counts_the_vision_tower_its_attention_the_connector_and_the_prompt(cfg):
    patches, prompt = 1024, 270
    block = 4 * 1024**2 + 3 * 1024 * 4096 + 2 * patches * 1024
    vision = patches * (1176 * 1024 + 24 * block)
    connector = (patches // 4) * (4096 * 1536 + 1536**2 + 3 * 1536 * 4608)
    decoder = prompt * 490_733_568 + 1536 * 59392
    assert ceilings.prefill_flops(cfg, patches, prompt) == 2.0 * (vision + connector + decoder)


def test_bounds_divide_the_work_by_the_measured_peaks(cfg, monkeypatch):
    monkeypatch.setattr(ceilings, "GEMM_SIZE", 128)
    monkeypatch.setattr(ceilings, "READ_BYTES", 1 << 20)
    measured = ceilings.measure(rounds=1)
    assert min(measured.values()) > 0
    bounds = ceilings.bounds(cfg, {"gemm_bf16_gflops": 500.0, "read_gbs": 40.0}, {"region": (1024, 270)})
    assert bounds["first_token_s"]["region"] == pytest.approx(ceilings.prefill_flops(cfg, 1024, 270) / 500e9)
    assert bounds["decode_tok_s_int8"] == pytest.approx(40e9 / ceilings.decode_bytes_int8(cfg))
