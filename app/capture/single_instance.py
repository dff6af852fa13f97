"""One running studio per user and display: a second launch with ``--capture`` (or with files) hands its request to
the running one over a local socket and exits, so an operating-system shortcut running ``glmocr-studio --capture``
starts a capture in well under a second (the second process builds no window and no application object).

The socket is keyed by the user and, on Linux, by the display (two X or Wayland sessions of one user are two
desktops). On Linux it lives in ``$XDG_RUNTIME_DIR`` (private to the user) where there is one; the server also allows
only its user to connect. A socket file left behind by a crashed instance refuses connections; it is removed and
the name reused.

The message is one JSON line (``{"action": "capture"}``, ``{"action": "open", "paths": [...]}``), answered ``ok``
once the running instance has read it, so the second launch knows it was heard before it exits.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

log = logging.getLogger(__name__)

CAPTURE_FLAG = "--capture"
CAPTURE, OPEN = "capture", "open"
ACTIONS = (CAPTURE, OPEN)
REPLY = b"ok\n"
MAX_MESSAGE_BYTES = 64 * 1024  # a few hundred file paths; anything longer is not from us
CONNECT_TIMEOUT_MS = 500  # a live instance accepts at once; a stale socket refuses at once
REPLY_TIMEOUT_MS = 2000
REPLY_WRITE_MS = 200  # a local socket takes three bytes at once
NAME_PREFIX = "glmocr-studio"


@dataclass(frozen=True)
class Message:
    action: str
    paths: tuple[str, ...] = ()

    def encode(self) -> bytes:
        body = {"action": self.action, **({"paths": list(self.paths)} if self.paths else {})}
        return json.dumps(body).encode("utf-8") + b"\n"

    @classmethod
    def decode(cls, data: bytes) -> Message | None:
        """The message in ``data``, or None for anything malformed (which is ignored, not obeyed)."""
        try:
            body = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return None
        if not isinstance(body, dict) or body.get("action") not in ACTIONS:
            return None
        paths = body.get("paths", [])
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            return None
        return cls(body["action"], tuple(paths))


def message_for(args: list[str], cwd: str | None = None) -> Message | None:
    """What a launch with ``args`` asks a running instance to do; None for a plain launch (it starts normally).
    Paths are made absolute here: the running instance has another working folder."""
    if CAPTURE_FLAG in args:
        return Message(CAPTURE)
    files = [a for a in args if not a.startswith("-")]
    if files:
        base = Path(cwd or os.getcwd())
        return Message(OPEN, tuple(str((base / f).resolve()) for f in files))
    return None


def server_name(env: Mapping[str, str] | None = None, platform: str = sys.platform, user: str | None = None) -> str:
    """The local socket's name for this user (and display, on Linux)."""
    env = os.environ if env is None else env
    parts = [NAME_PREFIX, user or _user()]
    unix = platform.startswith(("linux", "freebsd", "openbsd", "netbsd"))
    display = (env.get("WAYLAND_DISPLAY") or env.get("DISPLAY") or "") if unix else ""
    if display:
        parts.append(display)
    key = re.sub(r"[^A-Za-z0-9_.-]", "_", "-".join(parts))
    runtime = env.get("XDG_RUNTIME_DIR", "") if unix else ""
    return str(Path(runtime) / key) if runtime and os.path.isdir(runtime) else key


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (containers): the id still separates users
        return str(os.getuid()) if hasattr(os, "getuid") else "user"


# --- the second launch ---------------------------------------------------------------------------------------------


def send_to_running(message: Message, name: str, timeout_ms: int = REPLY_TIMEOUT_MS) -> bool:
    """Give ``message`` to the instance listening on ``name``; True once it answered. Needs no application object
    (and makes none), so a launch that finds nobody goes on to create its QApplication as usual."""
    socket = QLocalSocket()
    socket.connectToServer(name)
    if not socket.waitForConnected(CONNECT_TIMEOUT_MS):
        return False
    socket.write(message.encode())
    socket.waitForBytesWritten(timeout_ms)
    reply = bytes(socket.readAll().data())
    while REPLY not in reply and socket.waitForReadyRead(timeout_ms):
        reply += bytes(socket.readAll().data())
    reply += bytes(socket.readAll().data())  # what came with the server's goodbye, which ends the wait early
    socket.abort()
    return REPLY in reply


def forward_to_running(args: list[str], name: str | None = None) -> bool:
    """The start-up check of ``glmocr-studio``: True when a running instance took this launch's request (the caller
    exits 0), False when this launch should start the window itself."""
    message = message_for(args)
    return message is not None and send_to_running(message, name or server_name())


# --- the running instance ----------------------------------------------------------------------------------------


class InstanceServer(QObject):
    """Listens for later launches and turns their messages into signals."""

    capture_requested = Signal()
    open_requested = Signal(list)  # absolute paths

    def __init__(self, name: str | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.name = name or server_name()
        self._server = QLocalServer(self)
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self._server.newConnection.connect(self._on_new_connection)
        self._buffers: dict[QLocalSocket, bytes] = {}

    def listen(self) -> bool:
        """Become the running instance: False when another one already listens (this launch should forward).

        Asked before listening, because with access options Qt binds elsewhere and renames the socket into place,
        which would silently take the name from a live instance."""
        if _someone_listens(self.name):
            return False
        QLocalServer.removeServer(self.name)  # nothing answers there: a file left by a crashed instance, if any
        if self._server.listen(self.name):
            return True
        log.warning("single-instance socket %s: %s", self.name, self._server.errorString())
        return False

    def is_listening(self) -> bool:
        return self._server.isListening()

    def close(self) -> None:
        self._server.close()

    def _on_new_connection(self) -> None:
        while self._server.hasPendingConnections():
            socket = self._server.nextPendingConnection()
            self._buffers[socket] = b""
            socket.readyRead.connect(lambda s=socket: self._on_ready_read(s))
            socket.disconnected.connect(lambda s=socket: self._forget(s))

    def _on_ready_read(self, socket: QLocalSocket) -> None:
        data = self._buffers.get(socket, b"") + bytes(socket.readAll().data())
        if len(data) > MAX_MESSAGE_BYTES:
            socket.abort()
            return
        self._buffers[socket] = data
        if b"\n" not in data:
            return
        message = Message.decode(data.split(b"\n", 1)[0])
        if message is not None:
            socket.write(REPLY)
            socket.waitForBytesWritten(REPLY_WRITE_MS)  # the reply leaves before a capture can keep this thread busy
        socket.disconnectFromServer()
        if message is not None:
            QTimer.singleShot(0, self, lambda: self._obey(message))

    def _forget(self, socket: QLocalSocket) -> None:
        self._buffers.pop(socket, None)
        socket.deleteLater()

    def _obey(self, message: Message) -> None:
        log.info("a second launch asks: %s", message.action)
        if message.action == CAPTURE:
            self.capture_requested.emit()
        elif message.action == OPEN:
            self.open_requested.emit(list(message.paths))


def _someone_listens(name: str) -> bool:
    probe = QLocalSocket()
    probe.connectToServer(name)
    alive = probe.waitForConnected(CONNECT_TIMEOUT_MS)
    probe.abort()
    return alive
