"""Running as root: the app switches QtWebEngine's sandbox off itself, says so in its log, and the window lives on
after a result view opens. The unit tests inject the environment and the user id; the last test starts the real
window through ``glmocr-studio``'s entry point (``app.launch.main``) as this machine's root user, with no sandbox
variable set, and waits until a result's web view has loaded and stayed alive."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from app.webengine_env import FLAGS_ENV, NO_SANDBOX_FLAG, ROOT_NOTE, SANDBOX_ENV, allow_webengine_as_root

REPO = Path(__file__).resolve().parents[2]
DEADLINE_S = 180


def test_root_gets_the_sandbox_switched_off_with_a_note():
    environ = {}
    assert allow_webengine_as_root(environ, euid=0) == ROOT_NOTE
    assert environ == {SANDBOX_ENV: "1", FLAGS_ENV: NO_SANDBOX_FLAG}
    assert "root" in ROOT_NOTE and SANDBOX_ENV in ROOT_NOTE


def test_the_users_own_chromium_flags_are_kept():
    environ = {FLAGS_ENV: "--disable-gpu --lang=de"}
    allow_webengine_as_root(environ, euid=0)
    assert environ[FLAGS_ENV] == "--disable-gpu --lang=de --no-sandbox"


def test_a_flag_already_there_is_not_repeated():
    environ = {FLAGS_ENV: "--no-sandbox --disable-gpu"}
    allow_webengine_as_root(environ, euid=0)
    assert environ[FLAGS_ENV] == "--no-sandbox --disable-gpu"


@pytest.mark.parametrize("euid", [1000, None])
def test_a_normal_user_or_windows_keeps_the_sandbox(euid):
    environ = {FLAGS_ENV: "--disable-gpu"}
    assert allow_webengine_as_root(environ, euid=euid) is None
    assert environ == {FLAGS_ENV: "--disable-gpu"}


@pytest.mark.parametrize("choice", ["0", "1", ""])
def test_the_users_own_choice_wins(choice):
    environ = {SANDBOX_ENV: choice}
    assert allow_webengine_as_root(environ, euid=0) is None
    assert environ == {SANDBOX_ENV: choice}


DRIVER = r'''
import json, sys
from pathlib import Path
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

import app.launch
import app.main
from app.document.model import DONE

OUT, IMAGE, ALIVE_MS = Path(sys.argv[1]), sys.argv[2], 3000
real_start = app.main.start


def drive(studio):
    """A finished Text region shows its result in a web view; the process must survive it."""
    assert studio.documents.open_path(IMAGE)
    region = studio.regions.add_region(0, (10, 10, 200, 80), task="text", run=False)
    region.state, region.text = DONE, "Hello $x^2$"
    region.result = {"task": "text", "text": region.text, "parsed": None, "parse_error": None}
    studio.regions.sync_views()
    view = studio.results.card(region.id).view.preview
    report = {"loaded": None, "terminated": None}
    view.page().renderProcessTerminated.connect(lambda status, code: report.update(terminated=[str(status), code]))

    def loaded(ok):
        report["loaded"] = ok
        QTimer.singleShot(ALIVE_MS, finish)  # a renderer that dies does so within moments of its first page

    def finish():
        report["sandbox_env"] = __import__("os").environ.get("QTWEBENGINE_DISABLE_SANDBOX")
        (OUT / "report.json").write_text(json.dumps(report))
        QApplication.quit()

    view.loadFinished.connect(loaded)


def start(argv=None):
    application, studio = real_start(argv)
    QTimer.singleShot(0, studio.window, lambda: drive(studio))
    return application, studio


app.main.start = start  # app.launch.main -> app.main.main -> start: the entry point runs as a user starts it
sys.exit(app.launch.main([]))
'''


def root_env(tmp_path: Path) -> dict:
    env = {name: value for name, value in os.environ.items() if name not in (SANDBOX_ENV, FLAGS_ENV)}
    env.update({"QT_QPA_PLATFORM": "offscreen", "GLMOCR_DATA_DIR": str(tmp_path / "data"),
                "GLMOCR_MODEL_DIR": str(tmp_path / "no-model"), "XDG_CONFIG_HOME": str(tmp_path / "config"),
                "XDG_CACHE_HOME": str(tmp_path / "cache"), "PYTHONPATH": str(REPO)})
    return env


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs to run as root")
def test_the_real_window_as_root_shows_a_result_view_and_stays_alive(tmp_path):
    pytest.importorskip("PySide6.QtWebEngineWidgets")
    image = tmp_path / "page.png"
    Image.new("RGB", (320, 200), "white").save(image)
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER, encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    done = subprocess.run([sys.executable, str(driver), str(out), str(image)], cwd=REPO, env=root_env(tmp_path),
                          capture_output=True, text=True, timeout=DEADLINE_S)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    assert report == {"loaded": True, "terminated": None, "sandbox_env": "1"}
    log = (tmp_path / "data" / "logs" / "glmocr-studio.log").read_text(encoding="utf-8")
    assert log.count(ROOT_NOTE) == 1
