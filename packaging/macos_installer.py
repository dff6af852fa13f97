"""macOS disk image: the .app next to a link to /Applications, compressed with hdiutil (UDZO), signed as asked.

The .app is arm64 only, for macOS 14+ (metadata.MACOS_ARCH, MACOS_MINIMUM_VERSION). PyInstaller has signed it
already: ad-hoc by default, or with the Developer ID named in MACOS_SIGN_IDENTITY, hardened runtime and
entitlements (signing.py). Here the signature is verified, and with a Developer ID the .dmg is signed too and, when
the notarization variables are set, notarized and stapled.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import metadata
import signing


def app_bundle(dist_dir: Path) -> Path:
    return dist_dir / f"{metadata.DISPLAY_NAME}.app"


def dmg_name(version: str) -> str:
    return f"GLM-OCR_Studio-{version}-macos-{metadata.MACOS_ARCH}.dmg"


def stage_dmg_folder(app: Path, staging: Path) -> None:
    """What the user sees when the image opens: the app and where to drag it."""
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    subprocess.run(["ditto", str(app), str(staging / app.name)], check=True)  # keeps symlinks, xattrs, signatures
    os.symlink("/Applications", staging / "Applications")


def sign_and_notarize(dmg: Path) -> None:
    identity = signing.macos_identity()
    if identity == signing.AD_HOC:
        print(f"ad-hoc signed: set {signing.MACOS_IDENTITY_ENV} (and {', '.join(signing.MACOS_NOTARY_ENV)}) for a"
              " Developer ID signature and notarization", flush=True)
        return
    subprocess.run(signing.sign_dmg_command(dmg, identity), check=True)
    credentials = signing.notary_credentials()
    if credentials is None:
        print("signed, not notarized: Gatekeeper will ask the user once", flush=True)
        return
    for command in signing.notarize_commands(dmg, credentials):
        subprocess.run(command, check=True)


def build(dist_dir: Path, out_dir: Path, version: str) -> list[Path]:
    app = app_bundle(dist_dir)
    if not app.is_dir():
        raise SystemExit(f"{app} is missing: the PyInstaller step makes it on macOS only")
    signing.notary_credentials()  # half a notarization setup stops here, before the slow part
    subprocess.run(signing.verify_app_command(app), check=True)
    staging = metadata.BUILD_DIR / "dmg"
    stage_dmg_folder(app, staging)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / dmg_name(version)
    subprocess.run(["hdiutil", "create", "-volname", metadata.DISPLAY_NAME, "-srcfolder", str(staging),
                    "-fs", "HFS+", "-format", "UDZO", "-ov", str(target)], check=True)
    shutil.rmtree(staging)
    sign_and_notarize(target)
    return [target]
