"""Settings with a remote backend chosen and Test connection answered by a real ``glmocr-studio serve`` on 127.0.0.1
(tiny checkpoint): ``xvfb-run -a python docs/screenshots/capture_settings_remote.py`` writes settings-remote.png."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from shot_app import ROOT, SCRATCH, pump  # noqa: E402  (sets up the app's Qt environment first)

import keyring  # noqa: E402
from keyring.backends import fail  # noqa: E402
from PySide6.QtCore import QEventLoop  # noqa: E402

from app.dialogs.settings_dialog import SettingsDialog  # noqa: E402
from app.settings import Settings  # noqa: E402
from glmocr_core.runtime.devices import DeviceInfo  # noqa: E402
from glmocr_core.testing.checkpoints import build_tiny_checkpoint  # noqa: E402
from tests.server.conftest import start_server  # noqa: E402

OUT = Path(__file__).resolve().parent / "settings-remote.png"


def main() -> None:
    keyring.set_keyring(fail.Keyring())  # a headless box: shows the no-keyring warning, never a real keyring
    server = start_server(build_tiny_checkpoint(SCRATCH / "ckpt", seed=0), api_key="team-key")
    try:
        dialog = SettingsDialog(Settings(SCRATCH / "settings.ini"),
                                list_devices=lambda: [DeviceInfo("cpu", "cpu", "CPU (16 logical cores)")])
        dialog.backend_combo.setCurrentIndex(dialog.backend_combo.findData("openai"))
        dialog.url_edit.setPlainText(server.url)
        dialog.key_edit.setText("team-key")
        dialog.show()
        pump(500)
        answered = QEventLoop()
        dialog.connection_test.answered.connect(lambda *args: answered.quit())
        dialog.test_button.click()
        answered.exec()
        pump(300)
        dialog.grab().save(str(OUT))
        print(dialog.connection_label.text())
    finally:
        server.stop()


if __name__ == "__main__":
    assert ROOT.is_dir()
    main()
