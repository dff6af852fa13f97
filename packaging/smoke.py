"""Smoke tests of a frozen bundle: the layout is right, the window shows offscreen, ``glmocr-studio ocr`` works.

``python packaging/smoke.py [--qt-platform offscreen|xcb|wayland] [BUNDLE_DIR]`` (default: offscreen, and the
folder build.py made for this OS; an installed copy is checked by naming its folder, /opt/glmocr-studio). Every run
uses a fresh home/config/data folder, so they never read or write the developer's settings, sessions or model.
``--qt-platform xcb`` starts the window on the X display in ``$DISPLAY`` (``xvfb-run``), as a user's desktop does:
that is what proves the system libraries the .deb depends on are enough for Qt's xcb plugin and QtWebEngine.
The Chromium sandbox stays on unless the caller switches it off (``QTWEBENGINE_DISABLE_SANDBOX=1``); the app itself
switches it off when it runs as root, where Chromium refuses to start with it.

The command-line run is what a terminal starts for ``glmocr-studio`` (the one executable; ``glmocr-studio.com`` on
Windows) with no display at all, so it also proves that ``ocr``/``info`` never start Qt. It recognizes a region of an
image with a tiny random checkpoint made by ``glmocr_core.testing`` with the build's own Python: torch,
safetensors, tokenizers, jinja2 and Pillow all work inside the bundle without the 2.2 GB model.
"""

from __future__ import annotations

import argparse
import json
import os
import plistlib
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import metadata  # noqa: E402

GUI_TIMEOUT_S = 180  # the first start of a cold bundle reads ~1 GB from disk
CLI_TIMEOUT_S = 300


QT_PLATFORMS = ("offscreen", "xcb", "wayland")
REGION = (4, 28, 200, 84)  # a box on the smoke image, in its pixels: `ocr --region` crops and decodes only that
# Names an earlier layout shipped: the old CLI, which shadowed the official SDK's `glmocr` command.
RETIRED_NAMES = ("glmocr", "glmocr.exe")


def executable(bundle: Path, name: str, platform: str = sys.platform) -> Path:
    return bundle / (name + ".exe" if platform == "win32" else name)


def command_line_executable(bundle: Path, platform: str = sys.platform) -> Path:
    """What typing ``glmocr-studio`` in a terminal runs: the console twin on Windows, the one executable elsewhere."""
    if platform == "win32":
        return bundle / metadata.WINDOWS_CONSOLE_NAME
    return bundle / metadata.GUI_NAME


def layout_problems(bundle: Path, platform: str = sys.platform) -> list[str]:
    """One ``glmocr-studio`` command per bundle: the executable (and on Windows its console twin, renamed from the
    console build), no retired ``glmocr``; on macOS an Info.plist that starts it in the foreground."""
    problems = [f"{path.name} is missing" for path in {executable(bundle, metadata.GUI_NAME, platform),
                                                       command_line_executable(bundle, platform)}
                if not path.is_file()]
    strays = list(RETIRED_NAMES) + [f"{metadata.CONSOLE_BUILD_NAME}.exe"]
    if platform != "win32":
        strays.append(metadata.WINDOWS_CONSOLE_NAME)
    problems += [f"{name} should not ship" for name in strays if (bundle / name).exists()]
    if platform == "darwin":
        problems += macos_plist_problems(bundle.parent / "Info.plist")
    return sorted(problems)


def macos_plist_problems(plist: Path) -> list[str]:
    """PyInstaller's BUNDLE writes CFBundleExecutable and LSBackgroundOnly from the executables it was given."""
    if not plist.is_file():
        return [f"{plist} is missing"]
    with open(plist, "rb") as handle:
        info = plistlib.load(handle)
    problems = []
    if info.get("CFBundleExecutable") != metadata.GUI_NAME:
        problems.append(f"CFBundleExecutable is {info.get('CFBundleExecutable')!r}, not {metadata.GUI_NAME!r}")
    if info.get("LSBackgroundOnly"):
        problems.append("LSBackgroundOnly is set: the app would have no Dock icon or menu bar")
    return problems


def default_bundle() -> Path:
    if sys.platform == "darwin":
        return metadata.DIST_DIR / f"{metadata.DISPLAY_NAME}.app" / "Contents" / "MacOS"
    return metadata.DIST_DIR / metadata.GUI_NAME


def isolated_env(home: Path, qt_platform: str = "offscreen") -> dict[str, str]:
    """A throw-away user profile and the Qt platform to show the window on. The Chromium sandbox is left as the
    caller has it: on, unless QTWEBENGINE_DISABLE_SANDBOX is set (or the app runs as root, see app/webengine_env)."""
    env = dict(os.environ, HOME=str(home), USERPROFILE=str(home), APPDATA=str(home / "AppData" / "Roaming"),
               LOCALAPPDATA=str(home / "AppData" / "Local"), XDG_CONFIG_HOME=str(home / ".config"),
               XDG_DATA_HOME=str(home / ".local/share"), XDG_CACHE_HOME=str(home / ".cache"),
               XDG_STATE_HOME=str(home / ".local/state"), QT_QPA_PLATFORM=qt_platform,
               GLMOCR_STUDIO_SELF_TEST_TIMEOUT_S="120")
    home.mkdir(parents=True, exist_ok=True)
    for name in ("PYTHONPATH", "PYTHONHOME", "GLMOCR_RESOURCES_DIR", "GLMOCR_MODEL_DIR"):
        env.pop(name, None)  # the bundle must find everything in itself
    return env


def headless_env(home: Path) -> dict[str, str]:
    """No display and no Qt platform: on Linux a command-line call that started Qt would abort here."""
    env = isolated_env(home)
    for name in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY"):
        env.pop(name, None)
    return env


def run(command: list[str], env: dict, timeout_s: float) -> subprocess.CompletedProcess:
    print("$ " + " ".join(command), flush=True)
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout_s)
    print(done.stdout[-4000:] + done.stderr[-4000:], flush=True)
    return done


def gui_self_test(bundle: Path, home: Path, qt_platform: str = "offscreen") -> bool:
    """Judged by the report file: a windowed Windows executable has no stdout to read."""
    env = isolated_env(home, qt_platform)
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
    """``glmocr-studio --version`` and ``glmocr-studio ocr ... --json`` as a terminal runs them, without a display."""
    cli = str(command_line_executable(bundle))
    env = headless_env(home)
    version = run([cli, "--version"], env, 60)
    if version.returncode != 0 or f"{metadata.GUI_NAME} {metadata.project_version()}" not in version.stdout:
        return False
    windowed = executable(bundle, metadata.GUI_NAME)
    if str(windowed) != cli and run([str(windowed), "--version"], env, 60).returncode != 0:
        return False  # Windows: the windowed .exe must also take a command-line call without a console
    model, image = make_cli_inputs(home)
    done = run([cli, "ocr", str(image), "--model", str(model), "--device", "cpu", "--max-new-tokens", "8", "--json",
                "--region", ",".join(map(str, REGION))], env, CLI_TIMEOUT_S)
    if done.returncode != 0:
        return False
    return recognized_region(done.stdout, image)


def recognized_region(stdout: str, image: Path) -> bool:
    """The last JSON line is the region's result: the image, the box asked for, and tokens decoded from it."""
    lines = stdout.strip().splitlines()
    if not lines:
        return False
    record = json.loads(lines[-1])
    return (record.get("source") == str(image) and record.get("region") == [float(v) for v in REGION]
            and len(record.get("token_ids", ())) > 0)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--qt-platform", choices=QT_PLATFORMS, default="offscreen",
                        help="where the window's self-test shows it (xcb: the X display in $DISPLAY)")
    parser.add_argument("--make-inputs", type=Path, metavar="DIR",
                        help="only write the tiny checkpoint and the image to DIR, for installed-smoke.sh in a clean"
                             " system that has no Python of its own")
    parser.add_argument("bundle", nargs="?", type=Path, help="the bundle folder (default: the one build.py made)")
    return parser.parse_args(argv)


def write_inputs(folder: Path) -> int:
    model, image = make_cli_inputs(folder)
    (folder / "region.txt").write_text(",".join(map(str, REGION)) + "\n", encoding="utf-8")
    print(f"inputs: {model}, {image}, region {REGION}")
    return 0


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.make_inputs:
        return write_inputs(args.make_inputs)
    bundle = args.bundle or default_bundle()
    problems = layout_problems(bundle)
    for problem in problems:
        print(f"layout: {problem}")
    results = {"layout": not problems}
    with tempfile.TemporaryDirectory(prefix="glmocr-smoke-") as tmp:
        results["gui"] = gui_self_test(bundle, Path(tmp) / "gui-home", args.qt_platform)
        results["cli"] = cli_test(bundle, Path(tmp) / "cli-home")
    for name, passed in results.items():
        print(f"smoke {name}: {'passed' if passed else 'FAILED'}")
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    sys.path.insert(0, str(metadata.REPO_ROOT))  # glmocr_core for the tiny checkpoint
    sys.exit(main(sys.argv[1:]))
