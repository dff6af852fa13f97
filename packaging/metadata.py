"""Names, version and document types shared by every installer build, in one place.

The PyInstaller spec, ``build.py`` and the packaging tests all read this module, so a renamed executable or a new
document type cannot drift between the Linux, macOS and Windows installers. The version is never written here:
it is read from ``pyproject.toml`` each time.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

PACKAGING_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGING_DIR.parent

DISPLAY_NAME = "GLM-OCR Studio"
# The one command, `glmocr-studio`: the executable, the bundle folder, the .desktop file and the icon name. Without a
# subcommand it opens the window; `glmocr-studio ocr|info ...` is the command line (entry_studio.py dispatches, as
# app/launch.py does for a pip install). There is no `glmocr`: that is the official GLM-OCR SDK's command.
GUI_NAME = "glmocr-studio"
# Windows only: a windowed .exe cannot write to the terminal it was started from, so the bundle also carries a
# console build of the same entry, built as CONSOLE_BUILD_NAME (PyInstaller appends .exe) and renamed to
# WINDOWS_CONSOLE_NAME beside glmocr-studio.exe. cmd and PowerShell try PATHEXT's .COM before .EXE, so typing
# `glmocr-studio` there runs the console twin; Explorer, shortcuts and "Open with" run the windowed .exe.
CONSOLE_BUILD_NAME = f"{GUI_NAME}-console"
WINDOWS_CONSOLE_NAME = f"{GUI_NAME}.com"
BUNDLE_ID = "org.glmocr.studio"  # macOS CFBundleIdentifier and the Linux desktop-entry id prefix
PUBLISHER = "GLM-OCR Studio contributors"
SUMMARY = "Local OCR for text, formulas and tables with the GLM-OCR model"

# macOS: the PySide6 6.12 and torch 2.13 arm64 wheels exist for macOS 14 and later only, and torch stopped making
# x86_64 macOS wheels at 2.2.2 (pyproject.toml needs >= 2.4): the app is arm64 only, for macOS 14+.
MACOS_MINIMUM_VERSION = "14.0"
MACOS_ARCH = "arm64"

# torch comes in two builds: "cpu" (the CPU wheel index on Linux and Windows; PyPI's own wheel on macOS) and "cuda"
# (PyPI's Linux wheel or a cu12x index; it adds the nvidia-* wheels, several GB). build.py checks which one is
# installed and tells the spec through this variable.
TORCH_VARIANT_ENV = "GLMOCR_TORCH_VARIANT"
TORCH_VARIANTS = ("cpu", "cuda")
CPU_TORCH_INDEX = "https://download.pytorch.org/whl/cpu"

# What the CPU build must stay within (packaging/README.md records the measured sizes): bytes of the files in the
# PyInstaller folder, and the .deb as downloaded.
SIZE_TARGETS_MIB = {"bundle": 900, "deb": 250}

# What the app opens (app/intake.py OPENABLE_SUFFIXES): extension -> MIME type. Installers register these as
# "open with" document types; the packaging test checks the list against the app's own.
DOCUMENT_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
    ".webp": "image/webp",
    ".bmp": "image/bmp",
    ".gif": "image/gif",
    ".pdf": "application/pdf",
}

# Build products; git ignores packaging/build/ and packaging/dist/.
BUILD_DIR = PACKAGING_DIR / "build"
DIST_DIR = PACKAGING_DIR / "dist"
ICON_PNG = BUILD_DIR / "icon" / f"{GUI_NAME}.png"  # made by make_icon.py, with .ico and .icns beside it


def project_version(pyproject: Path = REPO_ROOT / "pyproject.toml") -> str:
    return _project(pyproject)["version"]


def project_license(pyproject: Path = REPO_ROOT / "pyproject.toml") -> str:
    """The app's own licence (``license = { text = ... }``); the bundled libraries' are in licenses.py."""
    license_field = _project(pyproject)["license"]
    return license_field["text"] if isinstance(license_field, dict) else license_field


def _project(pyproject: Path) -> dict:
    with open(pyproject, "rb") as handle:
        return tomllib.load(handle)["project"]


def mime_types() -> list[str]:
    """Distinct MIME types in a stable order (for the .desktop file and the .deb)."""
    return sorted(set(DOCUMENT_TYPES.values()))
