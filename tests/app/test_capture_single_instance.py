"""One studio per user and display: a second launch's request reaches the running one over a real local socket, both
from a second socket in this process and from a real second process; a socket
left by a crashed instance is cleaned up; garbage on the socket is ignored."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtNetwork import QLocalSocket

from app.capture.single_instance import (CAPTURE, OPEN, REPLY, InstanceServer, Message, forward_to_running,
                                         message_for, server_name)

REPO = Path(__file__).resolve().parents[2]
WAIT_MS = 10_000


@pytest.fixture
def name(tmp_path):
    return str(tmp_path / "studio.sock") if sys.platform != "win32" else f"glmocr-test-{os.getpid()}"


@pytest.fixture
def server(qapp, name):
    running = InstanceServer(name)
    assert running.listen()
    yield running
    running.close()


def ask_from_this_process(qtbot, message, name) -> bytes:
    """A second socket in this process, driven by the event loop the server also needs (``send_to_running`` blocks,
    as a second launch may: it runs in a process of its own, see the subprocess test)."""
    client, received = QLocalSocket(), []
    client.connected.connect(lambda: client.write(message.encode()))
    client.readyRead.connect(lambda: received.append(bytes(client.readAll().data())))
    client.connectToServer(name)
    qtbot.waitUntil(lambda: REPLY in b"".join(received), timeout=WAIT_MS)
    return b"".join(received)


def test_a_capture_message_reaches_the_running_instance(qtbot, server, name):
    with qtbot.waitSignal(server.capture_requested, timeout=WAIT_MS):
        assert ask_from_this_process(qtbot, Message(CAPTURE), name) == REPLY


def test_files_reach_the_running_instance_as_absolute_paths(qtbot, server, name, tmp_path):
    message = message_for(["scan.png", "sub/page.pdf"], cwd=str(tmp_path))
    with qtbot.waitSignal(server.open_requested, timeout=WAIT_MS) as opened:
        ask_from_this_process(qtbot, message, name)
    assert opened.args == [[str(tmp_path / "scan.png"), str(tmp_path / "sub" / "page.pdf")]]


def test_a_second_launch_in_its_own_process_asks_for_a_capture_and_exits(qtbot, server, name):
    script = ("import sys; from app.capture.single_instance import forward_to_running; "
              f"sys.exit(0 if forward_to_running(['--capture'], {name!r}) else 3)")
    with qtbot.waitSignal(server.capture_requested, timeout=WAIT_MS):
        second = subprocess.Popen([sys.executable, "-c", script], cwd=REPO,
                                  env={**os.environ, "PYTHONPATH": str(REPO), "QT_QPA_PLATFORM": "offscreen"})
    assert second.wait(timeout=WAIT_MS / 1000) == 0


def test_without_a_running_instance_the_launch_goes_on(qapp, name):
    assert forward_to_running(["--capture"], name) is False


def test_a_launch_that_finds_nobody_can_still_create_its_application(name):
    """The check runs before the window's QApplication exists and must not leave an application object behind."""
    script = ("import sys; from app.capture.single_instance import forward_to_running; "
              f"assert forward_to_running(['--capture'], {name!r}) is False; "
              "from PySide6.QtCore import QCoreApplication; assert QCoreApplication.instance() is None; "
              "from PySide6.QtWidgets import QApplication, QWidget; app = QApplication([]); QWidget()")
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(REPO), "QT_QPA_PLATFORM": "offscreen"}, check=False)
    assert done.returncode == 0, done.stderr


def test_a_plain_launch_asks_nothing():
    assert message_for([]) is None
    assert message_for(["--verbose"]) is None


def test_a_second_server_does_not_take_over(qapp, server, name):
    late = InstanceServer(name)
    assert late.listen() is False
    assert server.is_listening()


@pytest.mark.skipif(sys.platform == "win32", reason="named pipes leave no file behind")
def test_a_socket_left_by_a_crashed_instance_is_cleaned_up(qtbot, name):
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(name)  # bound, never listening, then gone: the file stays and refuses connections, as after a crash
    dead.close()
    assert os.path.exists(name)
    revived = InstanceServer(name)
    try:
        assert revived.listen() is True  # the probe found nobody behind the file
        with qtbot.waitSignal(revived.capture_requested, timeout=WAIT_MS):
            ask_from_this_process(qtbot, Message(CAPTURE), name)
    finally:
        revived.close()


def test_garbage_on_the_socket_is_ignored_and_not_answered(qtbot, server, name):
    received = []
    server.capture_requested.connect(lambda: received.append(CAPTURE))
    client = QLocalSocket()
    client.connectToServer(name)
    assert client.waitForConnected(WAIT_MS)
    client.write(b'{"action": "format-disk"}\n')
    client.flush()
    qtbot.waitUntil(lambda: client.state() == QLocalSocket.LocalSocketState.UnconnectedState, timeout=WAIT_MS)
    assert REPLY not in bytes(client.readAll().data())
    assert received == []


@pytest.mark.parametrize("data, expected", [
    (b'{"action": "capture"}', Message(CAPTURE)),
    (b'{"action": "open", "paths": ["/a.png"]}', Message(OPEN, ("/a.png",))),
    (b'{"action": "open", "paths": [1]}', None),
    (b'{"action": "rm"}', None),
    (b"\xff\xfe", None),
    (b"[]", None),
])
def test_messages_decode_strictly(data, expected):
    assert Message.decode(data) == expected


def test_messages_round_trip():
    message = Message(OPEN, ("/tmp/x y.png",))
    assert Message.decode(message.encode().rstrip(b"\n")) == message


def test_the_name_is_per_user_and_per_display(tmp_path):
    runtime = str(tmp_path)
    first = server_name({"DISPLAY": ":0", "XDG_RUNTIME_DIR": runtime}, "linux", "ann")
    assert first == str(tmp_path / "glmocr-studio-ann-_0")
    assert server_name({"DISPLAY": ":1", "XDG_RUNTIME_DIR": runtime}, "linux", "ann") != first
    assert server_name({"DISPLAY": ":0", "XDG_RUNTIME_DIR": runtime}, "linux", "bob") != first
    assert server_name({"WAYLAND_DISPLAY": "wayland-0"}, "linux", "ann") == "glmocr-studio-ann-wayland-0"
    assert server_name({"DISPLAY": ":0"}, "win32", "ann") == "glmocr-studio-ann"  # Windows pipes are per session
