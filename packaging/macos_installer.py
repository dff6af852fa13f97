"""macOS disk image: the .app next to a link to /Applications, compressed with hdiutil (UDZO)."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from pathlib import Path

import metadata


def app_bundle(dist_dir: Path) -> Path:
    return dist_dir / f"{metadata.DISPLAY_NAME}.app"


def stage_dmg_folder(app: Path, staging: Path) -> None:
    """What the user sees when the image opens: the app and where to drag it."""
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    subprocess.run(["ditto", str(app), str(staging / app.name)], check=True)  # keeps symlinks, xattrs, signatures
    os.symlink("/Applications", staging / "Applications")


def build(dist_dir: Path, out_dir: Path, version: str) -> list[Path]:
    app = app_bundle(dist_dir)
    if not app.is_dir():
        raise SystemExit(f"{app} is missing: the PyInstaller step makes it on macOS only")
    staging = metadata.BUILD_DIR / "dmg"
    stage_dmg_folder(app, staging)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"GLM-OCR_Studio-{version}-macos-{platform.machine()}.dmg"
    subprocess.run(["hdiutil", "create", "-volname", metadata.DISPLAY_NAME, "-srcfolder", str(staging),
                    "-fs", "HFS+", "-format", "UDZO", "-ov", str(target)], check=True)
    shutil.rmtree(staging)
    return [target]
