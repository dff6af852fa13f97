"""The xdg-desktop-portal Screenshot call (Wayland and Flatpak), over QtDBus.

How the call goes: ``Screenshot(parent_window, options)`` on ``org.freedesktop.portal.Desktop`` answers at once with
the object path of a *request*; the picture comes later as that request's ``Response(code, results)`` signal, with
``results["uri"]`` naming a PNG file the portal wrote (we read it and delete it). The request path is predictable
from our bus name and the ``handle_token`` we choose, so we listen on it *before* calling (a fast portal must not
answer before anyone listens).

The permission flow: GNOME (41 and later) lets an application take screenshots silently only once the user has
allowed it; KDE and wlroots portals differ in the details. We ask ``interactive=False`` first. Where the app has no
grant, portals either answer "denied" (code 2) or, in several versions, never answer at all, which is why every wait
has a timeout. Then we ask once with ``interactive=True``: the portal shows its own dialog ("Allow GLM-OCR Studio
to take screenshots?", or a screenshot picker) with a longer timeout, since a person is reading it; a grant given there
is remembered by the portal's permission store, so later captures are silent again. Code 1 is the user's cancel.
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path
from typing import Callable, Sequence
from urllib.parse import unquote, urlparse

from PySide6.QtCore import SLOT, QEventLoop, QObject, QTimer, Slot
from PySide6.QtDBus import QDBus, QDBusConnection, QDBusMessage
from PySide6.QtGui import QImage

from app.capture.grabbers import PORTAL, GrabError, GrabTarget, cut_into_screens

log = logging.getLogger(__name__)

SERVICE = "org.freedesktop.portal.Desktop"
OBJECT_PATH = "/org/freedesktop/portal/desktop"
SCREENSHOT_INTERFACE = "org.freedesktop.portal.Screenshot"
REQUEST_INTERFACE = "org.freedesktop.portal.Request"
REQUEST_PATH = "/org/freedesktop/portal/desktop/request"
SILENT_TIMEOUT_S = 10.0  # without a grant some portals never answer; a granted one answers in well under a second
DIALOG_TIMEOUT_S = 60.0  # the portal's own dialog waits for a person
CALL_TIMEOUT_MS = 3000  # the method call itself only returns the request's path
OK, CANCELLED = 0, 1
RESPONSE_SLOT = SLOT("on_response(uint,QVariantMap)")  # QtDBus matches D-Bus signals to old-style signatures

NO_BUS = "there is no D-Bus session bus, so the desktop's screenshot service cannot be asked"
SILENT_DENIED = "the desktop's screenshot service did not allow a silent screenshot"
NO_ANSWER = ("the desktop's screenshot service (xdg-desktop-portal) did not answer within {seconds:g} s: it may be "
             "waiting for a permission this app has not been given (the desktop asks in its own dialog), or "
             "xdg-desktop-portal with a backend for this desktop (xdg-desktop-portal-gnome, -kde or -wlr) is not "
             "running")
USER_CANCELLED = "the screenshot was cancelled in the desktop's dialog"
FAILED = "the desktop's screenshot service answered with error code {code}"


def request_path(bus_name: str, token: str) -> str:
    """Where the portal will publish our request: our unique name without ':' and with '.' as '_'."""
    return f"{REQUEST_PATH}/{bus_name.lstrip(':').replace('.', '_')}/{token}"


def file_from_uri(uri: str) -> Path:
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        raise GrabError(f"the screenshot service returned {uri!r}, not a local file")
    return Path(unquote(parsed.path))


class _Answer(QObject):
    """Receives the request's ``Response(u code, a{sv} results)`` (QtDBus turns the map into a dict) and ends the
    wait."""

    def __init__(self, loop: QEventLoop):
        super().__init__()
        self.loop = loop
        self.code: int | None = None
        self.results: dict = {}

    @Slot("uint", "QVariantMap")
    def on_response(self, code: int, results: dict) -> None:
        self.code, self.results = int(code), dict(results)
        self.loop.quit()


class PortalGrabber:
    """The whole desktop from the portal, cut into screens; silent first, then once with the portal's dialog."""

    name = PORTAL

    def __init__(self, bus: Callable[[], QDBusConnection] = QDBusConnection.sessionBus, *,
                 silent_timeout_s: float = SILENT_TIMEOUT_S, dialog_timeout_s: float = DIALOG_TIMEOUT_S,
                 ask_with_dialog: bool = True):
        self._bus = bus
        self._timeouts = {False: silent_timeout_s, True: dialog_timeout_s}
        self._ask_with_dialog = ask_with_dialog

    def grab(self, targets: Sequence[GrabTarget]) -> list[QImage]:
        bus = self._bus()
        if not bus.isConnected():
            raise GrabError(NO_BUS)
        try:
            uri = self.screenshot_uri(bus, interactive=False)
        except GrabError as silent_failure:
            if not self._ask_with_dialog:
                raise
            log.info("silent portal screenshot failed (%s); asking with the portal's dialog", silent_failure)
            uri = self.screenshot_uri(bus, interactive=True)
        return cut_into_screens(_read_and_delete(file_from_uri(uri)), [t.geometry for t in targets])

    def screenshot_uri(self, bus: QDBusConnection, *, interactive: bool) -> str:
        """One Screenshot request, waited for: the picture's URI, or GrabError."""
        token = f"glmocr_{secrets.token_hex(6)}"
        path = request_path(bus.baseService(), token)
        loop = QEventLoop()
        answer = _Answer(loop)
        if not bus.connect(SERVICE, path, REQUEST_INTERFACE, "Response", answer, RESPONSE_SLOT):
            raise GrabError(f"could not listen for the screenshot service's answer ({bus.lastError().message()})")
        try:
            self._call(bus, token, interactive)
            return self._wait(loop, answer, self._timeouts[interactive], interactive)
        finally:
            bus.disconnect(SERVICE, path, REQUEST_INTERFACE, "Response", answer, RESPONSE_SLOT)

    @staticmethod
    def _call(bus: QDBusConnection, token: str, interactive: bool) -> None:
        call = QDBusMessage.createMethodCall(SERVICE, OBJECT_PATH, SCREENSHOT_INTERFACE, "Screenshot")
        call.setArguments(["", {"handle_token": token, "interactive": interactive}])
        reply = bus.call(call, QDBus.CallMode.Block, CALL_TIMEOUT_MS)
        if reply.type() == QDBusMessage.MessageType.ErrorMessage:
            raise GrabError(f"the desktop's screenshot service is not available ({reply.errorMessage()})")

    @staticmethod
    def _wait(loop: QEventLoop, answer: _Answer, timeout_s: float, interactive: bool) -> str:
        timer = QTimer(singleShot=True, interval=round(timeout_s * 1000))
        timer.timeout.connect(loop.quit)
        timer.start()
        if answer.code is None:  # a portal answering during the call has already been heard
            loop.exec()
        timer.stop()
        if answer.code is None:
            raise GrabError(NO_ANSWER.format(seconds=timeout_s))
        if answer.code == OK and answer.results.get("uri"):
            return str(answer.results["uri"])
        if answer.code == CANCELLED and interactive:
            raise GrabError(USER_CANCELLED)
        raise GrabError(SILENT_DENIED if not interactive else FAILED.format(code=answer.code))


def _read_and_delete(path: Path) -> QImage:
    """The portal saved the picture for us (on GNOME in ~/Pictures): read it, then leave no file behind."""
    picture = QImage(str(path))
    try:
        path.unlink()
    except OSError as error:
        log.warning("could not delete the portal's screenshot %s: %s", path, error)
    if picture.isNull():
        raise GrabError(f"the screenshot service's file {path} is not a picture")
    return picture
