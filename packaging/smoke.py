"""Smoke tests of a frozen bundle: the GUI shows its main window offscreen, the CLI recognizes an image.

``python packaging/smoke.py [BUNDLE_DIR]`` (default: the folder build.py made for this OS). Both runs use a fresh
home/config/data folder, so they never read or write the developer's settings, sessions or model.
The CLI run uses a tiny random checkpoint made by ``glmocr_core.testing`` with the build's own Python: it proves
that torch, safetensors, tokenizers, jinja2 and Pillow all work inside the bundle without the 2.2 GB model.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import metadata  # noqa: E402

GUI_TIMEOUT_S = 180  # the first start of a cold bundle reads ~1 GB from disk
CLI_TIMEOUT_S = 300


def executable(bundle: Path, name: str) -> Path:
    return bundle / (name + ".exe" if sys.platform == "win32" else name)


def default_bundle() -> Path:
    if sys.platform == "darwin":
        return metadata.DIST_DIR / f"{metadata.DISPLAY_NAME}.app" / "Contents" / "MacOS"
    return metadata.DIST_DIR / metadata.GUI_NAME


def isolated_env(home: Path) -> dict[str, str]:
    """A throw-away user profile, the offscreen Qt platform, and no Chromium sandbox (CI runs as root or in
    containers without user namespaces, where the sandbox cannot start)."""
    env = dict(os.environ, HOME=str(home), USERPROFILE=str(home), APPDATA=str(home / "AppData" / "Roaming"),
               LOCALAPPDATA=str(home / "AppData" / "Local"), XDG_CONFIG_HOME=str(home / ".config"),
               XDG_DATA_HOME=str(home / ".local/share"), XDG_CACHE_HOME=str(home / ".cache"),
               XDG_STATE_HOME=str(home / ".local/state"), QT_QPA_PLATFORM="offscreen",
               QTWEBENGINE_DISABLE_SANDBOX="1", GLMOCR_STUDIO_SELF_TEST_TIMEOUT_S="120")
    home.mkdir(parents=True, exist_ok=True)
    for name in ("PYTHONPATH", "PYTHONHOME", "GLMOCR_RESOURCES_DIR", "GLMOCR_MODEL_DIR"):
        env.pop(name, None)  # the bundle must find everything in itself
    return env


def run(command: list[str], env: dict, timeout_s: float) -> subprocess.CompletedProcess:
    print("$ " + " ".join(command), flush=True)
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout_s)
    print(done.stdout[-4000:] + done.stderr[-4000:], flush=True)
    return done


def gui_self_test(bundle: Path, home: Path) -> bool:
    """Judged by the report file: a windowed Windows executable has no stdout to read."""
    env = isolated_env(home)
    report = home / "self-test.txt"
    env["GLMOCR_STUDIO_SELF_TEST_REPORT"] = str(report)
    done = run([str(executable(bundle, metadata.GUI_NAME)), "--self-test"], env, GUI_TIMEOUT_S)
    lines = report.read_text(encoding="utf-8").splitlines() if report.is_file() else []
    if lines and lines[-1] not in done.stdout:  # a windowed Windows executable printed nothing
        print("\n".join(lines))
    return done.returncode == 0 and "self-test: passed" in lines


def make_cli_inputs(folder: Path) -> tuple[Path, Path]:
    """A tiny checkpoint and a small image, made with this (unfrozen) Python."""
    from PIL import Image, ImageDraw

    from glmocr_core.testing.checkpoints import build_tiny_checkpoint

    model = build_tiny_checkpoint(folder / "tiny-model")
    image_path = folder / "page.png"
    image = Image.new("RGB", (224, 112), "white")
    ImageDraw.Draw(image).text((10, 40), "x = 1 + 2", fill="black")
    image.save(image_path)
    return model, image_path


def cli_test(bundle: Path, home: Path) -> bool:
    cli = str(executable(bundle, metadata.CLI_NAME))
    env = isolated_env(home)
    version = run([cli, "--version"], env, 60)
    if version.returncode != 0 or metadata.project_version() not in version.stdout:
        return False
    model, image = make_cli_inputs(home)
    done = run([cli, "ocr", str(image), "--model", str(model), "--device", "cpu", "--max-new-tokens", "8", "--json"],
               env, CLI_TIMEOUT_S)
    if done.returncode != 0:
        return False
    record = json.loads(done.stdout.strip().splitlines()[-1])
    return record["source"] == str(image) and len(record["token_ids"]) > 0


def main(argv: list[str]) -> int:
    bundle = Path(argv[0]) if argv else default_bundle()
    results = {}
    with tempfile.TemporaryDirectory(prefix="glmocr-smoke-") as tmp:
        results["gui"] = gui_self_test(bundle, Path(tmp) / "gui-home")
        results["cli"] = cli_test(bundle, Path(tmp) / "cli-home")
    for name, passed in results.items():
        print(f"smoke {name}: {'passed' if passed else 'FAILED'}")
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    sys.path.insert(0, str(metadata.REPO_ROOT))  # glmocr_core for the tiny checkpoint
    sys.exit(main(sys.argv[1:]))
