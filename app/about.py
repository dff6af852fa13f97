"""The About box text and the colour theme: small, Qt-facing helpers of the main window."""

from __future__ import annotations

import platform
import sys

import PySide6
from PySide6.QtCore import Qt, qVersion
from PySide6.QtWidgets import QApplication

import app as app_package

THEMES = {"light": Qt.ColorScheme.Light, "dark": Qt.ColorScheme.Dark, "system": Qt.ColorScheme.Unknown}


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
    """"system" follows the desktop's light/dark setting (Qt 6.5+ tracks changes live)."""
    hints = QApplication.styleHints()
    if hasattr(hints, "setColorScheme"):  # Qt 6.8+
        hints.setColorScheme(THEMES.get(theme, Qt.ColorScheme.Unknown))
