"""The grabber chain: which grabbers each desktop gets, in which order; the chain falling through to the next one;
the command-line tools run for real (stand-ins on PATH that behave like grim, spectacle and gnome-screenshot: write,
fail, hang); Qt's grab; the macOS permission check."""

import os
import stat
import subprocess
import sys
import textwrap

import pytest
from PySide6.QtGui import QColor, QImage, QPainter

from app.capture.geometry import Rect
from app.capture.grabbers import (GNOME_SCREENSHOT, GRIM, MACOS_PERMISSION_HELP, PORTAL, QT, SPECTACLE,
                                  CommandGrabber, Desktop, GrabChain, GrabError, GrabTarget, QtGrabber, build_chain,
                                  cut_into_screens, grabber_names, macos_screen_capture_allowed, tool_arguments)

INSTALLED = {"grim", "spectacle", "gnome-screenshot"}


def desktop(platform="linux", installed=INSTALLED, **env):
    return Desktop(platform, env, lambda name: f"/usr/bin/{name}" if name in installed else None)


GNOME_WAYLAND = dict(WAYLAND_DISPLAY="wayland-0", XDG_SESSION_TYPE="wayland", XDG_CURRENT_DESKTOP="GNOME")
KDE_WAYLAND = dict(WAYLAND_DISPLAY="wayland-0", XDG_SESSION_TYPE="wayland", XDG_CURRENT_DESKTOP="KDE",
                   KDE_FULL_SESSION="true")
SWAY = dict(WAYLAND_DISPLAY="wayland-1", XDG_CURRENT_DESKTOP="sway", SWAYSOCK="/run/user/1000/sway-ipc.sock")
HYPRLAND = dict(WAYLAND_DISPLAY="wayland-1", HYPRLAND_INSTANCE_SIGNATURE="abc")
X11 = dict(DISPLAY=":0", XDG_SESSION_TYPE="x11", XDG_CURRENT_DESKTOP="GNOME")


@pytest.mark.parametrize("name, env, platform, expected", [
    ("GNOME on Wayland", GNOME_WAYLAND, "linux", [PORTAL, GNOME_SCREENSHOT]),
    ("KDE on Wayland", KDE_WAYLAND, "linux", [SPECTACLE, PORTAL]),
    ("sway", SWAY, "linux", [GRIM, PORTAL]),
    ("Hyprland", HYPRLAND, "linux", [GRIM, PORTAL]),
    ("another Wayland compositor", dict(WAYLAND_DISPLAY="wayland-0"), "linux", [PORTAL, GRIM]),
    ("GNOME on X11", X11, "linux", [QT]),
    ("X11 on FreeBSD", dict(DISPLAY=":0"), "freebsd14", [QT]),
    ("a Flatpak on GNOME Wayland", {**GNOME_WAYLAND, "FLATPAK_ID": "org.glmocr.Studio"}, "linux", [PORTAL]),
    ("Windows", {}, "win32", [QT]),
    ("macOS", {}, "darwin", [QT]),
    ("no display at all", {}, "linux", []),
])
def test_grabbers_chosen_per_desktop(name, env, platform, expected):
    assert grabber_names(desktop(platform, **env)) == expected, name


def test_gnome_keeps_its_deprecated_session_id_out_of_the_decision():
    fake_gnome = desktop(WAYLAND_DISPLAY="wayland-0", GNOME_DESKTOP_SESSION_ID="this-is-deprecated",
                         XDG_CURRENT_DESKTOP="sway")
    assert fake_gnome.family == "wlroots"


def test_a_tool_that_is_not_installed_is_left_out_with_how_to_get_it():
    chain = build_chain(desktop(installed=set(), **SWAY), portal_factory=lambda: NamedGrabber(PORTAL))
    assert [g.name for g in chain.grabbers] == [PORTAL]
    assert chain.left_out == ["grim: not installed (install the grim package)"]


def test_the_chain_for_kde_has_spectacle_then_the_portal():
    chain = build_chain(desktop(**KDE_WAYLAND), portal_factory=lambda: NamedGrabber(PORTAL))
    assert [g.name for g in chain.grabbers] == [SPECTACLE, PORTAL]
    assert isinstance(chain.grabbers[0], CommandGrabber)


def test_macos_without_the_permission_stops_with_where_to_grant_it():
    chain = build_chain(desktop("darwin"), screen_capture_allowed=lambda: False)
    with pytest.raises(GrabError) as raised:
        chain.grab([GrabTarget(Rect(0, 0, 10, 10), 2.0, qscreen=None)])
    assert MACOS_PERMISSION_HELP.rstrip(".") in str(raised.value)
    assert "Privacy & Security" in str(raised.value)


def test_macos_with_the_permission_grabs_with_qt(qapp):
    chain = build_chain(desktop("darwin"), screen_capture_allowed=lambda: True)
    screen = qapp.primaryScreen()
    name, pictures = chain.grab([target_of(screen)])
    assert name == QT and pictures[0].size() == screen.grabWindow(0).size()


class FakeCoreGraphics:
    def __init__(self, allowed):
        self.allowed, self.requests = allowed, 0

    def CGPreflightScreenCaptureAccess(self):  # noqa: N802 (the C name)
        return int(self.allowed)

    def CGRequestScreenCaptureAccess(self):  # noqa: N802
        self.requests += 1
        return 0


@pytest.mark.parametrize("allowed", [True, False])
def test_macos_permission_asks_core_graphics_and_requests_the_prompt_only_when_missing(allowed):
    graphics = FakeCoreGraphics(allowed)
    assert macos_screen_capture_allowed(lambda name: "/System/CoreGraphics", lambda path: graphics) is allowed
    assert graphics.requests == (0 if allowed else 1)


def test_macos_permission_unknown_without_core_graphics():
    assert macos_screen_capture_allowed(lambda name: None) is None


class NamedGrabber:
    def __init__(self, name, pictures=None, error=None):
        self.name, self.pictures, self.error, self.calls = name, pictures, error, 0

    def grab(self, targets):
        self.calls += 1
        if self.error:
            raise GrabError(self.error)
        return self.pictures


def test_the_chain_tries_the_next_grabber_after_a_failure():
    picture = QImage(4, 4, QImage.Format.Format_RGB32)
    first, second = NamedGrabber(PORTAL, error="no answer"), NamedGrabber(GRIM, pictures=[picture])
    assert GrabChain([first, second]).grab([]) == (GRIM, [picture])
    assert first.calls == second.calls == 1


def test_when_every_grabber_fails_the_message_says_what_each_said():
    chain = GrabChain([NamedGrabber(PORTAL, error="it did not answer")], left_out=["grim: not installed (x)"])
    with pytest.raises(GrabError) as raised:
        chain.grab([])
    assert str(raised.value) == ("The screen could not be captured. portal: it did not answer. "
                                 "grim: not installed (x).")


def test_no_display_says_so():
    with pytest.raises(GrabError, match="no display"):
        build_chain(desktop()).grab([])


# --- Qt --------------------------------------------------------------------------------------------------------


def target_of(screen):
    g = screen.geometry()
    return GrabTarget(Rect(g.x(), g.y(), g.width(), g.height()), screen.devicePixelRatio(), screen)


def test_qt_grabs_each_screen_at_its_native_size(qapp):
    screens = qapp.screens()
    pictures = QtGrabber().grab([target_of(s) for s in screens])
    assert [p.size() for p in pictures] == [s.grabWindow(0).size() for s in screens]
    assert all(not p.isNull() for p in pictures)


def test_qt_without_a_screen_object_is_an_error():
    with pytest.raises(GrabError):
        QtGrabber().grab([GrabTarget(Rect(0, 0, 10, 10), 1.0)])


# --- command-line tools, run for real --------------------------------------------------------------------------

FAKE_TOOL = textwrap.dedent("""\
    #!{python}
    import os, shutil, sys, time
    args = sys.argv[1:]
    mode = os.environ.get("FAKE_TOOL_MODE", "write")
    with open(os.environ["FAKE_TOOL_LOG"], "a") as log:
        log.write(" ".join([os.path.basename(sys.argv[0])] + args) + "\\n")
    for flag in ("--output", "--file"):
        if flag in args:
            output = args[args.index(flag) + 1]
            break
    else:
        output = args[-1]
    if mode == "fail":
        sys.stderr.write("compositor doesn't support wlr-screencopy-unstable-v1\\n")
        sys.exit(1)
    if mode == "hang":
        time.sleep(60)
    if mode == "write":
        shutil.copy(os.environ["FAKE_DESKTOP"], output)
""")


@pytest.fixture
def fake_tools(tmp_path, monkeypatch, qapp):
    """grim, spectacle and gnome-screenshot stand-ins first on PATH; the desktop they "see" is 300 × 100: red on
    the left 200 pixels, blue on the right 100."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for name in (GRIM, SPECTACLE, GNOME_SCREENSHOT):
        tool = folder / name
        tool.write_text(FAKE_TOOL.format(python=sys.executable))
        tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    two_colours(300, 100, split=200).save(str(tmp_path / "desktop.png"))
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_DESKTOP", str(tmp_path / "desktop.png"))
    monkeypatch.setenv("FAKE_TOOL_LOG", str(tmp_path / "calls.log"))
    return tmp_path


def two_colours(width, height, split):
    """Red left of ``split``, blue from it on (painted, not set pixel by pixel: PySide6 6.12 on CPython 3.11 drops
    a reference to None on every call of a method returning nothing, and thousands of them abort the interpreter)."""
    picture = QImage(width, height, QImage.Format.Format_RGB32)
    picture.fill(QColor("red"))
    painter = QPainter(picture)
    painter.fillRect(split, 0, width - split, height, QColor("blue"))
    painter.end()
    return picture


SIDE_BY_SIDE = [GrabTarget(Rect(0, 0, 200, 100), 1.0), GrabTarget(Rect(200, 0, 100, 100), 1.0)]
LEFT_OF_PRIMARY = [GrabTarget(Rect(-200, 0, 200, 100), 1.0), GrabTarget(Rect(0, 0, 100, 100), 1.0)]


@pytest.mark.parametrize("tool", [GRIM, SPECTACLE, GNOME_SCREENSHOT])
@pytest.mark.parametrize("targets", [SIDE_BY_SIDE, LEFT_OF_PRIMARY], ids=["side-by-side", "left-of-primary"])
def test_a_tool_writes_the_desktop_and_it_is_cut_into_screens(fake_tools, tool, targets):
    left, right = CommandGrabber(tool).grab(targets)
    assert (left.size().toTuple(), right.size().toTuple()) == ((200, 100), (100, 100))
    assert left.pixelColor(199, 50) == QColor("red") and right.pixelColor(0, 50) == QColor("blue")
    call = (fake_tools / "calls.log").read_text().split()
    assert call[:-1] == tool_arguments(tool, "OUT")[:-1]  # the documented arguments, the file last


def test_a_tool_that_fails_says_why(fake_tools, monkeypatch):
    monkeypatch.setenv("FAKE_TOOL_MODE", "fail")
    with pytest.raises(GrabError, match=r"grim failed \(exit 1: compositor doesn't support wlr-screencopy"):
        CommandGrabber(GRIM).grab(SIDE_BY_SIDE)


def test_a_tool_that_hangs_is_stopped_by_its_timeout(fake_tools, monkeypatch):
    monkeypatch.setenv("FAKE_TOOL_MODE", "hang")
    with pytest.raises(GrabError, match="did not finish within 0.5 s"):
        CommandGrabber(SPECTACLE, timeout_s=0.5).grab(SIDE_BY_SIDE)


def test_a_tool_that_writes_nothing_is_an_error(fake_tools, monkeypatch):
    monkeypatch.setenv("FAKE_TOOL_MODE", "nothing")
    with pytest.raises(GrabError, match="wrote no picture"):
        CommandGrabber(GNOME_SCREENSHOT).grab(SIDE_BY_SIDE)


def test_a_tool_that_cannot_start_is_an_error(tmp_path):
    def missing(*args, **kwargs):
        raise FileNotFoundError(2, "No such file or directory")

    with pytest.raises(GrabError, match="could not be started"):
        CommandGrabber(GRIM, run=missing).grab(SIDE_BY_SIDE)


def test_tools_are_run_as_argument_lists_never_through_a_shell(fake_tools):
    seen = {}

    def recording_run(args, **options):
        seen.update(args=args, **options)
        return subprocess.run(args, **options)  # noqa: PLW1510 (check=False is among the options)

    CommandGrabber(GRIM, run=recording_run).grab(SIDE_BY_SIDE)
    assert isinstance(seen["args"], list) and not seen.get("shell") and seen["timeout"] > 0


def test_a_desktop_picture_that_does_not_fit_the_layout_is_refused(qapp):
    picture = QImage(100, 300, QImage.Format.Format_RGB32)
    with pytest.raises(GrabError, match="one scale"):
        cut_into_screens(picture, [Rect(0, 0, 300, 100)])
