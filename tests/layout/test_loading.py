"""Loading layout checkpoints: the published tensor names and shapes at the reference config, the tensors a file may
hold that the model skips, and every bad-input case as a ModelError naming what is wrong."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from glmocr_core.errors import ModelError
from glmocr_core.layout.config import load_layout_config
from glmocr_core.layout.loading import check_names, load_layout_model
from glmocr_core.layout.model import PPDocLayoutV3
from glmocr_core.testing.layout_checkpoints import real_config

from .conftest import GOLDEN


def _meta_names(cfg) -> dict[str, list[int]]:
    with torch.device("meta"):
        model = PPDocLayoutV3(cfg)
    return {name: list(t.shape) for name, t in model.state_dict().items()}


def test_real_config_accepts_the_published_tensor_names(layout_reference_dir):
    """The names and shapes transformers' save_pretrained writes at the reference config (golden, made once)."""
    published = json.loads((GOLDEN / "real_checkpoint_names.json").read_text(encoding="utf-8"))
    cfg = load_layout_config(layout_reference_dir)
    ours = _meta_names(cfg)
    check_names(ours, set(published), cfg, "published")  # raises on a missing or unexpected tensor
    assert {name: published[name] for name in ours} == ours
    skipped = set(published) - set(ours)
    assert skipped and all(name.endswith(".num_batches_tracked") for name in skipped)


def test_real_config_has_the_published_size(layout_reference_dir):
    cfg = load_layout_config(layout_reference_dir)
    assert cfg == real_config()
    with torch.device("meta"):
        model = PPDocLayoutV3(cfg)
    parameters = sum(p.numel() for p in model.parameters())  # BN statistics are buffers, as in transformers
    assert round(parameters / 1e6, 1) == 33.2
    assert cfg.num_labels == 25 and cfg.id2label[22] == "text"


def _copy(src, tmp_path):
    return shutil.copytree(src, tmp_path / "ckpt")


def _edit_weights(folder, edit) -> None:
    path = folder / "model.safetensors"
    state = load_file(str(path))
    edit(state)
    save_file(state, str(path))


def test_tied_heads_and_counters_in_the_file_are_skipped(tiny_layout_checkpoint, tmp_path):
    folder = _copy(tiny_layout_checkpoint, tmp_path)
    reference = load_layout_model(tiny_layout_checkpoint)

    def add_tied(state):
        state["model.decoder.class_embed.weight"] = torch.zeros_like(state["model.enc_score_head.weight"])
        state["model.decoder.class_embed.bias"] = torch.zeros_like(state["model.enc_score_head.bias"])

    _edit_weights(folder, add_tied)
    loaded = load_layout_model(folder)
    assert torch.equal(loaded.model.class_embed.weight, reference.model.enc_score_head.weight)


@pytest.mark.parametrize("case, message", [
    ("missing", "tensors missing: model.decoder_norm.weight"),
    ("unexpected", "tensors unexpected: model.extra.weight"),
    ("shape", "model.decoder_norm.bias has shape [3], config needs [32]"),
])
def test_bad_weights_are_reported(tiny_layout_checkpoint, tmp_path, case, message):
    folder = _copy(tiny_layout_checkpoint, tmp_path)
    edits = {"missing": lambda s: s.pop("model.decoder_norm.weight"),
             "unexpected": lambda s: s.__setitem__("model.extra.weight", torch.zeros(2)),
             "shape": lambda s: s.__setitem__("model.decoder_norm.bias", torch.zeros(3))}
    _edit_weights(folder, edits[case])
    with pytest.raises(ModelError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_layout_model(folder)


def test_wrong_model_type_and_missing_weights(tiny_layout_checkpoint, tmp_path):
    folder = _copy(tiny_layout_checkpoint, tmp_path)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "model_type": "glm_ocr"}))
    with pytest.raises(ModelError, match="not a PP-DocLayoutV3 checkpoint"):
        load_layout_model(folder)
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "model.safetensors").unlink()
    with pytest.raises(ModelError, match="no model.safetensors"):
        load_layout_model(folder)


def test_bf16_weights_load_in_the_requested_dtype(tiny_layout_checkpoint, tmp_path):
    folder = _copy(tiny_layout_checkpoint, tmp_path)
    _edit_weights(folder, lambda s: s.update({k: v.to(torch.bfloat16) for k, v in s.items() if v.is_floating_point()}))
    model = load_layout_model(folder, dtype=torch.float32)
    assert {p.dtype for p in model.state_dict().values()} == {torch.float32}
