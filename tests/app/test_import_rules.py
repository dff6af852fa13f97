"""The app's layers, checked by importing each one in a fresh interpreter and looking at what came along.

Lower layers never import higher ones, so there are no import cycles and each layer can be used (and tested) without
the ones above it: the document model without widgets, the engine without the window, the dialogs without the
results. Nothing in the app imports torch: the engine loader does, on the worker thread, when a model loads.
"""

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
APP_LAYERS = ("app.document", "app.engine", "app.results", "app.dialogs", "app.window", "app.main")
EVERY_APP_MODULE = ("app.",)

# (what is imported, with all its submodules) -> prefixes of modules that must not be loaded afterwards
RULES = {
    "app.paths": EVERY_APP_MODULE,
    "app.qt_compat": EVERY_APP_MODULE,
    "app.resources_setup": EVERY_APP_MODULE,
    "app.intake": EVERY_APP_MODULE,
    "app.settings": APP_LAYERS,
    "app.logging_setup": APP_LAYERS,
    "app.webengine_env": APP_LAYERS,
    "app.task_style": APP_LAYERS[1:],
    "app.document": APP_LAYERS[1:] + ("app.settings", "PySide6.QtWidgets", "PySide6.QtGui"),
    "app.engine": ("app.document", "app.results", "app.dialogs", "app.window", "app.main", "PySide6.QtWidgets",
                   "glmocr_core.engine"),
    "app.results": ("app.engine", "app.dialogs", "app.window", "app.main", "app.settings"),
    "app.dialogs": ("app.document", "app.engine", "app.results", "app.window", "app.main"),
    "app.capture": ("app.engine", "app.results", "app.dialogs", "app.window", "app.main", "glmocr_core.engine"),
    "app.window": ("app.main",),
    "app.main": ("torch", "glmocr_core.engine"),
}

PROBE = """
import importlib, json, pkgutil, sys
name = sys.argv[1]
module = importlib.import_module(name)
before = set(sys.modules) - {name}
for info in pkgutil.walk_packages(getattr(module, "__path__", []), name + "."):
    importlib.import_module(info.name)
own = {name} | {m for m in sys.modules if m.startswith(name + ".")}
print(json.dumps(sorted(set(sys.modules) - own)))
"""


def loaded_with(module: str) -> list[str]:
    """Every module loaded by importing ``module`` and all its submodules, except those themselves."""
    done = subprocess.run([sys.executable, "-c", PROBE, module], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={"QT_QPA_PLATFORM": "offscreen", "PATH": "", "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def loaded():
    """What each rule's module (and the whole app) loads; the interpreters run side by side."""
    modules = [*RULES, "app"]
    with ThreadPoolExecutor(max_workers=8) as pool:
        return dict(zip(modules, pool.map(loaded_with, modules)))


@pytest.mark.parametrize("module", RULES)
def test_a_layer_imports_nothing_above_it(loaded, module):
    forbidden = RULES[module]
    offending = [name for name in loaded[module] if name.startswith(forbidden) or name in forbidden]
    assert offending == [], f"importing {module} loads {offending}"


def test_the_whole_app_starts_without_torch(loaded):
    assert not [name for name in loaded["app"] if name == "torch" or name.startswith("torch.")]
