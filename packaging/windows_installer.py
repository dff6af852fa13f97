"""Windows installer: compile windows/glmocr-studio.iss with Inno Setup's ISCC against the PyInstaller folder.

The folder holds the windowed ``glmocr-studio.exe`` and its console twin ``glmocr-studio.com``, which the spec
makes with ``place_console_twin`` (see ``metadata.WINDOWS_CONSOLE_NAME``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import metadata

ISS_FILE = metadata.PACKAGING_DIR / "windows" / f"{metadata.GUI_NAME}.iss"
# Where the Inno Setup 6 installer (and Chocolatey's innosetup package) puts the compiler.
ISCC_CANDIDATES = [Path(os.environ.get("ProgramFiles(x86)", r"C:\Program Files (x86)")) / "Inno Setup 6" / "ISCC.exe",
                   Path(os.environ.get("ProgramFiles", r"C:\Program Files")) / "Inno Setup 6" / "ISCC.exe"]


def place_console_twin(bundle: Path) -> Path:
    """Rename the console build (``glmocr-studio-console.exe``: PyInstaller always appends .exe) to
    ``glmocr-studio.com`` beside ``glmocr-studio.exe``. Windows starts a PE file by its content, whatever its
    extension, and the bootloader finds ``_internal`` next to itself, so the renamed file runs as built."""
    built = bundle / f"{metadata.CONSOLE_BUILD_NAME}.exe"
    twin = bundle / metadata.WINDOWS_CONSOLE_NAME
    if not built.is_file():
        raise SystemExit(f"{built} is missing: the spec's console EXE did not build")
    built.replace(twin)  # replaces a twin left from an earlier build
    return twin


def find_iscc() -> str | None:
    found = os.environ.get("ISCC") or shutil.which("iscc") or shutil.which("ISCC")
    return found or next((str(p) for p in ISCC_CANDIDATES if p.is_file()), None)


def iscc_command(iscc: str, bundle: Path, out_dir: Path, version: str) -> list[str]:
    icon = metadata.ICON_PNG.with_suffix(".ico")
    return [iscc, "/Qp", f"/DAppVersion={version}", f"/DSourceDir={bundle}", f"/DIconFile={icon}",
            f"/DOutputDir={out_dir}", str(ISS_FILE)]


def build(bundle: Path, out_dir: Path, version: str) -> list[Path]:
    iscc = find_iscc()
    if iscc is None:
        raise SystemExit("Inno Setup 6 not found: install it (choco install innosetup) or set ISCC to ISCC.exe")
    out_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(iscc_command(iscc, bundle, out_dir, version), check=True)
    return [out_dir / f"GLM-OCR_Studio-{version}-windows-x64-setup.exe"]
