"""The remote backend's API key in the operating system's keyring (``keyring``), never in a file when one exists.

A keyring is usable unless ``keyring`` is missing, picked its "fail" backend (no Secret Service, no KWallet: a
headless Linux box), or errors: then callers keep the key in the settings file and say so. ``keyring`` is imported
inside the calls: its backend discovery reads entry points, which a start of the window must not wait for.
"""

from __future__ import annotations

import logging

from glmocr_core.paths import APP_NAME

log = logging.getLogger(__name__)
SERVICE = APP_NAME
ACCOUNT = "remote-api-key"


def _usable_keyring():
    """The keyring backend, or None when there is no real one."""
    try:
        import keyring
        from keyring.backends import fail

        backend = keyring.get_keyring()
    except Exception as exc:  # noqa: BLE001 - not installed, or a broken backend configuration
        log.info("no keyring: %s", exc)
        return None
    return None if isinstance(backend, fail.Keyring) else backend


def keyring_available() -> bool:
    return _usable_keyring() is not None


def read_key() -> str | None:
    """The stored key ("" when none is stored), or None when there is no usable keyring."""
    backend = _usable_keyring()
    if backend is None:
        return None
    try:
        return backend.get_password(SERVICE, ACCOUNT) or ""
    except Exception as exc:  # noqa: BLE001 - a locked or broken keyring reads as none
        log.warning("the keyring could not be read: %s", exc)
        return None


def write_key(key: str) -> bool:
    """Keep ``key`` in the keyring ("" removes it); False when there is no usable keyring."""
    backend = _usable_keyring()
    if backend is None:
        return False
    try:
        if key:
            backend.set_password(SERVICE, ACCOUNT, key)
        elif backend.get_password(SERVICE, ACCOUNT) is not None:
            backend.delete_password(SERVICE, ACCOUNT)
    except Exception as exc:  # noqa: BLE001 - refused or locked: the caller falls back to the settings file
        log.warning("the keyring could not be written: %s", exc)
        return False
    return True
