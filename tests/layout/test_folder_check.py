"""The layout-model folder check (glmocr_core.layout.folder): a complete folder passes, and each way a folder can be
wrong (missing, empty, the GLM-OCR model instead, weights missing, config and weights of different models, a file
changed after download) gets its own clear problem, from headers and JSON only."""

from __future__ import annotations

import json
import shutil

import pytest

from glmocr_core.checkpoint.layout import VERIFIED_MARKER, WEIGHTS_FILE
from glmocr_core.errors import ModelError
from glmocr_core.layout.folder import check_layout_dir, layout_folder_state, require_layout_dir


@pytest.fixture
def layout_copy(tiny_layout_checkpoint, tmp_path):
    return shutil.copytree(tiny_layout_checkpoint, tmp_path / "layout")


def test_a_complete_folder_is_ready(tiny_layout_checkpoint):
    assert check_layout_dir(tiny_layout_checkpoint) == []
    assert layout_folder_state(tiny_layout_checkpoint) == ("ready", [])
    assert require_layout_dir(tiny_layout_checkpoint) == tiny_layout_checkpoint


def test_missing_and_empty_folders(tmp_path):
    assert layout_folder_state(tmp_path / "nowhere") == ("missing", [])
    assert layout_folder_state(tmp_path) == ("missing", [])
    assert "does not exist" in str(check_layout_dir(tmp_path / "nowhere")[0])


def test_the_glm_ocr_model_is_named_as_what_it_is(tiny_checkpoint):
    problems = check_layout_dir(tiny_checkpoint)
    assert any("GLM-OCR recognition model" in str(p) and "PP-DocLayoutV3" in str(p) for p in problems)
    with pytest.raises(ModelError, match="not a usable layout model"):
        require_layout_dir(tiny_checkpoint)


def test_missing_weights(layout_copy):
    (layout_copy / WEIGHTS_FILE).unlink()
    assert [p.file for p in check_layout_dir(layout_copy)] == [WEIGHTS_FILE]
    assert layout_folder_state(layout_copy)[0] == "problems"


def test_a_config_of_another_size(layout_copy):
    config = json.loads((layout_copy / "config.json").read_text())
    config["decoder_layers"] += 1
    config["d_model"] *= 2
    config["decoder_in_channels"] = [config["d_model"]] * 3
    (layout_copy / "config.json").write_text(json.dumps(config))
    messages = " ".join(str(p) for p in check_layout_dir(layout_copy))
    assert "class head has shape" in messages and "decoder layers" in messages


def test_a_broken_config_and_preprocessor(layout_copy):
    (layout_copy / "preprocessor_config.json").write_text(json.dumps({"resample": 0}))
    (layout_copy / "config.json").write_text("{not json")
    files = sorted(p.file for p in check_layout_dir(layout_copy))
    assert files == ["config.json", "preprocessor_config.json"]


def test_a_file_changed_after_its_verified_download(layout_copy):
    size = (layout_copy / WEIGHTS_FILE).stat().st_size
    marker = {"repo_id": "x", "commit": "y", "complete": True, "files": {WEIGHTS_FILE: {"size": size + 1}}}
    (layout_copy / VERIFIED_MARKER).write_text(json.dumps(marker))
    assert "changed after download" in str(check_layout_dir(layout_copy)[0])
