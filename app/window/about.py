"""The About box text and the colour theme: small, Qt-facing helpers of the main window.

The About box says what a bug report needs (the versions of the app, torch, Qt, PySide6 and Python, and the loaded
model), what the bundled parts are licensed under and what that means for passing the app on, and where to read
more. torch's version is read from its installed metadata: the window never imports torch itself.
"""

from __future__ import annotations

import html
import platform
import sys
from importlib import metadata

import PySide6
from PySide6.QtCore import Qt, qVersion
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

import app as app_package

from glmocr_core.checkpoint.hub import DEFAULT_REPO_ID, MODEL_LICENSE

from app.settings import THEMES

COLOR_SCHEMES = {"system": Qt.ColorScheme.Unknown, "light": Qt.ColorScheme.Light, "dark": Qt.ColorScheme.Dark}
assert tuple(COLOR_SCHEMES) == THEMES

DISTRIBUTION = "glmocr-studio"  # the app's own package name, whose metadata holds its project links
MODEL_URL = f"https://huggingface.co/{DEFAULT_REPO_ID}"
# (part, SPDX licence, where to read about it): what an installer bundles, and the model the app downloads
LICENCES = (
    ("GLM-OCR model weights (downloaded on first use)", MODEL_LICENSE, MODEL_URL),
    ("KaTeX (formula rendering)", "MIT", "https://katex.org"),
    ("Qt", "LGPL-3.0", "https://www.qt.io/licensing/open-source-lgpl-obligations"),
    ("PySide6 (Qt for Python)", "LGPL-3.0", "https://doc.qt.io/qtforpython-6/"),
    ("PyTorch", "BSD-3-Clause", "https://pytorch.org"),
    ("PyMuPDF (PDF pages)", "AGPL-3.0", "https://pymupdf.readthedocs.io"),
)
REDISTRIBUTION_NOTE = (
    "Using the app, for any purpose, comes with no conditions. PyMuPDF's AGPL-3.0 matters only to whoever passes "
    "the app on, changed or not (or offers a changed copy to others over a network): they must give its "
    "recipients the complete source code, PyMuPDF's included, under the AGPL-3.0. Qt and PySide6 (LGPL-3.0) may be "
    "replaced by any compatible build of them.")


def package_version(name: str) -> str:
    """An installed distribution's version, without importing it; the imported module's when a bundle carries no
    metadata; "not installed" otherwise."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        module = sys.modules.get(name)
        return getattr(module, "__version__", "not installed")


def project_links(distribution: str = DISTRIBUTION) -> list[tuple[str, str]]:
    """(label, URL) for each ``Project-URL`` the app's package declares (pyproject's ``[project.urls]``)."""
    try:
        entries = metadata.metadata(distribution).get_all("Project-URL") or []
    except metadata.PackageNotFoundError:
        return []
    links = []
    for entry in entries:
        label, _, url = entry.partition(",")
        if url.strip().startswith(("https://", "http://")):
            links.append((label.strip(), url.strip()))
    return links


def _link(url: str, text: str | None = None) -> str:
    return f"<a href='{html.escape(url)}'>{html.escape(text or url)}</a>"


def _rows(rows) -> str:
    cells = "".join(f"<tr><td><b>{html.escape(k)}</b></td><td>{v}</td></tr>" for k, v in rows)
    return f"<table cellspacing='3'>{cells}</table>"


def about_text(engine_info=None) -> str:
    model = "not loaded"
    if engine_info is not None:
        model = html.escape(f"{engine_info.model_dir} · {engine_info.device} · {engine_info.dtype}")
    versions = [("GLM-OCR Studio", app_package.__version__), ("PyTorch", html.escape(package_version("torch"))),
                ("Qt", qVersion()), ("PySide6", PySide6.__version__),
                ("Python", f"{platform.python_version()} ({sys.platform})"), ("Model", model)]
    licences = [(part, f"{_link(url, licence)}") for part, licence, url in LICENCES]
    links = [*project_links(), ("GLM-OCR model", MODEL_URL)]
    link_line = " · ".join(_link(url, label) for label, url in links)
    return ("<p>Local OCR for text, formulas and tables with the GLM-OCR model. "
            f"Everything runs on this computer.</p>{_rows(versions)}"
            f"<p><b>Licences of the parts it bundles</b></p>{_rows(licences)}"
            f"<p>{html.escape(REDISTRIBUTION_NOTE)}</p><p>{link_line}</p>")


def apply_theme(theme: str) -> None:
    """"system" follows the desktop's light/dark setting (Qt 6.5+ tracks changes live).

    A forced light or dark theme is asked of the platform first; where the platform cannot switch (plain X11,
    no desktop theme), Fusion's own palette for that scheme is installed instead.
    """
    wanted = COLOR_SCHEMES.get(theme, Qt.ColorScheme.Unknown)
    hints = QApplication.styleHints()
    if hasattr(hints, "setColorScheme"):  # Qt 6.8+
        hints.setColorScheme(wanted)
    if wanted != Qt.ColorScheme.Unknown and hints.colorScheme() != wanted:
        QApplication.setStyle("Fusion")
        QApplication.setPalette(dark_palette() if wanted == Qt.ColorScheme.Dark else
                                QApplication.style().standardPalette())


def dark_palette() -> QPalette:
    roles = QPalette.ColorRole
    colors = {roles.Window: "#2b2b2b", roles.WindowText: "#e6e6e6", roles.Base: "#1f1f1f",
              roles.AlternateBase: "#2f2f2f", roles.ToolTipBase: "#3a3a3a", roles.ToolTipText: "#e6e6e6",
              roles.Text: "#e6e6e6", roles.Button: "#353535", roles.ButtonText: "#e6e6e6",
              roles.BrightText: "#ff6b6b", roles.Highlight: "#2f7dd1", roles.HighlightedText: "#ffffff",
              roles.Link: "#6cb4ff", roles.PlaceholderText: "#8c8c8c", roles.Mid: "#4a4a4a",
              roles.Dark: "#1a1a1a", roles.Light: "#505050", roles.Midlight: "#404040", roles.Shadow: "#000000"}
    palette = QPalette()
    for role, color in colors.items():
        palette.setColor(role, QColor(color))
    for role in (roles.WindowText, roles.Text, roles.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#7a7a7a"))
    return palette
