"""The header-only model folder check: good folders pass, each kind of damage is named exactly."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from glmocr_core.checkpoint.check import check_model_dir, folder_state, require_model_dir
from glmocr_core.checkpoint.layout import REQUIRED_FILES, WEIGHTS_FILE
from glmocr_core.checkpoint.safetensors import read_safetensors_header
from glmocr_core.errors import ModelError

TINY_TEXT = {"model_type": "glm_ocr_text", "vocab_size": 64, "hidden_size": 16, "intermediate_size": 32,
             "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 8,
             "rope_parameters": {"rope_type": "default", "rope_theta": 10000, "mrope_section": [1, 1, 2]}}
TINY_VISION = {"model_type": "glm_ocr_vision", "hidden_size": 8, "depth": 2, "num_heads": 2, "intermediate_size": 16,
               "patch_size": 14, "temporal_patch_size": 2, "spatial_merge_size": 2, "out_hidden_size": 16}


def tiny_config() -> dict:
    return {"model_type": "glm_ocr", "architectures": ["GlmOcrForConditionalGeneration"],
            "text_config": dict(TINY_TEXT), "vision_config": dict(TINY_VISION)}


def tiny_tensors(cfg: dict, mtp_layer: bool = False) -> dict[str, np.ndarray]:
    """The tensors the check looks at, with shapes derived from cfg (zeros: the check never reads data)."""
    t, v = cfg["text_config"], cfg["vision_config"]
    vocab, hidden = t["vocab_size"], t["hidden_size"]
    tensors = {"model.language_model.embed_tokens.weight": (vocab, hidden), "lm_head.weight": (vocab, hidden),
               "model.visual.patch_embed.proj.weight": (v["hidden_size"], 3, 2, 14, 14),
               "model.visual.merger.proj.weight": (v["out_hidden_size"], v["out_hidden_size"])}
    for layer in range(t["num_hidden_layers"] + (1 if mtp_layer else 0)):
        prefix = f"model.language_model.layers.{layer}."
        tensors[prefix + "self_attn.q_proj.weight"] = (t["num_attention_heads"] * t["head_dim"], hidden)
        tensors[prefix + "self_attn.k_proj.weight"] = (t["num_key_value_heads"] * t["head_dim"], hidden)
        tensors[prefix + "mlp.down_proj.weight"] = (hidden, t["intermediate_size"])
    for block in range(v["depth"]):
        tensors[f"model.visual.blocks.{block}.attn.qkv.weight"] = (3 * v["hidden_size"], v["hidden_size"])
    return {name: np.zeros(shape, dtype=np.float32) for name, shape in tensors.items()}


def write_checkpoint(folder: Path, cfg: dict | None = None, tensors: dict | None = None) -> Path:
    """A header-valid tiny checkpoint: every required file, the weights matching cfg unless told otherwise."""
    cfg = cfg or tiny_config()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(cfg))
    save_file(tensors if tensors is not None else tiny_tensors(cfg), str(folder / WEIGHTS_FILE))
    (folder / "tokenizer.json").write_text(json.dumps({"version": "1.0", "model": {"type": "BPE"}}))
    (folder / "tokenizer_config.json").write_text(json.dumps({"eos_token": "<|endoftext|>"}))
    (folder / "chat_template.jinja").write_text("[gMASK]<sop>{{ messages }}")
    (folder / "preprocessor_config.json").write_text(json.dumps({"patch_size": 14}))
    (folder / "generation_config.json").write_text(json.dumps({"do_sample": False}))
    return folder


def messages(problems) -> list[str]:
    return [str(p) for p in problems]


def test_good_folder_has_no_problems(tmp_path):
    folder = write_checkpoint(tmp_path / "model")
    assert check_model_dir(folder) == []
    assert require_model_dir(folder) == folder
    assert folder_state(folder) == ("ready", [])


def test_mtp_layer_after_the_last_layer_is_accepted(tmp_path):
    cfg = tiny_config()
    folder = write_checkpoint(tmp_path / "model", cfg, tiny_tensors(cfg, mtp_layer=True))
    assert check_model_dir(folder) == []


def test_every_required_file_is_named_when_the_folder_is_empty(tmp_path):
    (tmp_path / "empty").mkdir()
    names = {p.file for p in check_model_dir(tmp_path / "empty")}
    assert names == {f.name for f in REQUIRED_FILES}
    assert folder_state(tmp_path / "empty")[0] == "missing"


@pytest.mark.parametrize("name", ["tokenizer.json", "preprocessor_config.json", WEIGHTS_FILE])
def test_a_missing_file_is_named(tmp_path, name):
    folder = write_checkpoint(tmp_path / "model")
    (folder / name).unlink()
    problems = check_model_dir(folder)
    assert [p.file for p in problems] == [name]
    assert "missing" in problems[0].message
    assert folder_state(folder) == ("problems", problems)


def test_chat_template_may_live_in_tokenizer_config(tmp_path):
    folder = write_checkpoint(tmp_path / "model")
    (folder / "chat_template.jinja").unlink()
    assert [p.file for p in check_model_dir(folder)] == ["chat_template.jinja"]
    (folder / "tokenizer_config.json").write_text(json.dumps({"chat_template": "[gMASK]<sop>"}))
    assert check_model_dir(folder) == []


def test_wrong_model_type_is_reported(tmp_path):
    cfg = tiny_config()
    cfg["model_type"] = "qwen2_vl"
    folder = write_checkpoint(tmp_path / "model", cfg, tiny_tensors(tiny_config()))
    (problem,) = check_model_dir(folder)
    assert problem.file == "config.json"
    assert "'qwen2_vl'" in problem.message and "glm_ocr" in problem.message


def test_unreadable_config_is_reported(tmp_path):
    folder = write_checkpoint(tmp_path / "model")
    (folder / "config.json").write_text('{"model_type": "glm_ocr", ')
    (problem,) = check_model_dir(folder)
    assert problem.file == "config.json" and "JSON" in problem.message


def test_truncated_weights_are_detected_from_the_header(tmp_path):
    folder = write_checkpoint(tmp_path / "model")
    weights = folder / WEIGHTS_FILE
    full = weights.read_bytes()
    weights.write_bytes(full[: len(full) - 100])
    (problem,) = check_model_dir(folder)
    assert problem.file == WEIGHTS_FILE
    assert "truncated" in problem.message and str(len(full)) in problem.message


def test_weights_cut_inside_the_header_are_detected(tmp_path):
    folder = write_checkpoint(tmp_path / "model")
    weights = folder / WEIGHTS_FILE
    weights.write_bytes(weights.read_bytes()[:40])
    (problem,) = check_model_dir(folder)
    assert problem.file == WEIGHTS_FILE and "truncated" in problem.message


def test_garbage_weights_are_not_a_safetensors_file(tmp_path):
    folder = write_checkpoint(tmp_path / "model")
    (folder / WEIGHTS_FILE).write_bytes(b"<html>Access denied</html>" * 10)
    (problem,) = check_model_dir(folder)
    assert problem.file == WEIGHTS_FILE and "not a safetensors file" in problem.message


def test_header_that_lies_about_a_tensor_size_is_reported(tmp_path):
    header = json.dumps({"x": {"dtype": "F32", "shape": [4, 4], "data_offsets": [0, 32]}}).encode()
    path = tmp_path / "bad.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + bytes(32))
    with pytest.raises(ValueError, match=r"tensor x .* should take 64 bytes but its data_offsets span 32"):
        read_safetensors_header(path)


def test_shape_mismatch_between_config_and_weights_names_the_tensor(tmp_path):
    cfg = tiny_config()
    wider = tiny_config()
    wider["text_config"]["hidden_size"] = 24
    folder = write_checkpoint(tmp_path / "model", cfg, tiny_tensors(wider))
    found = messages(check_model_dir(folder))
    assert any("model.language_model.embed_tokens.weight has shape [64, 24]" in m and "[64, 16]" in m for m in found)
    assert all(m.startswith(WEIGHTS_FILE) for m in found)


def test_vision_patch_embed_mismatch_is_reported(tmp_path):
    cfg = tiny_config()
    other = tiny_config()
    other["vision_config"]["hidden_size"] = 12
    folder = write_checkpoint(tmp_path / "model", cfg, tiny_tensors(other))
    found = messages(check_model_dir(folder))
    assert any("model.visual.patch_embed.proj.weight has shape [12, 3, 2, 14, 14]" in m for m in found)


def test_layer_and_block_counts_are_compared_with_the_config(tmp_path):
    cfg = tiny_config()
    deeper = tiny_config()
    deeper["text_config"]["num_hidden_layers"] = 5  # layers 0..4 in the weights; config says 2 (+ MTP index 2)
    deeper["vision_config"]["depth"] = 1
    folder = write_checkpoint(tmp_path / "model", cfg, tiny_tensors(deeper))
    found = messages(check_model_dir(folder))
    assert any("text layers 0, 1, 3, 4" in m and "num_hidden_layers = 2" in m for m in found)
    assert any("vision blocks 0..0" in m and "depth = 2" in m for m in found)


def test_sharded_weights_with_a_missing_shard(tmp_path):
    cfg = tiny_config()
    folder = write_checkpoint(tmp_path / "model", cfg)
    tensors = tiny_tensors(cfg)
    names = sorted(tensors)
    first, second = names[: len(names) // 2], names[len(names) // 2:]
    save_file({n: tensors[n] for n in first}, str(folder / "model-00001-of-00002.safetensors"))
    save_file({n: tensors[n] for n in second}, str(folder / "model-00002-of-00002.safetensors"))
    weight_map = {n: "model-00001-of-00002.safetensors" for n in first}
    weight_map |= {n: "model-00002-of-00002.safetensors" for n in second}
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    (folder / WEIGHTS_FILE).unlink()
    assert check_model_dir(folder) == []
    (folder / "model-00002-of-00002.safetensors").unlink()
    assert messages(check_model_dir(folder)) == [
        "model-00002-of-00002.safetensors: missing: a weight shard named by model.safetensors.index.json"]


def test_require_model_dir_lists_every_problem(tmp_path):
    folder = write_checkpoint(tmp_path / "model")
    (folder / "tokenizer.json").unlink()
    (folder / "generation_config.json").write_text("not json")
    with pytest.raises(ModelError) as caught:
        require_model_dir(folder)
    text = str(caught.value)
    assert str(folder) in text and "tokenizer.json: missing" in text and "generation_config.json: cannot be read" in text


def test_a_folder_that_does_not_exist(tmp_path):
    (problem,) = check_model_dir(tmp_path / "nowhere")
    assert "does not exist" in problem.message
    assert folder_state(tmp_path / "nowhere") == ("missing", [])


# The published checkpoint: its config.json (text/vision parts that matter) and a sample of the tensor shapes listed
# in the project notes (shared/docs/glmocr-architecture.md, section 6). The check must accept the real model, MTP layer included.
REAL_CONFIG = {
    "model_type": "glm_ocr",
    "text_config": {"vocab_size": 59392, "hidden_size": 1536, "intermediate_size": 4608, "num_hidden_layers": 16,
                    "num_attention_heads": 16, "num_key_value_heads": 8, "head_dim": 128,
                    "num_nextn_predict_layers": 1,
                    "rope_parameters": {"rope_type": "default", "mrope_section": [16, 24, 24], "rope_theta": 10000}},
    "vision_config": {"hidden_size": 1024, "depth": 24, "num_heads": 16, "intermediate_size": 4096,
                      "patch_size": 14, "temporal_patch_size": 2, "spatial_merge_size": 2, "out_hidden_size": 1536},
}
REAL_SHAPES = {
    "model.visual.patch_embed.proj.weight": [1024, 3, 2, 14, 14],
    "model.visual.merger.proj.weight": [1536, 1536],
    "model.language_model.embed_tokens.weight": [59392, 1536],
    "lm_head.weight": [59392, 1536],
    **{f"model.visual.blocks.{n}.attn.qkv.weight": [3072, 1024] for n in range(24)},
    **{f"model.language_model.layers.{n}.self_attn.q_proj.weight": [2048, 1536] for n in range(17)},
    **{f"model.language_model.layers.{n}.self_attn.k_proj.weight": [1024, 1536] for n in range(17)},
    **{f"model.language_model.layers.{n}.mlp.down_proj.weight": [1536, 4608] for n in range(17)},
    "model.language_model.layers.16.eh_proj.weight": [1536, 3072],
}


def test_the_published_checkpoint_shapes_match_its_config():
    from glmocr_core.checkpoint.check import config_weight_problems
    from glmocr_core.model.config import ModelConfig

    config = ModelConfig.from_dict(REAL_CONFIG)
    assert config_weight_problems(config, REAL_SHAPES) == []
    swapped = dict(REAL_SHAPES, **{"model.language_model.layers.0.self_attn.k_proj.weight": [2048, 1536]})
    (problem,) = config_weight_problems(config, swapped)
    assert "k_proj" in problem.message and "[1024, 1536]" in problem.message
