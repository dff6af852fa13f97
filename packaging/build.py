"""Build the GLM-OCR Studio installer for this OS, in one command.

    python packaging/build.py [--target auto|linux|windows|macos] [--skip-installer] [--skip-smoke]

Steps: KaTeX into resources/web/katex (``python -m app.resources_setup``), the icon (make_icon.py), the PyInstaller
folder (glmocr_studio.spec: the one ``glmocr-studio`` executable, plus its console twin ``glmocr-studio.com`` on
Windows), a smoke test of the frozen window and of ``glmocr-studio ocr`` (smoke.py), then the installer:
Linux .deb (+ AppImage when appimagetool is available), Windows Inno Setup .exe, macOS .dmg.
Everything lands in packaging/dist/ (git-ignored); intermediate files in packaging/build/.
PyInstaller cannot cross-compile, so --target must match the OS it runs on.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import metadata  # noqa: E402

TARGET_OF_PLATFORM = {"linux": "linux", "win32": "windows", "darwin": "macos"}
SPEC = metadata.PACKAGING_DIR / "glmocr_studio.spec"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", choices=("auto", "linux", "windows", "macos"), default="auto")
    parser.add_argument("--skip-installer", action="store_true", help="stop after the PyInstaller folder")
    parser.add_argument("--skip-smoke", action="store_true", help="do not start the frozen app")
    parser.add_argument("--deb-compression", choices=("xz", "zstd", "gzip"), default="xz",
                        help="xz: smallest, installs everywhere; zstd: much faster to build (dpkg >= 1.21.18)")
    return parser.parse_args(argv)


def resolve_target(requested: str) -> str:
    here = TARGET_OF_PLATFORM.get(sys.platform)
    if here is None:
        raise SystemExit(f"unsupported build platform {sys.platform!r}")
    if requested not in ("auto", here):
        raise SystemExit(f"cannot build a {requested} installer on {here}: PyInstaller builds for the OS it runs on")
    return here


def step(title: str, command: list[str]) -> None:
    print(f"\n=== {title}\n$ {' '.join(command)}", flush=True)
    subprocess.run(command, check=True, cwd=metadata.REPO_ROOT)


def prepare_resources() -> None:
    step("KaTeX", [sys.executable, "-m", "app.resources_setup"])
    katex = metadata.REPO_ROOT / "resources" / "web" / "katex" / "katex.min.js"
    if not katex.is_file():  # resources_setup only warns; an installer without KaTeX shows raw LaTeX
        raise SystemExit(f"{katex} is missing: install Node.js (npm) and rerun")
    step("icon", [sys.executable, str(metadata.PACKAGING_DIR / "make_icon.py")])


def freeze() -> None:
    step("PyInstaller", [sys.executable, "-m", "PyInstaller", "--noconfirm",
                         "--distpath", str(metadata.DIST_DIR),
                         "--workpath", str(metadata.BUILD_DIR / "pyinstaller"), str(SPEC)])


def bundle_dir(target: str) -> Path:
    if target == "macos":
        return metadata.DIST_DIR / f"{metadata.DISPLAY_NAME}.app"
    return metadata.DIST_DIR / metadata.GUI_NAME


def folder_size_mib(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink()) / 2**20


def build_installers(target: str, version: str, deb_compression: str) -> list[Path]:
    print(f"\n=== installer ({target})", flush=True)
    if target == "linux":
        import linux_installers

        return linux_installers.build(bundle_dir(target), metadata.DIST_DIR, version, deb_compression)
    if target == "windows":
        import windows_installer

        return windows_installer.build(bundle_dir(target), metadata.DIST_DIR, version)
    import macos_installer

    return macos_installer.build(metadata.DIST_DIR, metadata.DIST_DIR, version)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    target = resolve_target(args.target)
    version = metadata.project_version()
    prepare_resources()
    freeze()
    print(f"\nbundle: {bundle_dir(target)} ({folder_size_mib(bundle_dir(target)):.0f} MiB)")
    if not args.skip_smoke:
        step("smoke test", [sys.executable, str(metadata.PACKAGING_DIR / "smoke.py")])
    if args.skip_installer:
        return 0
    for path in build_installers(target, version, args.deb_compression):
        print(f"installer: {path} ({path.stat().st_size / 2**20:.0f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
