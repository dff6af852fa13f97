"""Taking the pictures: a chain of grabbers chosen by the desktop in use, each tried until one works.

A grabber returns one picture per screen (in the order of the targets it is given) or raises ``GrabError`` with a
sentence a user can act on; the chain then tries the next one and, when all fail, says what each one said.

Which grabbers, in which order (``grabber_names``):

- Windows, X11: Qt's ``QScreen.grabWindow(0)``, one screen at a time at its native resolution.
- macOS: the same, after checking the screen-recording permission: without it macOS returns the wallpaper alone
  (an "empty desktop"), so the chain stops and tells the user where to allow it.
- Wayland: an application may not read the screen itself. GNOME: the xdg-desktop-portal Screenshot call
  (``portal.py``), then ``gnome-screenshot``; KDE: ``spectacle`` (no dialog), then the portal; wlroots compositors
  (sway, Hyprland, river…): ``grim``, then the portal; a Flatpak sandbox: the portal alone. These tools return the
  whole desktop in one picture, cut into screens by ``geometry.split_desktop``.

The environment comes in as data (``Desktop``: platform, environment mapping, a ``which`` function), so a test can
be any desktop. Command-line tools run as argument lists (never a shell string) with a timeout.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Protocol, Sequence

from PySide6.QtGui import QImage

from app.capture.geometry import LayoutMismatch, Rect, split_desktop

log = logging.getLogger(__name__)

QT, PORTAL, GRIM, SPECTACLE, GNOME_SCREENSHOT = "qt", "portal", "grim", "spectacle", "gnome-screenshot"
TOOL_TIMEOUT_S = 5.0  # a screenshot tool that has not written its file by then is stuck (or waiting for a dialog)
INSTALL_HINTS = {
    GRIM: "install the grim package",
    SPECTACLE: "install KDE's spectacle",
    GNOME_SCREENSHOT: "install the gnome-screenshot package",
}
MACOS_PERMISSION_HELP = (
    "macOS has not allowed GLM-OCR Studio to record the screen, so a capture would show only the wallpaper. "
    "Open System Settings ▸ Privacy & Security ▸ Screen & System Audio Recording (Screen Recording on macOS 14 and "
    "older), switch GLM-OCR Studio on (or add it with +), then quit and start GLM-OCR Studio again.")


class GrabError(Exception):
    """A grabber could not take the pictures; the message says why, in words a user can act on."""


@dataclass(frozen=True)
class GrabTarget:
    """One screen to grab: its logical geometry and ratio, and the ``QScreen`` for grabbers that ask Qt."""

    geometry: Rect
    ratio: float
    qscreen: object | None = None


class Grabber(Protocol):
    name: str

    def grab(self, targets: Sequence[GrabTarget]) -> list[QImage]: ...


# --- the environment -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Desktop:
    """What decides the grabbers: ``sys.platform``, the environment variables, and how to find a program."""

    platform: str
    env: Mapping[str, str]
    which: Callable[[str], str | None] = shutil.which

    @classmethod
    def current(cls) -> Desktop:
        import os

        return cls(sys.platform, dict(os.environ), shutil.which)

    @property
    def unix(self) -> bool:
        return self.platform.startswith(("linux", "freebsd", "openbsd", "netbsd"))

    @property
    def wayland(self) -> bool:
        return self.unix and (bool(self.env.get("WAYLAND_DISPLAY"))
                              or self.env.get("XDG_SESSION_TYPE", "").lower() == "wayland")

    @property
    def x11(self) -> bool:
        return self.unix and not self.wayland and bool(self.env.get("DISPLAY"))

    @property
    def flatpak(self) -> bool:
        return self.unix and bool(self.env.get("FLATPAK_ID"))

    @property
    def family(self) -> str:
        """gnome, kde, wlroots (sway, Hyprland, river and other compositors built on wlroots) or other."""
        names = ":".join(self.env.get(k, "") for k in ("XDG_CURRENT_DESKTOP", "DESKTOP_SESSION")).lower()
        if "gnome" in names or "unity" in names or _real(self.env.get("GNOME_DESKTOP_SESSION_ID", "")):
            return "gnome"
        if "kde" in names or self.env.get("KDE_FULL_SESSION"):
            return "kde"
        if any(name in names for name in ("sway", "hyprland", "river", "wayfire", "labwc", "niri")) \
                or self.env.get("SWAYSOCK") or self.env.get("HYPRLAND_INSTANCE_SIGNATURE"):
            return "wlroots"
        return "other"


def _real(session_id: str) -> bool:
    return bool(session_id) and session_id != "this-is-deprecated"  # GNOME keeps the variable set for old scripts


def grabber_names(desktop: Desktop) -> list[str]:
    """The grabbers worth trying on this desktop, most preferred first (tools not yet checked for)."""
    if desktop.platform == "win32" or desktop.platform == "darwin":
        return [QT]
    if not desktop.unix:
        return [QT]
    if desktop.flatpak:
        return [PORTAL]  # the sandbox sees neither the display server nor the host's tools
    if not desktop.wayland:
        return [QT] if desktop.x11 else []
    return {"gnome": [PORTAL, GNOME_SCREENSHOT], "kde": [SPECTACLE, PORTAL],
            "wlroots": [GRIM, PORTAL]}.get(desktop.family, [PORTAL, GRIM])


# --- the chain -------------------------------------------------------------------------------------------------


@dataclass
class GrabChain:
    """Grabbers in order, and the ones left out with the reason (shown when every grabber fails)."""

    grabbers: list[Grabber]
    left_out: list[str] = field(default_factory=list)

    def grab(self, targets: Sequence[GrabTarget]) -> tuple[str, list[QImage]]:
        """The first grabber's pictures that work: ``(its name, one picture per target)``."""
        failures = []
        for grabber in self.grabbers:
            try:
                pictures = grabber.grab(targets)
            except GrabError as error:
                log.warning("screen grab with %s failed: %s", grabber.name, error)
                failures.append(f"{grabber.name}: {error}")
                continue
            log.info("screen grabbed with %s", grabber.name)
            return grabber.name, pictures
        raise GrabError(_all_failed(failures + self.left_out))


def _all_failed(reasons: list[str]) -> str:
    if not reasons:
        return "There is no way to take a screenshot on this desktop (no display found)."
    return "The screen could not be captured. " + " ".join(f"{reason.rstrip('.')}." for reason in reasons)


def build_chain(desktop: Desktop, *, portal_factory: Callable[[], Grabber] | None = None,
                run: Callable = subprocess.run, screen_capture_allowed: Callable[[], bool | None] | None = None
                ) -> GrabChain:
    """The chain for ``desktop``: tools that are not installed are left out (with a hint how to get them)."""
    chain = GrabChain([])
    for name in grabber_names(desktop):
        if name == QT:
            chain.grabbers.append(QtGrabber(_permission_check(desktop, screen_capture_allowed)))
        elif name == PORTAL:
            chain.grabbers.append((portal_factory or _default_portal)())
        elif desktop.which(name):
            chain.grabbers.append(CommandGrabber(name, run=run))
        else:
            chain.left_out.append(f"{name}: not installed ({INSTALL_HINTS[name]})")
    return chain


def _permission_check(desktop: Desktop, given: Callable[[], bool | None] | None) -> Callable[[], bool | None]:
    """macOS asks for the screen-recording permission; elsewhere there is nothing to ask."""
    if desktop.platform != "darwin":
        return lambda: None
    return given or macos_screen_capture_allowed


def _default_portal() -> Grabber:
    from app.capture.portal import PortalGrabber  # QtDBus loads only where the portal is a choice

    return PortalGrabber()


# --- Qt ----------------------------------------------------------------------------------------------------------


class QtGrabber:
    """``QScreen.grabWindow(0)`` per screen: native pixels on X11, Windows and macOS (empty on Wayland).

    ``allowed`` is the platform's permission check: False stops with guidance, None (no check here) grabs."""

    name = QT

    def __init__(self, allowed: Callable[[], bool | None] = lambda: None):
        self._allowed = allowed

    def grab(self, targets: Sequence[GrabTarget]) -> list[QImage]:
        if self._allowed() is False:
            raise GrabError(MACOS_PERMISSION_HELP)
        return [self._grab_one(target) for target in targets]

    @staticmethod
    def _grab_one(target: GrabTarget) -> QImage:
        if target.qscreen is None:
            raise GrabError("Qt has no screen object for this screen")
        picture = target.qscreen.grabWindow(0).toImage()
        if picture.isNull() or picture.width() == 0:
            raise GrabError(f"Qt returned no picture of screen {target.qscreen.name()}")
        return picture


# --- command-line tools ------------------------------------------------------------------------------------------


def tool_arguments(name: str, output: str) -> list[str]:
    """The argument list that makes ``name`` write a picture of the whole desktop to ``output``, silently."""
    return {GRIM: [GRIM, output],
            SPECTACLE: [SPECTACLE, "--fullscreen", "--background", "--nonotify", "--output", output],
            GNOME_SCREENSHOT: [GNOME_SCREENSHOT, "--file", output]}[name]


class CommandGrabber:
    """A screenshot tool that writes the whole desktop to a file, cut into screens here."""

    def __init__(self, name: str, *, run: Callable = subprocess.run, timeout_s: float = TOOL_TIMEOUT_S):
        self.name, self._run, self._timeout_s = name, run, timeout_s

    def grab(self, targets: Sequence[GrabTarget]) -> list[QImage]:
        with tempfile.TemporaryDirectory(prefix="glmocr-capture-") as folder:
            output = str(Path(folder) / "desktop.png")
            self._run_tool(output)
            desktop = QImage(output)
        if desktop.isNull():
            raise GrabError(f"{self.name} wrote no picture")
        return cut_into_screens(desktop, [target.geometry for target in targets])

    def _run_tool(self, output: str) -> None:
        try:
            done = self._run(tool_arguments(self.name, output), capture_output=True, text=True,
                             timeout=self._timeout_s, check=False)
        except subprocess.TimeoutExpired:
            raise GrabError(f"{self.name} did not finish within {self._timeout_s:g} s") from None
        except OSError as error:
            raise GrabError(f"{self.name} could not be started ({error.strerror or error})") from None
        if done.returncode != 0:
            detail = (done.stderr or done.stdout or "").strip().splitlines()
            raise GrabError(f"{self.name} failed (exit {done.returncode}"
                            + (f": {detail[-1]}" if detail else "") + ")")


def cut_into_screens(desktop: QImage, geometries: list[Rect]) -> list[QImage]:
    """One picture per screen out of a whole-desktop picture."""
    try:
        rects = split_desktop(geometries, (desktop.width(), desktop.height()))
    except LayoutMismatch as error:
        raise GrabError(str(error)) from None
    return [desktop.copy(r.x, r.y, r.width, r.height) for r in rects]


# --- macOS ---------------------------------------------------------------------------------------------------------


def macos_screen_capture_allowed(find_library: Callable[[str], str | None] = ctypes.util.find_library,
                                 load: Callable[[str], object] = ctypes.cdll.LoadLibrary) -> bool | None:
    """CoreGraphics' answer to "may this app record the screen?" (macOS 10.15+); None where it cannot be asked.

    When the answer is no, the system's own prompt is requested once (``CGRequestScreenCaptureAccess``): macOS shows
    it the first time only and lists the app under Screen Recording either way, which is where the message points."""
    path = find_library("CoreGraphics")
    if not path:
        return None
    try:
        graphics = load(path)
        allowed = bool(graphics.CGPreflightScreenCaptureAccess())
        if not allowed:
            graphics.CGRequestScreenCaptureAccess()
        return allowed
    except (OSError, AttributeError) as error:  # older macOS without these calls: grab and hope
        log.warning("could not ask macOS for the screen-recording permission: %s", error)
        return None
