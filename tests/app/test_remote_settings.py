"""Where recognition runs, in the settings: the backend section of the dialog, the API key in the keyring (or in the
file, with a warning, where there is none), the engine choice the settings make, and "Test connection" against a
closed port. Servers that answer are in test_remote_backend.py."""

from __future__ import annotations

import socket

from glmocr_core.backends.settings import DEFAULT_URLS
from glmocr_core.runtime.devices import DeviceInfo

from app import secret_store
from app.dialogs.settings_dialog import SettingsDialog
from app.engine.options import engine_choice
from app.settings import Settings, server_urls

CPU = DeviceInfo("cpu", "cpu", "CPU (8 logical cores)")
WAIT_MS = 20_000


def make_dialog(qtbot, settings):
    dialog = SettingsDialog(settings, list_devices=lambda: [CPU])
    qtbot.addWidget(dialog)
    # the device probe's thread must be done before the dialog may be deleted
    qtbot.waitUntil(lambda: dialog.devices_label.text() != "Detecting devices…")
    return dialog


def choose(dialog, backend: str, urls: str = "", key: str = "") -> None:
    dialog.backend_combo.setCurrentIndex(dialog.backend_combo.findData(backend))
    dialog.url_edit.setPlainText(urls)
    dialog.key_edit.setText(key)


def closed_port() -> int:
    """A port of 127.0.0.1 nothing listens on (bound for a moment, then freed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_server_settings_round_trip_with_the_key_in_the_keyring(qtbot, tmp_path, memory_keyring):
    settings = Settings(tmp_path / "settings.ini")
    dialog = make_dialog(qtbot, settings)
    choose(dialog, "openai", "http://127.0.0.1:8001/v1\n  http://127.0.0.1:8002 ", key="team-key")
    dialog.model_name_edit.setText("glm-ocr-2")
    dialog.concurrency_spin.setValue(2)
    dialog.image_format_combo.setCurrentIndex(dialog.image_format_combo.findData("jpeg"))
    dialog.verify_tls_check.setChecked(False)
    with qtbot.waitSignal(dialog.settings_changed) as changed:
        dialog.accept()
    assert set(changed.args[0]) == {"backend", "remote/urls", "remote/api_key", "remote/model_name",
                                    "remote/concurrency", "remote/image_format", "remote/verify_tls"}
    assert memory_keyring.passwords == {(secret_store.SERVICE, secret_store.ACCOUNT): "team-key"}
    assert "team-key" not in (tmp_path / "settings.ini").read_text(encoding="utf-8")
    again = Settings(tmp_path / "settings.ini")
    assert again.api_key() == "team-key" and again.get("backend") == "openai"
    choice = engine_choice(again)
    assert choice.remote and choice.target == "http://127.0.0.1:8001/v1,http://127.0.0.1:8002"
    assert choice.options == {"kind": "openai", "api_key": "team-key", "model_name": "glm-ocr-2", "concurrency": 2,
                              "image_format": "jpeg", "verify_tls": False}
    reopened = make_dialog(qtbot, again)
    assert reopened.key_edit.text() == "team-key" and reopened.remote_chosen
    assert reopened.url_edit.toPlainText() == "http://127.0.0.1:8001/v1\nhttp://127.0.0.1:8002"


def test_without_a_keyring_the_key_is_kept_in_the_file_and_the_dialog_says_so(qtbot, tmp_path, no_keyring):
    settings = Settings(tmp_path / "settings.ini")
    dialog = make_dialog(qtbot, settings)
    assert dialog.keyring_label.isHidden()  # this computer: no key needed, nothing to warn about
    choose(dialog, "ollama", key="plain-key")
    assert not dialog.keyring_label.isHidden() and "plain text" in dialog.keyring_label.text()
    dialog.accept()
    assert "plain-key" in (tmp_path / "settings.ini").read_text(encoding="utf-8")
    assert Settings(tmp_path / "settings.ini").api_key() == "plain-key"


def test_a_key_saved_without_a_keyring_moves_into_one_when_it_is_saved_again(tmp_path, memory_keyring):
    settings = Settings(tmp_path / "settings.ini")
    settings.set("remote/api_key", "old-key")  # what a session without a keyring left behind
    assert settings.api_key() == "old-key"
    assert settings.set_api_key("new-key") is True
    assert settings.get("remote/api_key") == "" and settings.api_key() == "new-key"
    assert settings.set_api_key("") is True and settings.api_key() == ""
    assert memory_keyring.passwords == {}


def test_only_the_chosen_backends_options_can_be_edited(qtbot, settings):
    dialog = make_dialog(qtbot, settings)
    assert dialog.device_combo.isEnabled() and not dialog.url_edit.isEnabled() and not dialog.test_button.isEnabled()
    choose(dialog, "openai")
    assert not dialog.device_combo.isEnabled() and not dialog.precision_combo.isEnabled()
    assert not dialog.model_button.isEnabled()
    assert dialog.url_edit.isEnabled() and dialog.key_edit.isEnabled() and dialog.test_button.isEnabled()
    assert dialog.url_edit.placeholderText() == DEFAULT_URLS["openai"]
    assert dialog.key_edit.echoMode() == dialog.key_edit.EchoMode.Password
    dialog.restore_defaults()
    assert dialog.backend_combo.currentData() == "local" and dialog.device_combo.isEnabled()


def test_the_engine_choice_follows_the_backend(settings):
    assert engine_choice(settings).backend == "local" and engine_choice(settings).target == settings.model_dir()
    assert engine_choice(settings, "/elsewhere").target == "/elsewhere"
    settings.set("backend", "ollama")
    choice = engine_choice(settings)
    assert choice.target == DEFAULT_URLS["ollama"] and choice.urls == (DEFAULT_URLS["ollama"],)
    assert choice.options["api_key"] is None


def test_urls_may_be_one_per_line_or_comma_separated():
    assert server_urls(" http://a:1, http://b:2\n\nhttp://c:3 ,") == ("http://a:1", "http://b:2", "http://c:3")


def test_test_connection_to_a_closed_port_says_it_cannot_connect(qtbot, settings):
    dialog = make_dialog(qtbot, settings)
    choose(dialog, "openai", f"http://127.0.0.1:{closed_port()}")
    with qtbot.waitSignal(dialog.connection_test.answered, timeout=WAIT_MS):
        dialog.test_button.click()
        assert not dialog.test_button.isEnabled()  # the GUI thread is free while the test runs
    assert dialog.connection_label.text().startswith("Not connected: ")
    assert "cannot connect" in dialog.connection_label.text() and dialog.test_button.isEnabled()


def test_a_bad_url_is_reported_without_a_request(qtbot, settings):
    dialog = make_dialog(qtbot, settings)
    choose(dialog, "openai", "ftp://127.0.0.1:21")
    dialog.test_button.click()
    assert "bad server URL" in dialog.connection_label.text() and dialog.test_button.isEnabled()
