"""What the worker costs the GUI and what the GUI costs the worker: text updates at a pace a reader needs (not one
per token), and an interpreter switch interval short enough that the GUI thread's Python does not stall decoding."""

import math
import sys

import pytest
from PIL import Image

from glmocr_core.api import RecognizeOptions
from glmocr_core.documents.document import document_from_image
from glmocr_core.loader import load_engine

from app.engine import worker
from app.engine.host import EngineHost
from app.engine.worker import (DELTA_INTERVAL_S, GIL_SWITCH_INTERVAL_S, OcrJob, prefer_passive_openmp,
                               share_gil_with_gui)

WAIT_MS = 60_000


@pytest.fixture
def default_switch_interval():
    before = sys.getswitchinterval()
    sys.setswitchinterval(0.005)  # the interpreter's default
    yield
    sys.setswitchinterval(before)


def test_a_host_shortens_the_switch_interval(qtbot, default_switch_interval):
    from fake_engine import FakeFactory

    host = EngineHost(FakeFactory())
    assert sys.getswitchinterval() == pytest.approx(GIL_SWITCH_INTERVAL_S)
    assert host.shutdown()


def test_a_shorter_interval_set_elsewhere_is_kept(default_switch_interval):
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S / 2)
    share_gil_with_gui()
    assert sys.getswitchinterval() == pytest.approx(GIL_SWITCH_INTERVAL_S / 2)


def test_updates_come_at_a_readers_pace_not_per_token():
    assert 0.1 <= DELTA_INTERVAL_S <= 0.5  # 2-10 a second: live to the eye, a few per second of GUI work
    assert worker.EngineWorker(lambda *a, **k: None).delta_interval_s == DELTA_INTERVAL_S


def test_a_real_decode_sends_no_more_updates_than_its_time_allows(qtbot, tiny_checkpoint):
    host = EngineHost(load_engine)
    with qtbot.waitSignal(host.model_ready, timeout=WAIT_MS):
        host.load_model(str(tiny_checkpoint))
    progress = []
    host.progress.connect(lambda rid, tokens, elapsed: progress.append((tokens, elapsed)))
    page = document_from_image(Image.new("RGB", (224, 112), "white"))
    options = RecognizeOptions(max_new_tokens=96, repeat_guard=False)
    with qtbot.waitSignal(host.job_finished, timeout=WAIT_MS) as finished:
        host.submit(OcrJob("r1", page, 0, None, options=options))
    assert host.shutdown()
    elapsed = progress[-1][1]
    assert finished.args[1].token_ids
    # the first piece at once, then one per interval at most, then the final flush
    assert len(progress) <= 2 + math.ceil(elapsed / DELTA_INTERVAL_S)


def test_the_worker_thread_decodes_with_as_many_torch_threads_as_the_command_line(qtbot, tiny_checkpoint):
    import torch

    host = EngineHost(load_engine)
    with qtbot.waitSignal(host.model_ready, timeout=WAIT_MS) as ready:
        host.load_model(str(tiny_checkpoint))
    assert host.shutdown()
    assert ready.args[0].threads == torch.get_num_threads()  # read on the worker thread, as its decode sees it


def test_openmp_waits_passively_in_the_window_unless_the_user_chose():
    environ = {}
    assert prefer_passive_openmp(environ, modules={}) and environ == {"OMP_WAIT_POLICY": "PASSIVE"}
    mine = {"OMP_WAIT_POLICY": "ACTIVE"}
    assert not prefer_passive_openmp(mine, modules={}) and mine == {"OMP_WAIT_POLICY": "ACTIVE"}


def test_once_torch_is_loaded_it_is_too_late_and_nothing_is_set():
    environ = {}
    assert not prefer_passive_openmp(environ, modules={"torch": object()}) and environ == {}


WINDOW_PROCESS = """
import os, sys
from PySide6.QtCore import QCoreApplication
from app.engine.host import EngineHost
application = QCoreApplication([])
host = EngineHost(lambda *a, **k: None)  # as app.main.build makes it, before any model loads
assert "torch" not in sys.modules
import torch  # what the worker's first load does
torch.ones(64, 64) @ torch.ones(64, 64)
host.shutdown()
"""


def test_torch_in_the_window_process_gets_the_passive_policy(tmp_path):
    import os
    import subprocess
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    env.update(OMP_DISPLAY_ENV="TRUE", QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(repo))
    done = subprocess.run([sys.executable, "-c", WINDOW_PROCESS], cwd=repo, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "OMP_WAIT_POLICY = 'PASSIVE'" in done.stderr  # libgomp's own account of its settings
