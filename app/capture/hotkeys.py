"""A global shortcut that starts a capture, where the platform offers one without listening to every key.

- Windows: ``RegisterHotKey`` (user32, through ctypes). Windows posts ``WM_HOTKEY`` to this thread for that one chord
  only; a native event filter picks it up. Written to the API's documentation; not run here (no Windows machine).
- X11: a passive key grab on the root window (``XGrabKey``, libX11 through ctypes, on our own display connection),
  for the chord with and without Caps Lock and Num Lock. The X server delivers that chord alone to us. Run for real
  under Xvfb in the tests, with the key pressed through XTest.
- Wayland: an application may not grab keys. The GlobalShortcuts portal (``org.freedesktop.portal.GlobalShortcuts``:
  a session, ``BindShortcuts``, the desktop's own dialog, an ``Activated`` signal) is the way and is *not done yet*;
  until then the desktop's keyboard settings run ``glmocr-studio --capture`` (``SHORTCUT_ROUTES``).
- macOS: no application-level grab without the accessibility permission; the system route runs the command (below).

Nothing here reads any key other than the chord the user chose.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from dataclasses import dataclass

from PySide6.QtCore import QAbstractNativeEventFilter, QCoreApplication, QObject, QSocketNotifier, Signal

from app.capture.grabbers import Desktop

log = logging.getLogger(__name__)

MODIFIERS = ("ctrl", "alt", "shift", "meta")
MODIFIER_ALIASES = {"control": "ctrl", "ctl": "ctrl", "option": "alt", "win": "meta", "super": "meta",
                    "cmd": "meta", "command": "meta"}
NAMED_KEYS = ("print", "space", "insert", "pause")

SHORTCUT_ROUTES = {
    "gnome": "GNOME: Settings ▸ Keyboard ▸ View and Customize Shortcuts ▸ Custom Shortcuts ▸ +, command "
             "`glmocr-studio --capture`.",
    "kde": "KDE Plasma: System Settings ▸ Keyboard ▸ Shortcuts ▸ Add New ▸ Command or Script, "
           "`glmocr-studio --capture`.",
    "wlroots": "sway: `bindsym $mod+Shift+s exec glmocr-studio --capture` in ~/.config/sway/config (Hyprland: "
               "`bind = SUPER SHIFT, S, exec, glmocr-studio --capture`).",
    "darwin": "macOS: in the Shortcuts app make a shortcut with the action Run Shell Script, "
              "`glmocr-studio --capture` (the full path, e.g. /Applications/GLM-OCR Studio.app/Contents/MacOS/"
              "glmocr-studio), then give it a key under its Details ▸ Add Keyboard Shortcut (or System Settings ▸ "
              "Keyboard ▸ Keyboard Shortcuts ▸ Services for an Automator Quick Action).",
}


class HotkeyError(Exception):
    """The chord cannot be used: malformed, not allowed alone, or taken by another program."""


@dataclass(frozen=True)
class Chord:
    """A key with modifiers, as a user writes it in Settings ("Ctrl+Alt+S", "Print", "Meta+Shift+F9")."""

    modifiers: frozenset[str]
    key: str  # "A"…"Z", "0"…"9", "F1"…"F24", or one of NAMED_KEYS capitalised

    def __str__(self) -> str:
        names = {"ctrl": "Ctrl", "alt": "Alt", "shift": "Shift", "meta": "Meta"}
        return "+".join([names[m] for m in MODIFIERS if m in self.modifiers] + [self.key])


def parse_chord(text: str) -> Chord:
    """The chord in ``text``; HotkeyError says what is wrong. A letter, digit or Space needs Ctrl, Alt or Meta (with
    Shift alone it would swallow typing); function keys, Print, Pause and Insert may stand alone."""
    parts = [p.strip() for p in text.replace(" ", "").split("+")]
    if not text.strip() or any(not p for p in parts):
        raise HotkeyError(f"{text!r} is not a shortcut (write it like Ctrl+Alt+S)")
    *mods, key = parts
    modifiers = frozenset(MODIFIER_ALIASES.get(m.lower(), m.lower()) for m in mods)
    unknown = sorted(modifiers - set(MODIFIERS))
    if unknown:
        raise HotkeyError(f"{unknown[0]!r} is not a modifier (Ctrl, Alt, Shift, Meta)")
    key = _key_name(key)
    if _typing_key(key) and not modifiers & {"ctrl", "alt", "meta"}:
        raise HotkeyError(f"{Chord(modifiers, key)} would take a typing key: add Ctrl, Alt or Meta")
    return Chord(modifiers, key)


def _key_name(key: str) -> str:
    lowered = key.lower()
    if len(key) == 1 and key.isascii() and key.isalnum():
        return key.upper()
    if lowered.startswith("f") and lowered[1:].isdigit() and 1 <= int(lowered[1:]) <= 24:
        return f"F{int(lowered[1:])}"
    if lowered in NAMED_KEYS:
        return lowered.capitalize()
    raise HotkeyError(f"{key!r} is not a key a global shortcut can use (a letter, a digit, F1–F24, Print, Space, "
                      "Insert, Pause)")


def _typing_key(key: str) -> bool:
    return len(key) == 1 or key == "Space"


# --- key codes per platform --------------------------------------------------------------------------------------

X11_MODIFIER_MASKS = {"shift": 1, "ctrl": 4, "alt": 8, "meta": 64}  # ShiftMask, ControlMask, Mod1Mask, Mod4Mask
X11_LOCK_VARIANTS = (0, 2, 16, 2 | 16)  # none, Caps Lock (LockMask), Num Lock (Mod2Mask), both
X11_NAMED_KEYSYMS = {"Print": 0xFF61, "Space": 0x20, "Insert": 0xFF63, "Pause": 0xFF13}
WINDOWS_MODIFIERS = {"alt": 0x1, "ctrl": 0x2, "shift": 0x4, "meta": 0x8}  # MOD_ALT, MOD_CONTROL, MOD_SHIFT, MOD_WIN
MOD_NOREPEAT = 0x4000  # holding the chord down is one capture, not many
WINDOWS_NAMED_KEYS = {"Print": 0x2C, "Space": 0x20, "Insert": 0x2D, "Pause": 0x13}  # VK_SNAPSHOT, VK_SPACE, ...
WM_HOTKEY = 0x0312


def x11_keysym(chord: Chord) -> int:
    if chord.key.startswith("F") and len(chord.key) > 1:
        return 0xFFBE + int(chord.key[1:]) - 1  # XK_F1 onwards
    if len(chord.key) == 1:
        return ord(chord.key.lower())  # Latin-1 keysyms are the characters themselves
    return X11_NAMED_KEYSYMS[chord.key]


def x11_modifiers(chord: Chord) -> int:
    return sum(X11_MODIFIER_MASKS[m] for m in chord.modifiers)


def windows_key(chord: Chord) -> tuple[int, int]:
    """``(fsModifiers, vk)`` for ``RegisterHotKey``."""
    if chord.key.startswith("F") and len(chord.key) > 1:
        vk = 0x70 + int(chord.key[1:]) - 1  # VK_F1 onwards
    elif len(chord.key) == 1:
        vk = ord(chord.key)  # VK codes of letters and digits are their upper-case characters
    else:
        vk = WINDOWS_NAMED_KEYS[chord.key]
    return sum(WINDOWS_MODIFIERS[m] for m in chord.modifiers) | MOD_NOREPEAT, vk


# --- what this desktop offers --------------------------------------------------------------------------------------


def hotkey_backend(desktop: Desktop) -> str | None:
    """"windows", "x11", or None where the app cannot register a shortcut itself (see ``shortcut_route``)."""
    if desktop.platform == "win32":
        return "windows"
    if desktop.x11:
        return "x11"
    return None


def shortcut_route(desktop: Desktop) -> str:
    """How to make a key run ``glmocr-studio --capture`` where the app cannot register one itself."""
    if desktop.platform == "darwin":
        return SHORTCUT_ROUTES["darwin"]
    return SHORTCUT_ROUTES.get(desktop.family, SHORTCUT_ROUTES["gnome"] + " " + SHORTCUT_ROUTES["kde"])


class GlobalHotkey(QObject):
    """One registered chord; ``activated`` when it is pressed anywhere on the desktop."""

    activated = Signal()

    def register(self, chord: Chord) -> None:
        raise NotImplementedError

    def unregister(self) -> None:
        raise NotImplementedError


def create_hotkey(desktop: Desktop, parent: QObject | None = None) -> GlobalHotkey | None:
    backend = hotkey_backend(desktop)
    if backend == "windows":
        return WindowsHotkey(parent)
    if backend == "x11":
        return X11Hotkey(desktop.env.get("DISPLAY"), parent)
    return None


# --- X11 -------------------------------------------------------------------------------------------------------


class _XKeyEvent(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("pad", ctypes.c_long * 23)]  # XEvent is a union of 24 longs


_ERROR_HANDLER = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
X_KEY_PRESS, GRAB_MODE_ASYNC = 2, 1


def _xlib():
    path = ctypes.util.find_library("X11")
    if not path:
        raise HotkeyError("libX11 is not installed")
    x = ctypes.CDLL(path)
    x.XOpenDisplay.restype, x.XOpenDisplay.argtypes = ctypes.c_void_p, [ctypes.c_char_p]
    x.XDefaultRootWindow.restype, x.XDefaultRootWindow.argtypes = ctypes.c_ulong, [ctypes.c_void_p]
    x.XKeysymToKeycode.restype, x.XKeysymToKeycode.argtypes = ctypes.c_ubyte, [ctypes.c_void_p, ctypes.c_ulong]
    x.XGrabKey.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint, ctypes.c_ulong, ctypes.c_int, ctypes.c_int,
                           ctypes.c_int]
    x.XUngrabKey.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint, ctypes.c_ulong]
    x.XSync.argtypes = [ctypes.c_void_p, ctypes.c_int]
    x.XPending.argtypes = [ctypes.c_void_p]
    x.XNextEvent.argtypes = [ctypes.c_void_p, ctypes.POINTER(_XKeyEvent)]
    x.XConnectionNumber.argtypes = [ctypes.c_void_p]
    x.XCloseDisplay.argtypes = [ctypes.c_void_p]
    x.XSetErrorHandler.restype, x.XSetErrorHandler.argtypes = ctypes.c_void_p, [ctypes.c_void_p]
    return x


class X11Hotkey(GlobalHotkey):
    """A passive grab of one chord on the root window, on a display connection of our own (Qt's stays untouched)."""

    def __init__(self, display: str | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self._display_name = display
        self._x = None
        self._dpy = None
        self._grabs: list[tuple[int, int]] = []
        self._notifier: QSocketNotifier | None = None

    def register(self, chord: Chord) -> None:
        self.unregister()
        x = self._x = _xlib()
        dpy = x.XOpenDisplay(self._display_name.encode() if self._display_name else None)
        if not dpy:
            raise HotkeyError(f"cannot open the X display {self._display_name or ''}".strip())
        self._dpy = dpy
        keycode = x.XKeysymToKeycode(dpy, x11_keysym(chord))
        if not keycode:
            self.unregister()
            raise HotkeyError(f"this keyboard has no key for {chord.key}")
        if not self._grab(keycode, x11_modifiers(chord)):
            self.unregister()
            raise HotkeyError(f"{chord} is already taken by another program")
        self._notifier = QSocketNotifier(x.XConnectionNumber(dpy), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._drain)
        log.info("global shortcut %s grabbed on X11", chord)

    def _grab(self, keycode: int, modifiers: int) -> bool:
        """Grab every lock variant; False if the server refused any (BadAccess: someone else holds the chord)."""
        x, dpy, refused = self._x, self._dpy, []
        handler = _ERROR_HANDLER(lambda _dpy, _event: refused.append(True) or 0)
        previous = x.XSetErrorHandler(handler)  # Xlib's default handler would exit the process on BadAccess
        try:
            for lock in X11_LOCK_VARIANTS:
                x.XGrabKey(dpy, keycode, modifiers | lock, x.XDefaultRootWindow(dpy), 0, GRAB_MODE_ASYNC,
                           GRAB_MODE_ASYNC)
                self._grabs.append((keycode, modifiers | lock))
            x.XSync(dpy, 0)
        finally:
            x.XSetErrorHandler(previous)
        return not refused

    def _drain(self, *_args) -> None:
        event = _XKeyEvent()
        pressed = False
        while self._dpy and self._x.XPending(self._dpy):
            self._x.XNextEvent(self._dpy, ctypes.byref(event))
            pressed = pressed or event.type == X_KEY_PRESS
        if pressed:
            self.activated.emit()

    def unregister(self) -> None:
        if self._notifier is not None:
            self._notifier.setEnabled(False)
            self._notifier.deleteLater()
            self._notifier = None
        if self._dpy:
            root = self._x.XDefaultRootWindow(self._dpy)
            for keycode, modifiers in self._grabs:
                self._x.XUngrabKey(self._dpy, keycode, modifiers, root)
            self._x.XCloseDisplay(self._dpy)
        self._dpy, self._grabs = None, []


# --- Windows ---------------------------------------------------------------------------------------------------

HOTKEY_ID = 0x6C6D  # any id below 0xC000 that is ours alone within this thread


class _WindowsMessage(ctypes.Structure):
    _fields_ = [("hwnd", ctypes.c_void_p), ("message", ctypes.c_uint), ("wParam", ctypes.c_size_t),
                ("lParam", ctypes.c_ssize_t), ("time", ctypes.c_ulong), ("pt_x", ctypes.c_long),
                ("pt_y", ctypes.c_long)]


class _HotkeyFilter(QAbstractNativeEventFilter):
    """Sees the thread's native messages (``windows_dispatcher_MSG`` for those with no window) and keeps ours."""

    def __init__(self, on_hotkey):
        super().__init__()
        self._on_hotkey = on_hotkey

    def nativeEventFilter(self, event_type, message):  # noqa: N802 (Qt name)
        if bytes(event_type) in (b"windows_generic_MSG", b"windows_dispatcher_MSG") and message:
            msg = _WindowsMessage.from_address(int(message))
            if msg.message == WM_HOTKEY and msg.wParam == HOTKEY_ID:
                self._on_hotkey()
                return True, 0
        return False, 0


class WindowsHotkey(GlobalHotkey):
    """``RegisterHotKey(NULL, id, modifiers | MOD_NOREPEAT, vk)``: WM_HOTKEY comes to this (the GUI) thread."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._filter: _HotkeyFilter | None = None
        self._registered = False

    def register(self, chord: Chord) -> None:
        self.unregister()
        user32 = ctypes.WinDLL("user32", use_last_error=True)  # type: ignore[attr-defined]
        modifiers, vk = windows_key(chord)
        if not user32.RegisterHotKey(None, HOTKEY_ID, modifiers, vk):
            raise HotkeyError(f"{chord} is already taken by another program (error {ctypes.get_last_error()})")
        self._registered = True
        self._filter = _HotkeyFilter(self.activated.emit)
        QCoreApplication.instance().installNativeEventFilter(self._filter)

    def unregister(self) -> None:
        if self._filter is not None:
            QCoreApplication.instance().removeNativeEventFilter(self._filter)
            self._filter = None
        if self._registered:
            ctypes.WinDLL("user32").UnregisterHotKey(None, HOTKEY_ID)  # type: ignore[attr-defined]
            self._registered = False
