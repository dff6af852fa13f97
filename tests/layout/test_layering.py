"""The layout layer's place in the core, checked by behaviour: it loads nothing above it, the layers below never
load it, and its config and post-processing stay free of torch (the GUI may read rules without loading torch)."""

from __future__ import annotations

import subprocess
import sys

import pytest

ABOVE_LAYOUT = ("processing", "runtime", "tasks", "documents", "engine", "convert", "cli", "testing")
NEVER_LOAD_LAYOUT = ("glmocr_core.model.glm_ocr", "glmocr_core.processing.preprocess", "glmocr_core.checkpoint.loading",
                "glmocr_core.runtime.generate")


def _loaded_after(module: str) -> set[str]:
    code = f"import sys, {module}; print('\\n'.join(sorted(sys.modules)))"
    return set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split())


def test_layout_loads_no_layer_above_it():
    loaded = _loaded_after("glmocr_core.layout.detector")
    assert not sorted(m for m in loaded for layer in ABOVE_LAYOUT
                      if m == f"glmocr_core.{layer}" or m.startswith(f"glmocr_core.{layer}."))
    assert not [m for m in loaded if m.split(".")[0] in ("transformers", "torchvision", "cv2", "PySide6")]


@pytest.mark.parametrize("module", NEVER_LOAD_LAYOUT)
def test_lower_layers_never_load_layout(module):
    assert not [m for m in _loaded_after(module) if m.startswith("glmocr_core.layout")]


@pytest.mark.parametrize("module", ["glmocr_core.layout.config", "glmocr_core.layout.postprocess",
                                    "glmocr_core.layout.folder"])
def test_config_and_rules_are_torch_free(module):
    assert "torch" not in _loaded_after(module)
