"""Shared Qt test setup for tests/app: offscreen platform, WebEngine-ready, settings kept out of $HOME."""

import os

# Must be set before any Qt import (pytest-qt creates the QApplication from these).
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QTWEBENGINE_DISABLE_SANDBOX", "1")  # Chromium refuses to run as root with its sandbox

try:  # QtWebEngine must be imported before the QApplication exists
    import PySide6.QtWebEngineWidgets  # noqa: F401
except ImportError:
    pass

import pytest
from PySide6.QtCore import QSettings

from app.qt_compat import install_bool_refcount_guard

# PySide6 6.12 leaks a reference to True per Python emit(); a whole test session emits enough to abort CPython.
install_bool_refcount_guard()


@pytest.fixture(autouse=True, scope="session")
def _settings_outside_home(tmp_path_factory):
    """Native QSettings users (Settings() without a path) write into a temp folder, never the real profile."""
    folder = str(tmp_path_factory.mktemp("qsettings"))
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    for scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
        QSettings.setPath(QSettings.Format.IniFormat, scope, folder)
    yield folder


@pytest.fixture
def settings(tmp_path):
    from app.settings import Settings

    return Settings(tmp_path / "settings.ini")


@pytest.fixture(autouse=True)
def _clear_clipboard():
    """Data left on the offscreen clipboard makes Qt crash while the interpreter exits (exit code 139)."""
    yield
    from PySide6.QtGui import QGuiApplication

    if QGuiApplication.instance() is not None:
        QGuiApplication.clipboard().clear()
