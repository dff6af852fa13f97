"""The tray icon and the global shortcut follow Settings while the studio runs (they used to change only at the next
start): fakes stand in for the desktop's tray and hotkey, the real Settings and the real settings dialog drive them."""

from PySide6.QtCore import QObject, Signal

from app.capture.desktop_hooks import DesktopHooks
from app.capture.hotkeys import HotkeyError
from app.settings import Settings


class FakeTray(QObject):
    capture_requested = Signal()
    open_window_requested = Signal()
    quit_requested = Signal()

    def __init__(self):
        super().__init__()
        self.shown = True

    def hide(self):
        self.shown = False


class FakeHotkey(QObject):
    activated = Signal()

    def __init__(self, taken=()):
        super().__init__()
        self.taken, self.registered, self.history = set(taken), None, []

    def register(self, chord):
        if str(chord) in self.taken:
            raise HotkeyError(f"{chord} is taken by another program")
        self.registered = str(chord)
        self.history.append(("register", str(chord)))

    def unregister(self):
        self.history.append(("unregister", self.registered))
        self.registered = None


def make_hooks(settings, hotkey=None, tray_available=True):
    made = {"trays": [], "hotkeys": [], "reports": []}

    def make_tray():
        if not tray_available:
            return None
        made["trays"].append(FakeTray())
        return made["trays"][-1]

    def make_hotkey():
        made["hotkeys"].append(hotkey or FakeHotkey())
        return made["hotkeys"][-1]

    hooks = DesktopHooks(settings, make_tray, make_hotkey, made["reports"].append)
    return hooks, made


def test_the_tray_comes_and_goes_with_its_setting_and_its_signals_stay_wired(tmp_path, qtbot):
    settings = Settings(tmp_path / "s.ini")
    settings.set("capture/tray_icon", True)
    hooks, made = make_hooks(settings)
    captures = []
    hooks.capture_requested.connect(lambda: captures.append(1))
    assert hooks.tray is made["trays"][0]
    settings.set("capture/tray_icon", False)
    hooks.follow(["capture/tray_icon"])
    assert hooks.tray is None and not made["trays"][0].shown
    settings.set("capture/tray_icon", True)
    hooks.follow(["capture/tray_icon"])
    made["trays"][1].capture_requested.emit()  # a tray made after the wiring still starts a capture
    assert len(made["trays"]) == 2 and captures == [1]


def test_a_changed_shortcut_gives_the_old_chord_back_and_takes_the_new_one_at_once(tmp_path, qtbot):
    settings = Settings(tmp_path / "s.ini")
    settings.set("capture/shortcut", "Ctrl+Alt+S")
    hooks, made = make_hooks(settings)
    hotkey = made["hotkeys"][0]
    settings.set("capture/shortcut", "Ctrl+Alt+D")
    hooks.follow(["capture/shortcut", "theme"])
    assert [step for step, _ in hotkey.history] == ["register", "unregister", "register"]
    assert hotkey.registered is not None and "D" in hotkey.registered and hooks.shortcut == "Ctrl+Alt+D"
    captures = []
    hooks.capture_requested.connect(lambda: captures.append(1))
    hotkey.activated.emit()
    settings.set("capture/shortcut", "")
    hooks.follow(["capture/shortcut"])
    assert captures == [1] and hotkey.registered is None and hooks.shortcut == ""
    assert len(made["hotkeys"]) == 1  # one hotkey object for the whole run


def test_a_chord_that_cannot_be_taken_is_reported_and_nothing_stays_registered(tmp_path, qtbot):
    settings = Settings(tmp_path / "s.ini")
    settings.set("capture/shortcut", "Ctrl+Alt+S")
    hotkey = FakeHotkey(taken={"Ctrl+Alt+P"})
    hooks, made = make_hooks(settings, hotkey)
    for text, reported in (("Ctrl+Alt+P", "taken by another program"), ("S", "would take a typing key")):
        settings.set("capture/shortcut", text)
        hooks.follow(["capture/shortcut"])
        assert reported in made["reports"][-1] and hooks.shortcut == "" and hotkey.registered is None
    hooks.close()
    assert hotkey.registered is None


def test_no_tray_and_no_hotkey_on_this_desktop_is_not_an_error(tmp_path, qtbot):
    settings = Settings(tmp_path / "s.ini")
    settings.set("capture/tray_icon", True)
    settings.set("capture/shortcut", "Ctrl+Alt+S")
    hooks = DesktopHooks(settings, lambda: None, lambda: None, lambda message: None)
    assert hooks.tray is None and hooks.hotkey is None and hooks.shortcut == ""
    hooks.close()


def test_the_composed_app_follows_the_settings_dialog_with_its_tray_shortcut_and_release(make_studio, qapp, tmp_path,
                                                                                          monkeypatch):
    """``install_capture`` (the composition root's capture part) with the desktop's tray and hotkey faked: applying
    changed settings reaches the tray, the shortcut and the capture controller while the window runs."""
    from app import main
    from app.capture import hotkeys, single_instance, tray

    hotkey = FakeHotkey()
    monkeypatch.setattr(single_instance, "server_name", lambda *args, **kwargs: str(tmp_path / "studio.sock"))
    monkeypatch.setattr(tray, "create_tray", lambda icon=None, parent=None: FakeTray())
    monkeypatch.setattr(hotkeys, "create_hotkey", lambda desktop, parent=None: hotkey)
    studio = make_studio(**{"capture/tray_icon": False, "capture/shortcut": "", "capture/confirm_on_release": True})
    parts = main.install_capture(qapp, studio)
    try:
        assert parts.hooks.tray is None and hotkey.registered is None and parts.controller.confirm_on_release
        changes = {"capture/tray_icon": True, "capture/shortcut": "Ctrl+Alt+S", "capture/confirm_on_release": False}
        for name, value in changes.items():
            studio.settings.set(name, value)
        studio.model.apply_settings(list(changes))
        assert parts.hooks.tray is not None and hotkey.registered is not None
        assert parts.controller.confirm_on_release is False
    finally:
        parts.hooks.close()
        parts.server.close()
