"""The About box text and the colour theme: small, Qt-facing helpers of the main window."""

from __future__ import annotations

import platform
import sys

import PySide6
from PySide6.QtCore import Qt, qVersion
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

import app as app_package

from app.settings import THEMES

COLOR_SCHEMES = {"system": Qt.ColorScheme.Unknown, "light": Qt.ColorScheme.Light, "dark": Qt.ColorScheme.Dark}
assert tuple(COLOR_SCHEMES) == THEMES


def about_text(engine_info=None) -> str:
    model = "not loaded"
    if engine_info is not None:
        model = f"{engine_info.model_dir} · {engine_info.device} · {engine_info.dtype}"
    rows = [
        ("GLM-OCR Studio", app_package.__version__),
        ("Qt", qVersion()),
        ("PySide6", PySide6.__version__),
        ("Python", f"{platform.python_version()} ({sys.platform})"),
        ("Model", model),
    ]
    table = "".join(f"<tr><td><b>{k}</b></td><td>{v}</td></tr>" for k, v in rows)
    return ("<p>Local OCR for text, formulas and tables with the GLM-OCR model. "
            f"Everything runs on this computer.</p><table cellspacing='4'>{table}</table>")


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
