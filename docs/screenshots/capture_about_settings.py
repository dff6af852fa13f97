"""The About box (versions, licences, links) of a window with a model, and the Settings tab with the habits of snip
tools: ``xvfb-run -a -s "-screen 0 1400x900x24" python docs/screenshots/capture_about_settings.py`` writes
about.png and settings-recognition.png."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from shot_app import SCRATCH, open_studio, pump  # noqa: E402  (sets up the app's Qt environment first)

from app.dialogs.settings_dialog import SettingsDialog  # noqa: E402
from app.settings import Settings  # noqa: E402
from fake_engine import FakeFactory  # noqa: E402
from glmocr_core.runtime.devices import DeviceInfo  # noqa: E402

HERE = Path(__file__).resolve().parent


def main() -> None:
    studio = open_studio(FakeFactory(), with_model=True)
    pump(800)
    studio.actions["about"].trigger()
    pump(500)
    studio.window.message_box.grab().save(str(HERE / "about.png"))
    studio.window.message_box.close()
    dialog = SettingsDialog(Settings(SCRATCH / "settings-dialog.ini"),
                            list_devices=lambda: [DeviceInfo("cpu", "cpu", "CPU (2 logical cores)")])
    dialog.show()
    dialog.tabs.setCurrentIndex(2)
    pump(500)
    dialog.grab().save(str(HERE / "settings-recognition.png"))
    dialog.close()
    studio.window.close()
    studio.host.wait(5000)


if __name__ == "__main__":
    main()
