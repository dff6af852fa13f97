"""backends/ and server/ sit at the top of the core: nothing below loads them, the remote client needs no torch, and
the command line loads neither the HTTP stack nor torch until a command needs it."""

import subprocess
import sys

import pytest

BELOW = ("glmocr_core.api", "glmocr_core.engine", "glmocr_core.tasks.parsing", "glmocr_core.documents.document",
         "glmocr_core.runtime.generate", "glmocr_core.processing.tokenizer")


def _loaded_after(module: str) -> set[str]:
    code = f"import sys, {module}; print('\\n'.join(sorted(sys.modules)))"
    return set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split())


@pytest.mark.parametrize("module", BELOW)
def test_lower_layers_never_load_backends_or_server(module):
    loaded = _loaded_after(module)
    assert not [m for m in loaded if m.startswith(("glmocr_core.backends", "glmocr_core.server"))]


def test_the_remote_client_needs_no_torch_and_no_server():
    loaded = _loaded_after("glmocr_core.backends.remote")
    assert "torch" not in loaded and "httpx" in loaded
    assert not [m for m in loaded if m.startswith(("glmocr_core.server", "glmocr_core.engine", "uvicorn"))]


def test_the_command_line_loads_the_http_stack_only_when_asked():
    loaded = _loaded_after("glmocr_core.cli")
    assert not {"torch", "httpx", "uvicorn", "starlette"} & loaded


def test_the_server_never_imports_qt():
    loaded = _loaded_after("glmocr_core.server.runner, glmocr_core.backends.remote")
    assert not [m for m in loaded if m.startswith(("PySide6", "PyQt"))]
