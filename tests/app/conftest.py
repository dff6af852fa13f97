"""Shared Qt test setup for tests/app: offscreen platform, WebEngine-ready, settings and user data kept out of $HOME,
the composed app as a fixture, and the ``gui`` marker on every test that needs a QApplication."""

import os

# Must be set before any Qt import (pytest-qt creates the QApplication from these).
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QTWEBENGINE_DISABLE_SANDBOX", "1")  # Chromium refuses to run as root with its sandbox

try:  # QtWebEngine must be imported before the QApplication exists
    import PySide6.QtWebEngineWidgets  # noqa: F401
except ImportError:
    pass

import atexit
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from app.paths import DATA_DIR_ENV, MODEL_DIR_ENV
from app.qt_compat import install_refcount_guards
from app.results.web import release_web_views

# PySide6 6.12 leaks a reference to True per Python emit(); a whole test session emits enough to abort CPython.
install_refcount_guards()
atexit.register(release_web_views)  # result views still alive when Python exits would crash it (see app.results.web)

HERE = Path(__file__).parent
QT_FIXTURES = {"qtbot", "qapp", "make_studio"}
WAIT_MS = 10_000


def pytest_collection_modifyitems(config, items):
    """Every test here that needs a QApplication is a ``gui`` test, so ``-m "not gui"`` runs without a display."""
    for item in items:
        if Path(item.fspath).is_relative_to(HERE) and QT_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.gui)


@pytest.fixture(autouse=True, scope="session")
def _settings_outside_home(tmp_path_factory):
    """Native QSettings users (Settings() without a path) write into a temp folder, never the real profile."""
    folder = str(tmp_path_factory.mktemp("qsettings"))
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    for scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
        QSettings.setPath(QSettings.Format.IniFormat, scope, folder)
    yield folder


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch) -> Path:
    """Autosaves, pasted copies, templates, samples and logs of this test go to its own folder."""
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "data"))
    return tmp_path / "data"


def _memory_keyring_class():
    from keyring.backend import KeyringBackend
    from keyring.errors import PasswordDeleteError

    class Memory(KeyringBackend):
        priority = 1

        def __init__(self):
            super().__init__()
            self.passwords: dict[tuple[str, str], str] = {}

        def get_password(self, service, username):
            return self.passwords.get((service, username))

        def set_password(self, service, username, password):
            self.passwords[(service, username)] = password

        def delete_password(self, service, username):
            if self.passwords.pop((service, username), None) is None:
                raise PasswordDeleteError(username)

    return Memory


@pytest.fixture(autouse=True)
def memory_keyring():
    """Every test gets an empty in-memory keyring: no test ever reads or writes the real one."""
    import keyring

    before = keyring.get_keyring()
    ring = _memory_keyring_class()()
    keyring.set_keyring(ring)
    yield ring
    keyring.set_keyring(before)


@pytest.fixture
def no_keyring(memory_keyring):
    """A system without a keyring, as ``keyring`` sees a headless Linux box: its "fail" backend."""
    import keyring
    from keyring.backends import fail

    keyring.set_keyring(fail.Keyring())


@pytest.fixture
def settings(tmp_path):
    from app.settings import Settings

    return Settings(tmp_path / "settings.ini")


NO_MODEL = "no-model-here"


@pytest.fixture
def make_studio(qtbot, tmp_path, monkeypatch):
    """``make_studio(loader, model_env=..., **settings_values)``: the composed app (``app.main.build``), started as
    ``boot`` starts it and shown. ``$GLMOCR_MODEL_DIR`` is ``model_env`` (None: unset, so the settings decide); by
    default it names an empty folder, so the window opens without a model."""
    from app.main import boot, build
    from app.settings import Settings
    from fake_engine import FakeFactory

    made = []

    def make(loader=None, *, model_env=NO_MODEL, paths=(), build_options=None, **settings_values):
        if model_env is None:
            monkeypatch.delenv(MODEL_DIR_ENV, raising=False)
        else:
            monkeypatch.setenv(MODEL_DIR_ENV, str(tmp_path / model_env))
        settings = Settings(tmp_path / "settings.ini")
        for name, value in settings_values.items():
            settings.set(name, value)
        studio = build(settings, loader or FakeFactory(), **(build_options or {}))
        qtbot.addWidget(studio.window)
        boot(studio, list(paths))
        qtbot.waitExposed(studio.window)
        made.append(studio)
        return studio

    yield make
    for studio in made:
        studio.file_actions.autosaver.finish()
        studio.window.close()
        assert studio.host.wait(WAIT_MS)


@pytest.fixture(autouse=True)
def _clear_clipboard():
    """Data left on the offscreen clipboard makes Qt crash while the interpreter exits (exit code 139)."""
    yield
    from PySide6.QtGui import QGuiApplication

    if QGuiApplication.instance() is not None:
        QGuiApplication.clipboard().clear()
