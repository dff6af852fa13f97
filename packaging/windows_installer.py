"""Windows installer: compile windows/glmocr-studio.iss with Inno Setup's ISCC against the PyInstaller folder.

The folder holds the windowed ``glmocr-studio.exe`` and its console twin ``glmocr-studio.com``, which the spec
makes with ``place_console_twin`` (see ``metadata.WINDOWS_CONSOLE_NAME``); both carry a version resource made here
from pyproject.toml's version (``version_resource``). With a certificate in the environment (signing.py) both are
signed before Inno Setup packs them, and Inno Setup signs the setup and its uninstaller.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import metadata
import signing

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


def iscc_command(iscc: str, bundle: Path, out_dir: Path, version: str, sign_tool: str | None = None) -> list[str]:
    """``sign_tool``: the signtool command line Inno Setup runs on the setup and uninstaller ($f: the file)."""
    icon = metadata.ICON_PNG.with_suffix(".ico")
    numeric = ".".join(map(str, version_numbers(version)))
    command = [iscc, "/Qp", f"/DAppVersion={version}", f"/DAppNumericVersion={numeric}", f"/DSourceDir={bundle}",
               f"/DIconFile={icon}", f"/DOutputDir={out_dir}"]
    if sign_tool:
        command += ["/DSign", f"/Sglmocr={sign_tool}"]
    return command + [str(ISS_FILE)]


def bundle_executables(bundle: Path) -> list[Path]:
    return [bundle / f"{metadata.GUI_NAME}.exe", bundle / metadata.WINDOWS_CONSOLE_NAME]


def build(bundle: Path, out_dir: Path, version: str) -> list[Path]:
    iscc = find_iscc()
    if iscc is None:
        raise SystemExit("Inno Setup 6 not found: install it (choco install innosetup) or set ISCC to ISCC.exe")
    signer = signing.windows_signer()
    sign_tool = None
    if signer:
        signtool = signing.find_signtool()
        print(f"signing {', '.join(p.name for p in bundle_executables(bundle))} with {signer.pfx.name}", flush=True)
        subprocess.run(signer.command(signtool, bundle_executables(bundle)), check=True)
        sign_tool = signer.inno_sign_tool(signtool)
    else:
        print(f"unsigned: set {signing.WINDOWS_PFX_ENV} and {signing.WINDOWS_PASSWORD_ENV} to sign", flush=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(iscc_command(iscc, bundle, out_dir, version, sign_tool), check=True)
    return [out_dir / f"GLM-OCR_Studio-{version}-windows-x64-setup.exe"]


# ------------------------------------------------------------------------------------------- version resource

# PyInstaller's version-file format: a VSVersionInfo expression, evaluated with its versioninfo classes.
VERSION_RESOURCE = """VSVersionInfo(
  ffi=FixedFileInfo(filevers={numbers}, prodvers={numbers}, mask=0x3f, flags=0x0, OS=0x40004, fileType=0x1,
                    subtype=0x0, date=(0, 0)),
  kids=[
    StringFileInfo([StringTable('040904B0', [{strings}])]),
    VarFileInfo([VarStruct('Translation', [1033, 1200])]),
  ]
)
"""


def version_numbers(version: str) -> tuple[int, int, int, int]:
    """``0.1.0`` -> (0, 1, 0, 0); ``1.2.0rc1`` -> (1, 2, 0, 0): the resource holds four 16-bit numbers."""
    release = re.match(r"\d+(\.\d+)*", version)
    if not release:
        raise ValueError(f"version {version!r} does not start with a number")
    numbers = [int(part) for part in release.group(0).split(".")][:4]
    return tuple(numbers + [0] * (4 - len(numbers)))


def version_strings(version: str, executable: str) -> dict[str, str]:
    """What Explorer's Details tab, Task Manager and SmartScreen show for ``executable``."""
    return {"CompanyName": metadata.PUBLISHER, "FileDescription": metadata.DISPLAY_NAME, "FileVersion": version,
            "InternalName": metadata.GUI_NAME, "LegalCopyright": f"{metadata.PUBLISHER}, {metadata.project_license()}"
            " licence", "OriginalFilename": executable, "ProductName": metadata.DISPLAY_NAME, "ProductVersion": version}


def version_resource(version: str, executable: str) -> str:
    strings = ", ".join(f"StringStruct({key!r}, {value!r})"
                        for key, value in version_strings(version, executable).items())
    return VERSION_RESOURCE.format(numbers=version_numbers(version), strings=strings)
