"""Config parsing and weight loading: the real config's size, sharded files, MTP layer, and every bad-input case."""

from __future__ import annotations

import json
import os
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from glmocr_core.checkpoint.loading import load_model
from glmocr_core.errors import ModelError
from glmocr_core.model.config import load_model_config, load_preprocessor_config
from glmocr_core.model.glm_ocr import GlmOcrModel, count_parameters
from glmocr_core.testing.checkpoints import random_model, tiny_config, write_checkpoint


def _copy(src, tmp_path, name="ckpt"):
    return shutil.copytree(src, tmp_path / name)


def test_real_config_builds_on_meta_with_exact_parameter_count(shared_reference):
    cfg = load_model_config(shared_reference)
    with torch.device("meta"):
        model = GlmOcrModel(cfg)
        with_mtp = GlmOcrModel(cfg, with_mtp=True)
    assert count_parameters(model) == 1_107_405_824
    assert len(model.state_dict()) == 510
    # the MTP layer adds one decoder layer plus enorm, hnorm, eh_proj and shared_head.norm
    assert count_parameters(with_mtp) - count_parameters(model) == 35_400_192


def test_bundled_config_equals_shared_reference(shared_reference):
    from glmocr_core.testing.checkpoints import real_config

    assert real_config() == load_model_config(shared_reference)


def test_unknown_keys_are_ignored(tiny_checkpoint, tmp_path):
    ckpt = _copy(tiny_checkpoint, tmp_path)
    data = json.loads((ckpt / "config.json").read_text())
    data["some_future_key"] = {"x": 1}
    data["text_config"]["another_one"] = 3
    (ckpt / "config.json").write_text(json.dumps(data))
    assert load_model_config(ckpt).text.hidden_size == data["text_config"]["hidden_size"]


@pytest.mark.parametrize("key", ["hidden_size", "num_hidden_layers", "head_dim"])
def test_missing_required_key_names_key_and_file(tiny_checkpoint, tmp_path, key):
    ckpt = _copy(tiny_checkpoint, tmp_path)
    data = json.loads((ckpt / "config.json").read_text())
    del data["text_config"][key]
    (ckpt / "config.json").write_text(json.dumps(data))
    with pytest.raises(ModelError) as info:
        load_model_config(ckpt)
    assert f"text_config.{key}" in str(info.value) and "config.json" in str(info.value)


def test_mistyped_key_is_an_error(tiny_checkpoint, tmp_path):
    ckpt = _copy(tiny_checkpoint, tmp_path)
    data = json.loads((ckpt / "config.json").read_text())
    data["vision_config"]["depth"] = "two"
    (ckpt / "config.json").write_text(json.dumps(data))
    with pytest.raises(ModelError, match="vision_config.depth"):
        load_model_config(ckpt)


def test_preprocessor_config_reads_pixel_budget(tiny_checkpoint):
    cfg = load_preprocessor_config(tiny_checkpoint)
    assert (cfg.min_pixels, cfg.max_pixels, cfg.patch_size, cfg.merge_size) == (12544, 9633792, 14, 2)


def test_loaded_weights_equal_the_file_and_are_cast(tiny_checkpoint):
    model = load_model(tiny_checkpoint, dtype=torch.float32)
    stored = load_file(str(tiny_checkpoint / "model.safetensors"))
    assert set(stored) == set(model.state_dict())
    for name, tensor in model.state_dict().items():
        # the embedding table and the vision matrices keep their stored bf16 (upcast exactly at use); the decoder's
        # matrices, read at every token, and every 1-D tensor are converted
        narrow = name.endswith("embed_tokens.weight") or (name.startswith("model.visual.") and tensor.dim() >= 2)
        assert tensor.dtype == (torch.bfloat16 if narrow else torch.float32), name
        assert torch.equal(tensor.float(), stored[name].float()), name
    ids = torch.tensor([[5, 700, 59248]])
    assert torch.equal(model.language_model.embed(ids), stored["model.language_model.embed_tokens.weight"][ids].float())
    assert load_model(tiny_checkpoint, dtype=torch.bfloat16).lm_head.weight.dtype == torch.bfloat16


def test_sharded_checkpoint_loads_like_single_file(tmp_path):
    model = random_model(tiny_config(), seed=3)
    single = write_checkpoint(model, tmp_path / "single")
    sharded = write_checkpoint(model, tmp_path / "sharded", shards=3)
    assert (sharded / "model.safetensors.index.json").exists() and not (sharded / "model.safetensors").exists()
    a, b = load_model(single).state_dict(), load_model(sharded).state_dict()
    assert all(torch.equal(a[name], b[name]) for name in a)


def test_mtp_layer_is_optional(tiny_checkpoint_mtp):
    with_mtp = load_model(tiny_checkpoint_mtp)
    assert with_mtp.language_model.mtp is not None
    without = load_model(tiny_checkpoint_mtp, with_mtp=False)
    assert without.language_model.mtp is None
    assert len(without.language_model.layers) == without.cfg.text.num_hidden_layers


def test_mtp_copies_of_shared_tensors_are_accepted(tiny_checkpoint_mtp, tmp_path):
    ckpt = _copy(tiny_checkpoint_mtp, tmp_path)
    state = load_file(str(ckpt / "model.safetensors"))
    prefix = f"model.language_model.layers.{tiny_config().text.num_hidden_layers}."
    state[prefix + "shared_head.head.weight"] = state["lm_head.weight"].clone()
    state[prefix + "embed_tokens.weight"] = state["model.language_model.embed_tokens.weight"].clone()
    save_file(state, str(ckpt / "model.safetensors"))
    assert load_model(ckpt).language_model.mtp is not None


# ------------------------------------------------------------------------------------------------------ bad input


def test_folder_that_is_not_a_checkpoint(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ModelError, match="config.json"):
        load_model(tmp_path)


def test_missing_weights_file(tiny_checkpoint, tmp_path):
    ckpt = _copy(tiny_checkpoint, tmp_path)
    (ckpt / "model.safetensors").unlink()
    with pytest.raises(ModelError, match="model.safetensors"):
        load_model(ckpt)


def test_missing_shard(tmp_path):
    ckpt = write_checkpoint(random_model(tiny_config()), tmp_path / "s", shards=2)
    (ckpt / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(ModelError, match="00002-of-00002"):
        load_model(ckpt)


def test_wrong_model_type(tiny_checkpoint, tmp_path):
    ckpt = _copy(tiny_checkpoint, tmp_path)
    data = json.loads((ckpt / "config.json").read_text())
    data["model_type"] = "qwen2_vl"
    (ckpt / "config.json").write_text(json.dumps(data))
    with pytest.raises(ModelError, match="qwen2_vl"):
        load_model(ckpt)


def test_corrupt_safetensors(tiny_checkpoint, tmp_path):
    ckpt = _copy(tiny_checkpoint, tmp_path)
    (ckpt / "model.safetensors").write_bytes(b"\x00garbage that is not a safetensors header" * 10)
    with pytest.raises(ModelError, match="model.safetensors") as info:
        load_model(ckpt)
    assert "corrupt or truncated" in str(info.value)


def test_truncated_safetensors(tiny_checkpoint, tmp_path):
    ckpt = _copy(tiny_checkpoint, tmp_path)
    path = ckpt / "model.safetensors"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match="corrupt or truncated"):
        load_model(ckpt)


def test_broken_config_json(tiny_checkpoint, tmp_path):
    ckpt = _copy(tiny_checkpoint, tmp_path)
    (ckpt / "config.json").write_text("{ not json")
    with pytest.raises(ModelError, match="cannot read JSON"):
        load_model(ckpt)


def test_shape_mismatch_names_the_tensor(tiny_checkpoint, tmp_path):
    ckpt = _copy(tiny_checkpoint, tmp_path)
    data = json.loads((ckpt / "config.json").read_text())
    data["text_config"]["intermediate_size"] = 96
    (ckpt / "config.json").write_text(json.dumps(data))
    with pytest.raises(ModelError, match=r"mlp\.gate_up_proj\.weight has shape"):
        load_model(ckpt)


def test_missing_and_unexpected_tensors_are_named(tiny_checkpoint, tmp_path):
    ckpt = _copy(tiny_checkpoint, tmp_path)
    state = load_file(str(ckpt / "model.safetensors"))
    del state["model.visual.post_layernorm.weight"]
    state["model.visual.extra.weight"] = torch.zeros(2)
    save_file(state, str(ckpt / "model.safetensors"))
    with pytest.raises(ModelError) as info:
        load_model(ckpt)
    assert "model.visual.post_layernorm.weight" in str(info.value)
    assert "model.visual.extra.weight" in str(info.value)


def test_fewer_layers_in_config_than_weights(tiny_checkpoint, tmp_path):
    ckpt = _copy(tiny_checkpoint, tmp_path)
    data = json.loads((ckpt / "config.json").read_text())
    data["vision_config"]["depth"] = 1
    (ckpt / "config.json").write_text(json.dumps(data))
    with pytest.raises(ModelError, match="unexpected tensors: model.visual.blocks.1"):
        load_model(ckpt)


# ------------------------------------------------------------------------------------------ converted-weight cache


def _state(model):
    return {name: tensor.clone() for name, tensor in model.state_dict().items()}


def test_weight_cache_maps_identical_weights_on_the_second_load(tiny_checkpoint, tmp_path):
    reference = _state(load_model(tiny_checkpoint))
    first = load_model(tiny_checkpoint, cache_dir=tmp_path / "cache")
    assert not hasattr(first, "weight_source")  # converted from the checkpoint, then cached
    assert len(list((tmp_path / "cache").glob("*.safetensors"))) == 1
    second = load_model(tiny_checkpoint, cache_dir=tmp_path / "cache")
    assert hasattr(second, "weight_source")  # parameters are views of the mapped cache file
    for name, tensor in second.state_dict().items():
        assert tensor.dtype == reference[name].dtype and torch.equal(tensor, reference[name]), name


def test_weight_cache_is_not_used_without_conversion(tiny_checkpoint, tmp_path):
    load_model(tiny_checkpoint, dtype=torch.bfloat16, cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


def test_changed_checkpoint_gets_a_new_cache(tiny_checkpoint, tmp_path):
    import os

    ckpt = _copy(tiny_checkpoint, tmp_path)
    load_model(ckpt, cache_dir=tmp_path / "cache")
    weights = ckpt / "model.safetensors"
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 10**9))
    again = load_model(ckpt, cache_dir=tmp_path / "cache")
    assert not hasattr(again, "weight_source")  # the old cache did not match: converted afresh
    assert len(list((tmp_path / "cache").glob("*.safetensors"))) == 2


def test_broken_cache_is_rebuilt(tiny_checkpoint, tmp_path):
    load_model(tiny_checkpoint, cache_dir=tmp_path / "cache")
    cached = next((tmp_path / "cache").glob("*.safetensors"))
    cached.write_bytes(cached.read_bytes()[:1000])
    model = load_model(tiny_checkpoint, cache_dir=tmp_path / "cache")
    assert not hasattr(model, "weight_source") and cached.stat().st_size > 1000


def test_full_disk_means_no_cache_and_no_leftovers(tiny_checkpoint, tmp_path, monkeypatch):
    import errno

    from glmocr_core.checkpoint import weight_cache

    def full_disk(state, path, metadata=None):
        open(path, "wb").write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(weight_cache, "save_file", full_disk)
    model = load_model(tiny_checkpoint, cache_dir=tmp_path / "cache")
    assert model.lm_head.weight.dtype == torch.float32
    assert list((tmp_path / "cache").iterdir()) == []


def _overwrite_keeping_mtime(path, offset_from_end=4096):
    stat = path.stat()
    with open(path, "r+b") as handle:
        handle.seek(stat.st_size - offset_from_end)
        handle.write(b"\x7f" * 1024)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # what a careless copy tool or an attacker does


def test_a_cache_changed_behind_our_back_is_rebuilt_not_used(tiny_checkpoint, tmp_path, caplog):
    cache = tmp_path / "cache"
    first = load_model(tiny_checkpoint, cache_dir=cache)
    (path,) = cache.glob("*.safetensors")
    reference = {name: t.clone() for name, t in first.state_dict().items()}
    del first
    _overwrite_keeping_mtime(path)
    with caplog.at_level("WARNING"):
        second = load_model(tiny_checkpoint, cache_dir=cache)
    assert "changed after it was written" in caplog.text
    for name, tensor in second.state_dict().items():
        assert torch.equal(tensor, reference[name]), name
    assert load_model(tiny_checkpoint, cache_dir=cache).weight_source.path == path  # the rebuilt cache is trusted


def test_an_untouched_cache_is_trusted_without_reading_it(tiny_checkpoint, tmp_path, monkeypatch):
    from glmocr_core.checkpoint import weight_cache

    cache = tmp_path / "cache"
    load_model(tiny_checkpoint, cache_dir=cache)
    monkeypatch.setattr(weight_cache, "file_crc", lambda path: pytest.fail("an untouched cache was read in full"))
    assert hasattr(load_model(tiny_checkpoint, cache_dir=cache), "weight_source")
