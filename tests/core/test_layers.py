"""The core's layers, checked by behaviour: importing a layer loads none of the layers above it, and the modules the
GUI and the command line import early stay free of torch (so the window and ``--help`` start fast)."""

import subprocess
import sys

import pytest

# layer -> the glmocr_core packages it must never load (its own and lower layers are fine)
TOP = ("engine", "convert", "backends", "server", "cli", "testing")
ABOVE = {
    "glmocr_core.model.glm_ocr": ("processing", "runtime", "checkpoint", "tasks", "documents", "layout", *TOP),
    "glmocr_core.processing.preprocess": ("runtime", "checkpoint", "tasks", "documents", "layout", *TOP),
    "glmocr_core.processing.tokenizer": ("runtime", "checkpoint", "tasks", "documents", "layout", *TOP),
    "glmocr_core.checkpoint.loading": ("runtime", "tasks", "documents", "layout", *TOP),
    "glmocr_core.runtime.generate": ("tasks", "documents", "layout", *TOP),
    "glmocr_core.runtime.quantize": ("tasks", "documents", "layout", *TOP),
    "glmocr_core.tasks.parsing": ("documents", "layout", *TOP),
    "glmocr_core.documents.document": ("runtime", "checkpoint", "tasks", "layout", *TOP),
    "glmocr_core.layout.detector": ("processing", "runtime", "tasks", "documents", *TOP),
    "glmocr_core.layout.folder": ("processing", "runtime", "tasks", "documents", *TOP),
    "glmocr_core.engine": ("convert", "backends", "server", "cli", "testing"),
    # the converter drives an engine and a detector it is handed: it never loads the model stack itself
    "glmocr_core.convert.converter": ("engine", "runtime", "checkpoint", "backends", "server", "cli", "testing"),
    # the window formats its own regions with it
    "glmocr_core.convert.markdown": ("documents", "engine", "runtime", "checkpoint", "backends", "server", "cli",
                                     "testing"),
}
# modules that must not pull in torch when imported on their own
TORCH_FREE = ("glmocr_core.api", "glmocr_core.loader", "glmocr_core.errors", "glmocr_core.paths", "glmocr_core.cli",
              "glmocr_core.checkpoint.hub", "glmocr_core.documents.formats",
              "glmocr_core.model.config", "glmocr_core.checkpoint.check", "glmocr_core.checkpoint.download",
              "glmocr_core.checkpoint.layout", "glmocr_core.checkpoint.safetensors", "glmocr_core.runtime.devices",
              "glmocr_core.tasks.specs", "glmocr_core.tasks.parsing", "glmocr_core.documents.pages",
              "glmocr_core.layout.config", "glmocr_core.layout.postprocess", "glmocr_core.layout.folder",
              "glmocr_core.convert.converter", "glmocr_core.convert.markdown", "glmocr_core.convert.loading")


def _loaded_after(module: str) -> set[str]:
    code = f"import sys, {module}; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(out.split())


@pytest.mark.parametrize("module", sorted(ABOVE))
def test_a_layer_never_loads_the_layers_above_it(module):
    loaded = _loaded_after(module)
    above = sorted(m for m in loaded for layer in ABOVE[module]
                   if m == f"glmocr_core.{layer}" or m.startswith(f"glmocr_core.{layer}."))
    assert above == [], f"{module} loads {above}"


@pytest.mark.parametrize("module", TORCH_FREE)
def test_light_modules_do_not_import_torch(module):
    assert "torch" not in _loaded_after(module)


def test_nothing_in_the_core_imports_qt():
    loaded = _loaded_after("glmocr_core.engine, glmocr_core.cli, glmocr_core.documents.document")
    assert not [m for m in loaded if m.startswith(("PySide6", "PyQt"))]
