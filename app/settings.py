"""All persistent settings in one table of typed keys, stored with QSettings.

Adding a setting is one line in ``KEYS``. Read with ``settings.get("name")``, write with ``settings.set("name", v)``;
values come back with the key's type whatever the storage backend (INI files store everything as text). Defaults that
are facts of the engine (task budgets, PDF resolution, the Hub repository, device and precision names) come from
glmocr_core, so the app and the command line never disagree.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

from glmocr_core.api import TASKS
from glmocr_core.backends.settings import BACKENDS, DEFAULT_MODEL_NAME, IMAGE_FORMATS, RemoteSettings
from glmocr_core.checkpoint.hub import DEFAULT_REPO_ID, DEFAULT_REVISION
from glmocr_core.documents.pages import DEFAULT_DPI
from glmocr_core.runtime.devices import DEVICES, PRECISIONS
from glmocr_core.tasks.specs import TASK_SPECS

from app import secret_store
from app.paths import default_layout_model_dir, default_model_dir, layout_model_dir_from_env, model_dir_from_env

# Byte for byte what locates every user's native settings store and names the autosave lock owner: never change.
ORG_NAME = "glmocr"
APP_NAME = "GLM-OCR Studio"
THEMES = ("system", "light", "dark")


@dataclass(frozen=True)
class Key:
    name: str
    type: type
    default: Any
    help: str = ""


def _table(*keys: Key) -> dict[str, Key]:
    return {key.name: key for key in keys}


KEYS: dict[str, Key] = _table(
    Key("window/geometry", bytes, b"", "main window position and size"),
    Key("window/state", bytes, b"", "dock and toolbar layout"),
    Key("last_folder", str, "", "folder the Open dialog starts in"),
    Key("recent_files", list, [], "most recently opened documents, newest first"),
    Key("default_task", str, TASKS[0], "task given to newly drawn regions"),
    Key("theme", str, "system", ", ".join(THEMES)),
    Key("model_dir", str, "", "model checkpoint folder; empty = default under the user data folder"),
    Key("layout_model_dir", str, "", "layout model (PP-DocLayoutV3) folder; empty = default beside the model"),
    Key("auto_run", bool, True, "run a region as soon as it is drawn"),
    Key("run_pasted_images", bool, True, "a pasted or dropped screenshot runs at once as Text on the whole image"),
    Key("copy_result_when_done", bool, False, "copy a region's result to the clipboard when it finishes"),
    Key("capture/shortcut", str, "Ctrl+Alt+S", "global shortcut that starts a screen capture (Windows, X11); empty = "
        "none; on Wayland and macOS bind `glmocr-studio --capture` in the system's keyboard settings"),
    Key("capture/default_task", str, TASKS[0], "task a capture starts with; keys 1-4 change it on the frozen screen"),
    Key("capture/copy_result", bool, True, "copy a capture's result to the clipboard when it finishes"),
    Key("capture/confirm_on_release", bool, True, "releasing the mouse reads the rectangle; off = Enter reads it"),
    Key("capture/tray_icon", bool, True, "a tray icon (Capture, Open window, Quit) where the desktop has a tray"),
    Key("device", str, "auto", f"{', '.join(DEVICES)} (cuda:N picks one GPU)"),
    Key("precision", str, "auto", ", ".join(PRECISIONS)),
    *(Key(f"max_new_tokens/{name}", int, spec.max_new_tokens, f"token budget of a {spec.label} region")
      for name, spec in TASK_SPECS.items()),
    Key("repeat_guard", bool, True, "stop a generation that loops on the same text"),
    Key("pdf_dpi", int, DEFAULT_DPI, "resolution PDF pages are rendered at for OCR"),
    Key("autosave_interval_s", int, 5, "seconds between a change and its autosave; 0 = off"),
    Key("hub/repo_id", str, DEFAULT_REPO_ID, "Hugging Face Hub repository the model is downloaded from"),
    Key("hub/revision", str, DEFAULT_REVISION, "branch, tag or commit of that repository"),
    Key("hub/endpoint", str, "", "Hub mirror URL; empty = huggingface.co (or $HF_ENDPOINT)"),
    Key("backend", str, BACKENDS[0], f"where recognition runs: {', '.join(BACKENDS)}"),
    Key("remote/urls", str, "", "server URLs, one per line or comma-separated; empty = the backend's default"),
    Key("remote/model_name", str, DEFAULT_MODEL_NAME, "the model's name on the server"),
    Key("remote/concurrency", int, RemoteSettings().concurrency, "requests in flight at once"),
    Key("remote/image_format", str, IMAGE_FORMATS[0], ", ".join(IMAGE_FORMATS)),
    Key("remote/verify_tls", bool, True, "check the server's TLS certificate"),
    Key("remote/api_key", str, "", "the server's API key, kept here only where the system has no keyring"),
)

MAX_RECENT_FILES = 10


def _to_bool(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _to_list(value) -> list:
    if value in (None, ""):
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]  # INI stores a 1-item list as a string


def _to_bytes(value) -> bytes:
    if isinstance(value, QByteArray):
        return bytes(value.data())
    return bytes(value) if isinstance(value, (bytes, bytearray)) else b""


CONVERTERS = {bool: _to_bool, list: _to_list, bytes: _to_bytes, int: int, float: float, str: str}


class Settings:
    """Typed access to QSettings. ``path`` gives an INI file (tests); None uses the platform's native store."""

    def __init__(self, path: str | os.PathLike | None = None):
        if path is None:
            self._store = QSettings(ORG_NAME, APP_NAME)
        else:
            self._store = QSettings(str(path), QSettings.Format.IniFormat)

    def get(self, name: str):
        key = KEYS[name]
        raw = self._store.value(name, None)
        if raw is None:
            return _copy_default(key.default)
        try:
            return CONVERTERS[key.type](raw)
        except (TypeError, ValueError):  # a hand-edited or corrupt value must not stop the app
            return _copy_default(key.default)

    def set(self, name: str, value) -> None:
        key = KEYS[name]
        if key.type is bytes:
            value = QByteArray(bytes(value))
        elif key.type is list:
            value = list(value)
        self._store.setValue(name, value)

    def reset(self, name: str) -> None:
        self._store.remove(name)

    def sync(self) -> None:
        self._store.sync()

    def add_recent_file(self, path: str) -> list[str]:
        recent = [p for p in self.get("recent_files") if p != path]
        recent = ([path] + recent)[:MAX_RECENT_FILES]
        self.set("recent_files", recent)
        return recent

    def model_dir(self) -> str:
        """Where the model lives: $GLMOCR_MODEL_DIR, else the setting, else the default under the data folder."""
        return str(model_dir_from_env() or self.get("model_dir") or default_model_dir())

    def layout_model_dir(self) -> str:
        """Where the layout model lives: $GLMOCR_LAYOUT_MODEL_DIR, else the setting, else the default folder."""
        return str(layout_model_dir_from_env() or self.get("layout_model_dir") or default_layout_model_dir())

    def api_key(self) -> str:
        """The remote server's key: from the keyring, else (no keyring, or saved before one existed) this file."""
        return secret_store.read_key() or self.get("remote/api_key")

    def set_api_key(self, key: str) -> bool:
        """Keep the key in the keyring (True) or, where there is none, in this file (False)."""
        if secret_store.write_key(key):
            self.reset("remote/api_key")  # a copy saved while there was no keyring must not outlive it
            return True
        self.set("remote/api_key", key)
        return False


def server_urls(text: str) -> tuple[str, ...]:
    """The endpoints a user typed: one per line or comma-separated, blanks dropped."""
    return tuple(part.strip() for part in text.replace("\n", ",").split(",") if part.strip())


def _copy_default(value):
    return list(value) if isinstance(value, list) else value

