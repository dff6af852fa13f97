"""The xdg-desktop-portal Screenshot call over a real D-Bus: a private ``dbus-daemon`` and a stand-in portal (a
separate process, written with jeepney) that answers as real portals do: at once, "denied" until asked with its
dialog, never (as some GNOME versions do without a grant), or cancelled by the user."""

import json
import shutil
import subprocess
import sys
import textwrap
import uuid

import pytest
from PySide6.QtGui import QColor, QImage

from app.capture.geometry import Rect
from app.capture.grabbers import GrabError, GrabTarget
from app.capture.portal import NO_ANSWER, USER_CANCELLED, PortalGrabber, file_from_uri, request_path

pytest.importorskip("jeepney")
pytestmark = pytest.mark.skipif(shutil.which("dbus-daemon") is None, reason="needs dbus-daemon")

FAKE_PORTAL = textwrap.dedent("""\
    import json, sys
    from jeepney import DBusAddress, HeaderFields, MessageType, new_error, new_method_return, new_signal
    from jeepney.bus_messages import message_bus
    from jeepney.io.blocking import open_dbus_connection

    address, mode, picture, log_path = sys.argv[1:5]
    connection = open_dbus_connection(bus=address)
    connection.send_and_get_reply(message_bus.RequestName("org.freedesktop.portal.Desktop"))
    print("ready", flush=True)
    calls = []
    while True:
        message = connection.receive()
        header = message.header
        if header.message_type != MessageType.method_call:
            continue
        if header.fields.get(HeaderFields.member) != "Screenshot":
            connection.send(new_error(message, "org.freedesktop.DBus.Error.UnknownMethod", "s", ("no",)))
            continue
        _parent, options = message.body
        interactive = bool(options.get("interactive", ("b", False))[1])
        sender = header.fields[HeaderFields.sender].lstrip(":").replace(".", "_")
        path = f"/org/freedesktop/portal/desktop/request/{sender}/{options['handle_token'][1]}"
        calls.append({"interactive": interactive, "path": path})
        with open(log_path, "w") as log:
            json.dump(calls, log)
        connection.send(new_method_return(message, "o", (path,)))
        if mode == "never" or (mode == "silent-until-dialog" and not interactive):
            continue
        code = {"answer": 0, "cancel": 1}.get(mode, 0 if interactive else 2)  # "deny-silent": 2, then 0
        results = {"uri": ("s", "file://" + picture), "extra": ("u", 7)} if code == 0 else {}
        request = DBusAddress(path, interface="org.freedesktop.portal.Request")
        connection.send(new_signal(request, "Response", "ua{sv}", (code, results)))
""")


@pytest.fixture
def session_bus():
    """A private session bus (its address); the test's own connection to it is made per test."""
    daemon = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--print-address=1"], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    try:
        yield daemon.stdout.readline().strip()
    finally:
        daemon.kill()
        daemon.wait()


@pytest.fixture
def portal(session_bus, tmp_path, qapp):
    """``portal(mode)``: a stand-in portal on the bus; returns (grabber factory, calls log, picture path)."""
    from PySide6.QtDBus import QDBusConnection

    started, names = [], []

    def start(mode):
        picture = tmp_path / "Screenshot.png"
        green_desktop().save(str(picture))
        log = tmp_path / "calls.json"
        process = subprocess.Popen([sys.executable, "-c", FAKE_PORTAL, session_bus, mode, str(picture), str(log)],
                                   stdout=subprocess.PIPE, text=True)
        started.append(process)
        assert process.stdout.readline().strip() == "ready"
        name = f"capture-test-{uuid.uuid4().hex}"
        names.append(name)
        bus = QDBusConnection.connectToBus(session_bus, name)
        assert bus.isConnected()
        return (lambda **options: PortalGrabber(lambda: bus, **options)), log, picture

    yield start
    for process in started:
        process.kill()
        process.wait()
    for name in names:
        QDBusConnection.disconnectFromBus(name)


def green_desktop():
    picture = QImage(200, 100, QImage.Format.Format_RGB32)
    picture.fill(QColor("green"))
    return picture


TARGETS = [GrabTarget(Rect(-100, 0, 100, 100), 1.0), GrabTarget(Rect(0, 0, 100, 100), 1.0)]
QUICK = dict(silent_timeout_s=0.5, dialog_timeout_s=0.5)


def calls(log):
    return [call["interactive"] for call in json.loads(log.read_text())]


def test_a_granted_portal_answers_the_silent_call(portal):
    grabber, log, picture = portal("answer")
    left, right = grabber(**QUICK).grab(TARGETS)
    assert left.size().toTuple() == right.size().toTuple() == (100, 100)
    assert left.pixelColor(50, 50) == QColor("green")
    assert calls(log) == [False]
    assert not picture.exists()  # the portal's file is not left in the user's Pictures folder


def test_a_silent_refusal_is_followed_by_one_call_with_the_portal_dialog(portal):
    grabber, log, _ = portal("deny-silent")
    assert len(grabber(**QUICK).grab(TARGETS)) == 2
    assert calls(log) == [False, True]


def test_a_portal_that_never_answers_the_silent_call_is_asked_with_its_dialog(portal):
    grabber, log, _ = portal("silent-until-dialog")
    assert len(grabber(silent_timeout_s=0.3, dialog_timeout_s=5).grab(TARGETS)) == 2
    assert calls(log) == [False, True]


def test_a_portal_that_never_answers_ends_in_a_timeout_that_explains_the_permission(portal):
    grabber, log, picture = portal("never")
    with pytest.raises(GrabError) as raised:
        grabber(**QUICK).grab(TARGETS)
    assert str(raised.value) == NO_ANSWER.format(seconds=0.5)
    assert calls(log) == [False, True]
    assert picture.exists()  # nothing was handed over, nothing deleted


def test_the_user_cancelling_the_portal_dialog_says_so(portal):
    grabber, _, _ = portal("cancel")
    with pytest.raises(GrabError, match=USER_CANCELLED):
        grabber(**QUICK).grab(TARGETS)


def test_without_the_dialog_fallback_a_refusal_is_final(portal):
    grabber, log, _ = portal("deny-silent")
    with pytest.raises(GrabError, match="did not allow a silent screenshot"):
        grabber(ask_with_dialog=False, **QUICK).grab(TARGETS)
    assert calls(log) == [False]


def test_no_portal_on_the_bus_is_an_error_not_a_wait(session_bus, qapp):
    from PySide6.QtDBus import QDBusConnection

    name = f"capture-test-{uuid.uuid4().hex}"
    bus = QDBusConnection.connectToBus(session_bus, name)
    try:
        with pytest.raises(GrabError, match="not available"):
            PortalGrabber(lambda: bus, **QUICK).grab(TARGETS)
    finally:
        QDBusConnection.disconnectFromBus(name)


def test_request_path_follows_the_portal_rule():
    assert request_path(":1.42", "glmocr_x") == "/org/freedesktop/portal/desktop/request/1_42/glmocr_x"


def test_only_local_files_are_read():
    assert str(file_from_uri("file:///home/me/Pictures/Screenshot%20from%202026.png")) == \
        "/home/me/Pictures/Screenshot from 2026.png"
    with pytest.raises(GrabError):
        file_from_uri("https://example.com/x.png")
