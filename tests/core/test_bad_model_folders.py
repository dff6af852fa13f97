"""Numbers in a model folder that would divide by zero or exhaust memory are refused by the folder check with a
message naming the key; the loader refuses them the same way, never with a traceback."""

import json
import shutil

import pytest

from glmocr_core.checkpoint.check import check_model_dir, require_model_dir
from glmocr_core.cli import main
from glmocr_core.errors import ModelError
from glmocr_core.model.config import MAX_MODEL_PIXELS, load_model_config, load_preprocessor_config


def _edited(tiny_checkpoint, tmp_path, file, edit):
    folder = tmp_path / "model"
    shutil.copytree(tiny_checkpoint, folder)
    data = json.loads((folder / file).read_text())
    edit(data)
    (folder / file).write_text(json.dumps(data))
    return folder


CONFIG_CASES = {
    "kv-heads-0": (lambda d: d["text_config"].update(num_key_value_heads=0), "num_key_value_heads"),
    "heads-0": (lambda d: d["text_config"].update(num_attention_heads=0), "num_attention_heads"),
    "vision-patch-0": (lambda d: d["vision_config"].update(patch_size=0), "patch_size"),
    "mrope-floats": (lambda d: d["text_config"]["rope_parameters"].update(mrope_section=[4.5, 6, 6]), "mrope_section"),
}


@pytest.mark.parametrize("case", sorted(CONFIG_CASES))
def test_config_sizes_that_cannot_work_are_named(tiny_checkpoint, tmp_path, case):
    edit, key = CONFIG_CASES[case]
    folder = _edited(tiny_checkpoint, tmp_path, "config.json", edit)
    problems = check_model_dir(folder)
    assert any(p.file == "config.json" and key in p.message for p in problems), problems
    with pytest.raises(ModelError, match=key):
        load_model_config(folder)


PREPROCESSOR_CASES = {
    "patch-0": (lambda d: d.update(patch_size=0), "patch_size"),
    "merge-0": (lambda d: d.update(merge_size=0), "merge_size"),
    "huge-shortest-edge": (lambda d: d["size"].update(shortest_edge=10**11), "shortest_edge"),
    "huge-longest-edge": (lambda d: d["size"].update(longest_edge=MAX_MODEL_PIXELS + 1), "longest_edge"),
    "zero-std": (lambda d: d.update(image_std=[0.5, 0, 0.5]), "image_std"),
}


@pytest.mark.parametrize("case", sorted(PREPROCESSOR_CASES))
def test_preprocessor_values_that_cannot_work_are_named(tiny_checkpoint, tmp_path, case, capsys):
    edit, key = PREPROCESSOR_CASES[case]
    folder = _edited(tiny_checkpoint, tmp_path, "preprocessor_config.json", edit)
    problems = check_model_dir(folder)
    assert any(p.file == "preprocessor_config.json" and key in p.message for p in problems), problems
    with pytest.raises(ModelError, match=key):
        load_preprocessor_config(folder)
    assert main(["info", "--model", str(folder)]) == 0  # info reports the problem instead of crashing
    assert key in capsys.readouterr().out


def test_generation_config_is_optional(tiny_checkpoint, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(tiny_checkpoint, folder)
    (folder / "generation_config.json").unlink()
    assert check_model_dir(folder) == [] and require_model_dir(folder) == folder


@pytest.mark.parametrize("target", ["../outside.safetensors", "/etc/passwd", "sub/model.safetensors"])
def test_a_shard_index_may_not_point_outside_the_folder(tmp_path, target):
    from glmocr_core.checkpoint.loading import tensor_locations
    from glmocr_core.testing.checkpoints import build_tiny_checkpoint

    folder = build_tiny_checkpoint(tmp_path / "sharded", shards=2)
    index = folder / "model.safetensors.index.json"
    data = json.loads(index.read_text())
    first = next(iter(data["weight_map"]))
    data["weight_map"][first] = target
    index.write_text(json.dumps(data))
    problems = check_model_dir(folder)
    assert any("outside the model folder" in p.message for p in problems), problems
    with pytest.raises(ModelError, match="outside the model folder"):
        tensor_locations(folder)


def test_weights_larger_than_the_machine_are_refused_before_allocating(tiny_checkpoint, monkeypatch):
    from glmocr_core.checkpoint import loading

    monkeypatch.setattr(loading, "physical_memory_bytes", lambda: 1024 * 1024)  # a machine with 1 MiB
    with pytest.raises(ModelError, match="GiB of memory"):
        loading.load_model(tiny_checkpoint)
