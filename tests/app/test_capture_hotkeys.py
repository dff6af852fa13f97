"""Global shortcuts: the chord a user types, its codes for X11 and Windows, and which desktops get a registered
shortcut and which the route through their own keyboard settings (the real X11 grab is in test_capture_xvfb.py)."""

import pytest

from app.capture.grabbers import Desktop
from app.capture.hotkeys import (MOD_NOREPEAT, SHORTCUT_ROUTES, Chord, HotkeyError, create_hotkey, hotkey_backend,
                                 parse_chord, shortcut_route, windows_key, x11_keysym, x11_modifiers)


@pytest.mark.parametrize("text, modifiers, key", [
    ("Ctrl+Alt+S", {"ctrl", "alt"}, "S"),
    ("ctrl + shift + 4", {"ctrl", "shift"}, "4"),
    ("Meta+Shift+f9", {"meta", "shift"}, "F9"),
    ("Super+Space", {"meta"}, "Space"),
    ("Cmd+Option+x", {"meta", "alt"}, "X"),
    ("Print", set(), "Print"),
    ("F13", set(), "F13"),
])
def test_chords_as_users_write_them(text, modifiers, key):
    assert parse_chord(text) == Chord(frozenset(modifiers), key)


@pytest.mark.parametrize("text, complaint", [
    ("S", "typing key"),
    ("Shift+S", "typing key"),
    ("Ctrl+", "not a shortcut"),
    ("", "not a shortcut"),
    ("Hyper+S", "not a modifier"),
    ("Ctrl+Alt+Tab", "not a key"),
    ("Ctrl+F25", "not a key"),
])
def test_chords_that_are_refused_say_why(text, complaint):
    with pytest.raises(HotkeyError, match=complaint):
        parse_chord(text)


def test_a_chord_prints_in_a_fixed_order():
    assert str(parse_chord("alt+shift+ctrl+meta+a")) == "Ctrl+Alt+Shift+Meta+A"


@pytest.mark.parametrize("text, keysym, mask", [
    ("Ctrl+Alt+S", 0x73, 4 | 8),  # XK_s; ControlMask | Mod1Mask
    ("Meta+Shift+F1", 0xFFBE, 64 | 1),  # XK_F1; Mod4Mask | ShiftMask
    ("Ctrl+Alt+F12", 0xFFC9, 12),
    ("Print", 0xFF61, 0),
    ("Ctrl+Alt+7", 0x37, 12),
])
def test_x11_codes(text, keysym, mask):
    chord = parse_chord(text)
    assert (x11_keysym(chord), x11_modifiers(chord)) == (keysym, mask)


@pytest.mark.parametrize("text, modifiers, vk", [
    ("Ctrl+Alt+S", 0x2 | 0x1, 0x53),  # MOD_CONTROL | MOD_ALT, 'S'
    ("Meta+Shift+F9", 0x8 | 0x4, 0x78),  # MOD_WIN | MOD_SHIFT, VK_F9
    ("Print", 0, 0x2C),  # VK_SNAPSHOT
    ("Ctrl+Space", 0x2, 0x20),
])
def test_windows_codes_never_repeat_while_held(text, modifiers, vk):
    assert windows_key(parse_chord(text)) == (modifiers | MOD_NOREPEAT, vk)


def desktop(platform="linux", **env):
    return Desktop(platform, env, lambda name: None)


@pytest.mark.parametrize("where, expected", [
    (desktop("win32"), "windows"),
    (desktop(DISPLAY=":0"), "x11"),
    (desktop(WAYLAND_DISPLAY="wayland-0", DISPLAY=":0", XDG_CURRENT_DESKTOP="GNOME"), None),  # Xwayland cannot grab
    (desktop("darwin"), None),
    (desktop(), None),
])
def test_where_the_app_registers_a_shortcut_itself(where, expected):
    assert hotkey_backend(where) == expected


def test_no_hotkey_object_where_there_is_no_backend(qapp):
    assert create_hotkey(desktop("darwin")) is None
    assert create_hotkey(desktop(WAYLAND_DISPLAY="wayland-0")) is None


@pytest.mark.parametrize("where, route", [
    (desktop(WAYLAND_DISPLAY="wayland-0", XDG_CURRENT_DESKTOP="GNOME"), "gnome"),
    (desktop(WAYLAND_DISPLAY="wayland-0", XDG_CURRENT_DESKTOP="KDE"), "kde"),
    (desktop(WAYLAND_DISPLAY="wayland-1", XDG_CURRENT_DESKTOP="sway"), "wlroots"),
    (desktop("darwin"), "darwin"),
])
def test_the_route_through_the_desktops_own_shortcut_settings(where, route):
    text = shortcut_route(where)
    assert text == SHORTCUT_ROUTES[route]
    assert "glmocr-studio --capture" in text
