"""Installer builds stay consistent: one ``glmocr-studio`` command, versions, icons, document types, data paths.

Nothing here runs PyInstaller or an installer tool. The spec is executed with stand-ins for PyInstaller's build
classes, so the tests see what it would build on each OS; the data files under packaging/ (desktop entry, plist,
Inno Setup script, AppRun, AppArmor profile, workflow) are read as data; the helpers (frozen entry, smoke checks,
icon, .deb staging, Windows console twin) run on temporary folders.
"""

from __future__ import annotations

import configparser
import os
import plistlib
import re
import shutil
import subprocess
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGING = REPO / "packaging"
sys.path.insert(0, str(PACKAGING))  # packaging/ is a folder of scripts, not a package

import metadata  # noqa: E402

try:  # the real PyInstaller, imported before any test puts its stand-ins into sys.modules
    import PyInstaller.building.osx as PYINSTALLER_OSX
    from PyInstaller.config import CONF as PYINSTALLER_CONF
except ImportError:  # the [packaging] extra is not installed
    PYINSTALLER_OSX = PYINSTALLER_CONF = None

SPEC = PACKAGING / "glmocr_studio.spec"
ISS = PACKAGING / "windows" / "glmocr-studio.iss"
DESKTOP = PACKAGING / "linux" / "glmocr-studio.desktop"
PLIST = PACKAGING / "macos" / "Info.plist"
RETIRED_COMMAND = "glmocr"  # the official GLM-OCR SDK's command: nothing we ship may be called that


# --------------------------------------------------------------------------------- the spec, run without PyInstaller


@dataclass
class SpecRun:
    """What the spec asked PyInstaller to build on one OS."""

    namespace: dict
    exes: list = field(default_factory=list)
    collect: object = None
    bundle: object = None


def run_spec(platform: str, dist: Path, monkeypatch) -> SpecRun:
    """Execute glmocr_studio.spec as PyInstaller would on ``platform``, with recording stand-ins for Analysis, PYZ,
    EXE, COLLECT and BUNDLE. COLLECT makes the dist folder with one file per EXE, as the real one does."""
    run = SpecRun(namespace={})

    class Exe(types.SimpleNamespace):
        def __init__(self, *args, **kwargs):
            super().__init__(args=args, **kwargs)
            run.exes.append(self)

    class Collect(types.SimpleNamespace):
        def __init__(self, *args, **kwargs):
            exes = [arg for arg in args if isinstance(arg, Exe)]
            # PyInstaller: COLLECT (and a BUNDLE of it) inherit `console` from the last EXE passed.
            super().__init__(args=args, console=exes[-1].console, name=str(dist / kwargs.pop("name")), **kwargs)
            folder = Path(self.name)
            folder.mkdir(parents=True)
            for exe in exes:
                (folder / (exe.name + ".exe" if platform == "win32" else exe.name)).write_bytes(b"MZ")
            run.collect = self

    class Bundle(types.SimpleNamespace):
        def __init__(self, *args, **kwargs):
            super().__init__(args=args, console=args[0].console, **kwargs)
            run.bundle = self

    def analysis(scripts, **kwargs):
        return types.SimpleNamespace(scripts=[("pyi_rth", "rth.py", "PYSOURCE")] + [(Path(s).stem, s, "PYSOURCE")
                                                                                    for s in scripts],
                                     binaries=[], datas=[], pure=[], kwargs=kwargs)

    hooks = types.ModuleType("PyInstaller.utils.hooks")
    hooks.collect_submodules = lambda package: [f"{package}.stand_in"]
    for name, module in (("PyInstaller", types.ModuleType("PyInstaller")),
                         ("PyInstaller.utils", types.ModuleType("PyInstaller.utils")),
                         ("PyInstaller.utils.hooks", hooks)):
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setattr(sys, "path", list(sys.path))  # the spec prepends packaging/ and the repository
    monkeypatch.setattr(sys, "platform", platform)
    monkeypatch.setattr(metadata, "BUILD_DIR", dist.parent / f"build-{platform}")  # what the spec writes: not the repo
    run.namespace.update(SPECPATH=str(PACKAGING), DISTPATH=str(dist), Analysis=analysis, PYZ=lambda pure: "pyz",
                         EXE=Exe, COLLECT=Collect, BUNDLE=Bundle, __file__=str(SPEC))
    exec(compile(SPEC.read_text(encoding="utf-8"), str(SPEC), "exec"), run.namespace)
    return run


@pytest.fixture
def spec_on(tmp_path, monkeypatch):
    def on(platform: str) -> SpecRun:
        return run_spec(platform, tmp_path / f"dist-{platform}", monkeypatch)

    return on


@pytest.fixture(scope="module")
def spec_namespace(tmp_path_factory) -> dict:
    """The spec's constants and helpers (DATA_FILES, EXCLUDES, used_by_app) as it runs on Linux."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        return run_spec("linux", tmp_path_factory.mktemp("spec") / "dist", monkeypatch).namespace


@pytest.fixture(scope="module")
def icon_files(tmp_path_factory) -> dict[str, Path]:
    import make_icon

    return make_icon.write_icons(tmp_path_factory.mktemp("icon"))


def desktop_entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # desktop-entry keys are case-sensitive
    parser.read(DESKTOP, encoding="utf-8")
    return parser["Desktop Entry"]


def iss_text() -> str:
    return ISS.read_text(encoding="utf-8")


def iss_define(name: str) -> str:
    match = re.search(rf'#define {name} "([^"]*)"', iss_text())
    assert match, f"#define {name} missing from {ISS.name}"
    return match.group(1)


def iss_expanded(line: str) -> str:
    """An Inno Setup line with its {#Name} preprocessor references filled in."""
    return re.sub(r"\{#(\w+)\}", lambda m: iss_define(m.group(1)), line)


def iss_file_entries() -> list[dict[str, str]]:
    """The [Files] section's entries as parameter dicts (Source, DestDir, Excludes, Flags)."""
    section = re.search(r"^\[Files\]\n(.*?)(?=^\[)", iss_text(), re.M | re.S).group(1)
    entries = []
    for line in section.splitlines():
        if line.strip() and not line.lstrip().startswith(";"):
            parts = (part.split(":", 1) for part in iss_expanded(line).split(";") if ":" in part)
            entries.append({key.strip(): value.strip().strip('"') for key, value in parts})
    return entries


def with_plist():
    with open(PLIST, "rb") as handle:
        return plistlib.load(handle)


# ------------------------------------------------------------------------------------------------------ versions


def test_every_version_string_matches_pyproject():
    import app
    import glmocr_core

    version = metadata.project_version()
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", version)
    assert app.__version__ == version
    assert glmocr_core.__version__ == version
    assert iss_define("AppVersion") == version


def test_macos_plist_gets_its_version_from_pyproject_at_build_time(spec_on):
    bundle = spec_on("darwin").bundle
    assert bundle.version == metadata.project_version()
    assert bundle.info_plist["CFBundleShortVersionString"] == bundle.info_plist["CFBundleVersion"] == bundle.version
    assert with_plist()["CFBundleVersion"] == "0.0.0"  # the committed file stays a template


# --------------------------------------------------------------------------- one command: what the spec builds


def test_linux_bundle_has_exactly_one_executable(spec_on):
    run = spec_on("linux")
    assert [exe.name for exe in run.exes] == [metadata.GUI_NAME]
    assert run.collect.name.endswith(metadata.GUI_NAME) and run.bundle is None
    assert sorted(p.name for p in Path(run.collect.name).iterdir()) == [metadata.GUI_NAME]
    assert run.exes[0].args[1][-1][1].endswith("entry_studio.py")  # the entry that dispatches window/command line


def test_macos_app_runs_the_one_executable_in_the_foreground(spec_on):
    run = spec_on("darwin")
    assert [exe.name for exe in run.exes] == [metadata.GUI_NAME]
    assert run.exes[0].console is False
    assert run.bundle.console is False  # PyInstaller would otherwise write LSBackgroundOnly=True
    assert run.bundle.name == f"{metadata.DISPLAY_NAME}.app"
    assert run.bundle.bundle_identifier == metadata.BUNDLE_ID
    # Set in our Info.plist too, so neither depends on which executables BUNDLE was given.
    assert run.bundle.info_plist["CFBundleExecutable"] == metadata.GUI_NAME
    assert run.bundle.info_plist["LSBackgroundOnly"] is False


def written_info_plist(bundle_args, folder: Path, monkeypatch) -> dict:
    """The Info.plist PyInstaller's own BUNDLE writes for what the spec passed it (its assemble step, run here on
    any OS with a stand-in executable and icon; code signing is macOS's and is skipped)."""
    if PYINSTALLER_OSX is None:
        pytest.skip("needs PyInstaller (the [packaging] extra)")
    osx, CONF = PYINSTALLER_OSX, PYINSTALLER_CONF
    for key in ("workpath", "distpath"):
        (folder / key).mkdir(parents=True)
        monkeypatch.setitem(CONF, key, str(folder / key))
    monkeypatch.setitem(CONF, "specpath", str(folder))
    monkeypatch.setattr(osx, "is_darwin", True)
    monkeypatch.setattr(osx.BUNDLE, "__postinit__", lambda self: None)  # assemble below, after `console` is set
    monkeypatch.setattr(osx, "osxutils", types.SimpleNamespace(sign_binary=lambda *a, **k: None), raising=False)
    executable, icon = folder / metadata.GUI_NAME, folder / f"{metadata.GUI_NAME}.icns"
    executable.write_bytes(b"")
    icon.write_bytes(b"icns")
    bundle = osx.BUNDLE([(metadata.GUI_NAME, str(executable), "EXECUTABLE")], name=bundle_args.name, icon=str(icon),
                        bundle_identifier=bundle_args.bundle_identifier, version=bundle_args.version,
                        info_plist=bundle_args.info_plist)
    bundle.console = bundle_args.console  # what BUNDLE inherits from the spec's COLLECT
    bundle.assemble()
    with open(Path(bundle.name) / "Contents" / "Info.plist", "rb") as handle:
        return plistlib.load(handle)


def test_macos_info_plist_as_pyinstaller_writes_it(spec_on, tmp_path, monkeypatch):
    """Foreground (no LSBackgroundOnly), arm64 only, macOS 14+ like the PySide6 and torch wheels."""
    info = written_info_plist(spec_on("darwin").bundle, tmp_path / "bundle", monkeypatch)
    assert info.get("LSBackgroundOnly", False) is False
    assert info["LSMinimumSystemVersion"] == metadata.MACOS_MINIMUM_VERSION == "14.0"
    assert info["LSArchitecturePriority"] == [metadata.MACOS_ARCH] == ["arm64"]
    assert info["CFBundleExecutable"] == metadata.GUI_NAME
    assert info["CFBundleIdentifier"] == metadata.BUNDLE_ID
    assert info["CFBundleShortVersionString"] == info["CFBundleVersion"] == metadata.project_version()
    assert info["NSHighResolutionCapable"] is True
    assert {kind["CFBundleTypeName"] for kind in info["CFBundleDocumentTypes"]} == {"Image", "PDF document"}


def test_the_plist_check_sees_pyinstallers_default(spec_on, tmp_path, monkeypatch):
    """Without our keys, PyInstaller's BUNDLE of a console executable makes a background-only app: the check that
    guards against it must be able to fail."""
    bundle = spec_on("darwin").bundle
    bundle.console, bundle.info_plist = True, {}
    assert written_info_plist(bundle, tmp_path / "bundle", monkeypatch)["LSBackgroundOnly"] is True


def test_macos_build_is_arm64_and_ad_hoc_signed_unless_an_identity_is_given(spec_on, monkeypatch):
    import signing

    monkeypatch.delenv(signing.MACOS_IDENTITY_ENV, raising=False)
    exe = spec_on("darwin").exes[0]
    assert exe.target_arch == "arm64"
    assert exe.codesign_identity is None  # PyInstaller signs ad-hoc then
    assert Path(exe.entitlements_file) == signing.MACOS_ENTITLEMENTS and signing.MACOS_ENTITLEMENTS.is_file()


def test_macos_build_signs_with_the_identity_ci_provides(tmp_path, monkeypatch):
    import signing

    monkeypatch.setenv(signing.MACOS_IDENTITY_ENV, "Developer ID Application: GLM-OCR Studio (TEAM123456)")
    exe = run_spec("darwin", tmp_path / "dist", monkeypatch).exes[0]
    assert exe.codesign_identity == "Developer ID Application: GLM-OCR Studio (TEAM123456)"


def test_windows_bundle_has_the_windowed_exe_and_its_console_twin(spec_on):
    run = spec_on("win32")
    gui, console = (next(exe for exe in run.exes if exe.name == name)
                    for name in (metadata.GUI_NAME, metadata.CONSOLE_BUILD_NAME))
    assert len(run.exes) == 2
    assert gui.console is False and console.console is True
    assert gui.args[1] == console.args[1]  # the same entry script: the twin differs only in its bootloader
    assert run.collect.console is False  # the GUI EXE comes last, so it sets COLLECT's console
    assert sorted(p.name for p in Path(run.collect.name).iterdir()) == sorted(
        [f"{metadata.GUI_NAME}.exe", metadata.WINDOWS_CONSOLE_NAME])  # renamed right after COLLECT
    assert run.bundle is None


def load_version_resource(path: str) -> dict:
    """A PyInstaller version file, evaluated with recording stand-ins for its versioninfo classes."""
    def record(kind):
        return lambda *args, **kwargs: {"kind": kind, "args": args, **kwargs}

    names = ("VSVersionInfo", "FixedFileInfo", "StringFileInfo", "StringTable", "StringStruct", "VarFileInfo",
             "VarStruct")
    return eval(Path(path).read_text(encoding="utf-8"), {name: record(name) for name in names})  # noqa: S307


def test_windows_executables_carry_a_version_resource_from_pyproject(spec_on):
    version = metadata.project_version()
    numbers = tuple(int(part) for part in version.split(".")[:3]) + (0,)
    for exe, filename in zip(sorted(spec_on("win32").exes, key=lambda e: e.console),
                             (f"{metadata.GUI_NAME}.exe", metadata.WINDOWS_CONSOLE_NAME)):
        resource = load_version_resource(exe.version)
        assert resource["ffi"]["filevers"] == resource["ffi"]["prodvers"] == numbers
        strings = {s["args"][0]: s["args"][1] for s in resource["kids"][0]["args"][0][0]["args"][1]}
        assert strings["FileVersion"] == strings["ProductVersion"] == version
        assert strings["OriginalFilename"] == filename and strings["ProductName"] == metadata.DISPLAY_NAME


def test_windows_version_file_loads_in_pyinstaller(spec_on):
    pytest.importorskip("pefile")  # PyInstaller's versioninfo module needs it (installed with PyInstaller on Windows)
    from PyInstaller.utils.win32 import versioninfo

    info = versioninfo.load_version_info_from_text_file(spec_on("win32").exes[0].version)
    assert info.ffi.fileVersionMS >> 16 == int(metadata.project_version().split(".")[0])


@pytest.mark.parametrize(("version", "numbers"), [("0.1.0", (0, 1, 0, 0)), ("1.2.0rc1", (1, 2, 0, 0)),
                                                  ("2.3.4.5.6", (2, 3, 4, 5))])
def test_version_resource_numbers(version, numbers):
    import windows_installer

    assert windows_installer.version_numbers(version) == numbers


def test_linux_and_macos_executables_have_no_windows_resource(spec_on):
    assert all(exe.version is None for exe in spec_on("linux").exes + spec_on("darwin").exes)


def test_windows_console_twin_is_a_com_file_that_cmd_prefers():
    assert metadata.WINDOWS_CONSOLE_NAME == metadata.GUI_NAME + ".com"
    default_pathext = ".COM;.EXE;.BAT;.CMD;.VBS;.VBE;.JS;.JSE;.WSF;.WSH;.MSC".split(";")
    assert default_pathext.index(".COM") < default_pathext.index(".EXE")
    assert not hasattr(metadata, "CLI_NAME")
    assert RETIRED_COMMAND not in {metadata.GUI_NAME, metadata.CONSOLE_BUILD_NAME,
                                   Path(metadata.WINDOWS_CONSOLE_NAME).stem}


def test_place_console_twin_renames_the_console_build(tmp_path):
    import windows_installer

    (tmp_path / f"{metadata.CONSOLE_BUILD_NAME}.exe").write_bytes(b"MZ console")
    (tmp_path / metadata.WINDOWS_CONSOLE_NAME).write_bytes(b"MZ stale")
    twin = windows_installer.place_console_twin(tmp_path)
    assert twin == tmp_path / metadata.WINDOWS_CONSOLE_NAME and twin.read_bytes() == b"MZ console"
    assert not (tmp_path / f"{metadata.CONSOLE_BUILD_NAME}.exe").exists()
    with pytest.raises(SystemExit, match="did not build"):
        windows_installer.place_console_twin(tmp_path)


# ------------------------------------------------------------------------------------- the frozen entry point


@pytest.fixture
def entry(monkeypatch):
    """entry_studio with the window and the self-test replaced by recorders (nothing starts Qt)."""
    import entry_studio

    calls = []
    window = types.ModuleType("app.main")
    window.main = lambda args: calls.append(("window", args)) or 0
    monkeypatch.setitem(sys.modules, "app.main", window)
    monkeypatch.setattr(entry_studio, "run_self_test", lambda args: calls.append(("self-test", args)) or 0)
    monkeypatch.delenv(entry_studio.SELF_TEST_ENV, raising=False)
    entry_studio.calls = calls
    yield entry_studio
    del entry_studio.calls


@pytest.mark.parametrize("args", [["ocr", "scan.png", "--json"], ["info", "--device", "cpu"], ["--help"], ["-h"],
                                  ["--version"]])
def test_entry_sends_subcommands_to_the_core_command_line(entry, monkeypatch, args):
    import glmocr_core.cli

    monkeypatch.setattr(glmocr_core.cli, "main", lambda argv: entry.calls.append(("command line", argv)) or 4)
    monkeypatch.setenv(entry.SELF_TEST_ENV, "1")  # even then: a command-line call never opens a window
    assert entry.main(args) == 4
    assert entry.calls == [("command line", args)]


@pytest.mark.parametrize("args", [[], ["scan.png", "paper.pdf"], ["--self-test"]])
def test_entry_opens_the_window_or_its_self_test_otherwise(entry, args):
    assert entry.main(args) == 0
    assert entry.calls == [("self-test" if args == ["--self-test"] else "window", args)]


@pytest.mark.parametrize("args", [["ocr"], ["info"], ["--version"], ["ocr.png"], ["info.pdf"], ["--self-test"],
                                  ["--model", "x"], []])
def test_entry_uses_the_same_rule_as_the_pip_installed_command(entry, monkeypatch, args):
    import glmocr_core.cli
    from app.launch import wants_command_line

    monkeypatch.setattr(glmocr_core.cli, "main", lambda argv: entry.calls.append(("command line", argv)) or 0)
    entry.main(args)
    assert (entry.calls[0][0] == "command line") == wants_command_line(args)


def test_frozen_entry_runs_the_command_line_without_qt(tmp_path):
    """`glmocr-studio --version` through the real entry script, in a fresh interpreter with no display."""
    probe = ("import runpy, sys\n"
             f"sys.path[:0] = [{str(REPO)!r}, {str(PACKAGING)!r}]\n"
             "sys.argv = ['glmocr-studio', '--version']\n"
             "try:\n"
             f"    runpy.run_path({str(PACKAGING / 'entry_studio.py')!r}, run_name='__main__')\n"
             "except SystemExit as exc:\n"
             "    print('exit', exc.code)\n"
             "print('qt loaded', any(name.startswith('PySide6') for name in sys.modules))\n")
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, env=env,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"{metadata.GUI_NAME} {metadata.project_version()}" in done.stdout
    assert "exit 0" in done.stdout and "qt loaded False" in done.stdout


def test_windowed_build_without_streams_still_runs_the_command_line(entry, monkeypatch):
    """A windowed Windows executable has sys.stdout = sys.stderr = None: printing must not fail."""
    import glmocr_core.cli

    monkeypatch.setattr(sys, "stdout", None)
    monkeypatch.setattr(sys, "stderr", None)

    def command_line(argv):
        sys.stdout.write("result\n")
        sys.stderr.write("progress\n")
        return 0

    monkeypatch.setattr(glmocr_core.cli, "main", command_line)
    assert entry.main(["ocr", "scan.png"]) == 0
    assert sys.stdout is not None and sys.stderr is not None
    sys.stdout.close()


def test_self_test_switch_and_report(monkeypatch, capsys):
    import entry_studio

    monkeypatch.delenv(entry_studio.SELF_TEST_ENV, raising=False)
    assert entry_studio.self_test_requested(["--self-test"])
    assert not entry_studio.self_test_requested(["scan.png"])
    monkeypatch.setenv(entry_studio.SELF_TEST_ENV, "1")
    assert entry_studio.self_test_requested([])
    assert entry_studio._report([("a", True, ""), ("b", False, "gone")]) == 1
    assert "self-test: FAILED: b" in capsys.readouterr().out
    assert entry_studio._report([("a", True, "")]) == 0


def test_entry_cli_script_is_gone():
    assert not (PACKAGING / "entry_cli.py").exists()


# ---------------------------------------------------------------------------------------------- names and icons


def test_desktop_entry_starts_and_shows_the_bundled_executable():
    entry = desktop_entry()
    assert entry["Type"] == "Application"
    assert entry["Exec"].split()[0] == metadata.GUI_NAME
    assert entry["Exec"].split()[1] == "%F"  # several files may be opened at once
    assert entry["Icon"] == metadata.GUI_NAME == entry["StartupWMClass"]
    assert entry["Name"] == metadata.DISPLAY_NAME
    assert DESKTOP.stem == metadata.GUI_NAME


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None, reason="needs desktop-file-utils")
def test_desktop_entry_passes_the_freedesktop_validator():
    done = subprocess.run(["desktop-file-validate", str(DESKTOP)], capture_output=True, text=True)
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


@pytest.mark.skipif(sys.platform == "win32" or shutil.which("sh") is None, reason="needs a POSIX shell")
@pytest.mark.parametrize("args", [[], ["scan.png"], ["ocr", "scan.png", "--json"], ["info"]])
def test_apprun_passes_everything_to_the_one_executable(tmp_path, args):
    import linux_installers

    appdir = tmp_path / "AppDir"
    executable = appdir / "usr/lib" / metadata.GUI_NAME / metadata.GUI_NAME
    executable.parent.mkdir(parents=True)
    executable.write_text('#!/bin/sh\necho "$(basename "$0")" "$@"\n', encoding="utf-8")
    executable.chmod(0o755)
    shutil.copy2(PACKAGING / "linux" / "AppRun", appdir / "AppRun")
    done = subprocess.run(["sh", str(appdir / "AppRun"), *args], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [metadata.GUI_NAME, *args]
    assert linux_installers.INSTALL_PREFIX == Path("opt") / metadata.GUI_NAME


def test_inno_setup_installs_the_gui_executable_per_user():
    text = iss_text()
    assert iss_define("ExeName") == metadata.GUI_NAME + ".exe"
    assert iss_define("AppName") == metadata.DISPLAY_NAME
    assert re.search(r"^PrivilegesRequired=lowest$", text, re.M)
    assert re.search(r"^AppId=\{\{[0-9A-F-]{36}\}$", text, re.M)
    assert iss_define("SourceDir").replace("\\", "/").endswith("dist/" + metadata.GUI_NAME)
    shortcuts = re.findall(r'^Name: "\{auto\w+\}\\[^"]+"; Filename: "([^"]+)"', text, re.M)
    assert shortcuts and {iss_expanded(s) for s in shortcuts} == {"{app}\\" + metadata.GUI_NAME + ".exe"}


def test_inno_setup_installs_the_console_twin_and_fails_without_it():
    assert iss_define("ConsoleName") == metadata.WINDOWS_CONSOLE_NAME
    entries = iss_file_entries()
    whole_folder = next(e for e in entries if e["Source"].endswith("\\*"))
    assert "recursesubdirs" in whole_folder["Flags"]
    assert whole_folder["Excludes"] == "\\" + metadata.WINDOWS_CONSOLE_NAME  # only the top-level file
    twin = [e for e in entries if e["Source"].endswith("\\" + metadata.WINDOWS_CONSOLE_NAME)]
    assert len(twin) == 1 and twin[0]["DestDir"] == "{app}"  # a missing file stops ISCC: no installer without it
    assert RETIRED_COMMAND + ".exe" not in iss_text()


def test_macos_plist_identifies_the_app_and_supports_retina():
    info = with_plist()
    assert info["CFBundleIdentifier"] == metadata.BUNDLE_ID
    assert info["CFBundleName"] == metadata.DISPLAY_NAME
    assert info["CFBundleExecutable"] == metadata.GUI_NAME
    assert info["LSBackgroundOnly"] is False
    assert info["NSHighResolutionCapable"] is True


def test_icon_script_writes_png_ico_and_icns(icon_files):
    from PIL import Image

    paths = icon_files
    assert {p.name for p in paths.values()} == {f"{metadata.GUI_NAME}.{ext}" for ext in ("png", "ico", "icns")}
    with Image.open(paths["png"]) as png:
        assert png.size == (1024, 1024) and png.mode == "RGBA"
        assert png.getpixel((0, 0))[3] == 0 and png.getpixel((512, 512))[3] == 255  # rounded tile, opaque middle
    with Image.open(paths["ico"]) as ico:
        assert {(16, 16), (32, 32), (256, 256)} <= set(ico.info["sizes"])
    with Image.open(paths["icns"]) as icns:
        assert icns.size == (1024, 1024)
    assert metadata.ICON_PNG.name == paths["png"].name


# ------------------------------------------------------------------------------------------------ document types


def test_installers_register_exactly_the_types_the_app_opens():
    from app.intake import OPENABLE_SUFFIXES

    extensions = set(metadata.DOCUMENT_TYPES)
    assert extensions == set(OPENABLE_SUFFIXES)
    desktop_types = set(filter(None, desktop_entry()["MimeType"].split(";")))
    assert desktop_types == set(metadata.DOCUMENT_TYPES.values())
    iss_types = set(re.findall(r'Software\\Classes\\(\.\w+)\\OpenWithProgids', iss_text()))
    assert iss_types == extensions
    document_types = with_plist()["CFBundleDocumentTypes"]
    plist_extensions = {"." + ext for kind in document_types for ext in kind["CFBundleTypeExtensions"]}
    assert plist_extensions == extensions
    assert any("com.adobe.pdf" in kind["LSItemContentTypes"] for kind in document_types)


# ---------------------------------------------------------------------------------------------------- data paths


def test_every_spec_data_path_exists_or_is_made_by_the_build(spec_namespace):
    made_by_build = {metadata.ICON_PNG.relative_to(REPO).as_posix()}  # make_icon.py, run by build.py
    for source, target in spec_namespace["DATA_FILES"]:
        if source in made_by_build:
            continue
        assert (REPO / source).exists(), f"{source} is listed in the spec but missing"
        assert not Path(target).is_absolute()
    assert ("resources/web", "resources/web") in spec_namespace["DATA_FILES"]  # katex/ comes along inside it


def test_every_resources_folder_ships(spec_namespace):
    """The app reads each folder of resources/ at run time (web pages, built-in Extract templates)."""
    shipped = {path for entry in spec_namespace["DATA_FILES"] for path in entry}  # copied, or made there (the icon)
    folders = [p for p in (REPO / "resources").iterdir() if p.is_dir()]
    assert folders, "resources/ has no folders: the test is looking in the wrong place"
    for folder in folders:
        assert folder.relative_to(REPO).as_posix() in shipped, f"{folder} would not be bundled"


def test_core_data_files_all_ship(spec_namespace):
    """Every non-Python file of the core must sit under a folder the spec bundles."""
    bundled = [REPO / source for source, _ in spec_namespace["DATA_FILES"]]
    data_files = [p for p in (REPO / "glmocr_core").rglob("*") if p.is_file() and p.suffix in (".json", ".jinja")]
    assert data_files, "glmocr_core has no data files: the test is looking in the wrong place"
    for path in data_files:
        assert any(path.is_relative_to(folder) for folder in bundled), f"{path} would not be bundled"


def test_self_test_checks_the_data_files_the_spec_bundles(spec_namespace):
    import entry_studio

    bundled = {target + "/" + Path(source).name for source, target in spec_namespace["DATA_FILES"]}
    for package, name in entry_studio.CORE_DATA_FILES:
        assert f"{package.replace('.', '/')}/{name}" in bundled


def test_app_finds_resources_where_the_spec_puts_them(tmp_path, monkeypatch, spec_namespace):
    """The spec copies resources/web to <bundle>/resources/web; the app must look there when frozen."""
    import app.resources_setup as resources_setup

    target = dict(spec_namespace["DATA_FILES"])["resources/web"]
    (tmp_path / target).mkdir(parents=True)
    monkeypatch.delenv(resources_setup.RESOURCES_ENV, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert resources_setup.web_dir() == tmp_path / target
    assert resources_setup.katex_dir() == tmp_path / target / "katex"


# Where PySide6 wheels put the same Qt pieces on Linux, Windows and macOS.
QT_LAYOUTS = {
    "linux": ("PySide6/Qt/lib/libQt6{}.so.6", "PySide6/Qt/qml/QtQuick/Controls/libqtquickcontrols2plugin.so"),
    "windows": ("PySide6\\Qt6{}.dll", "PySide6\\qml\\QtQuick\\Controls\\qtquickcontrols2plugin.dll"),
    "macos": ("PySide6/Qt/lib/Qt{0}.framework/Versions/A/Qt{0}", "PySide6/Qt/qml/QtQuick/Controls/libplugin.dylib"),
}


@pytest.mark.parametrize("system", sorted(QT_LAYOUTS))
def test_qt_trimming_keeps_what_webengine_widgets_link_and_drops_qml(system, spec_namespace):
    used_by_app = spec_namespace["used_by_app"]
    library, qml_plugin = QT_LAYOUTS[system]
    webengine_closure = ("Core", "Gui", "Widgets", "Network", "OpenGL", "Qml", "QmlModels", "QmlMeta", "Quick",
                         "QuickWidgets", "WebChannel", "Positioning", "PrintSupport", "WebEngineCore",
                         "WebEngineWidgets", "DBus", "XcbQpa", "WaylandClient")
    for module in webengine_closure:
        assert used_by_app((library.format(module), "", "BINARY")), module
    for module in ("Quick3D", "Quick3DPhysics", "Charts", "Multimedia", "Pdf", "QuickControls2Material", "Test"):
        assert not used_by_app((library.format(module), "", "BINARY")), module
    assert not used_by_app((qml_plugin, "", "BINARY"))
    assert used_by_app(("torch/lib/libtorch_cpu.so", "", "BINARY"))


def test_test_only_and_unused_packages_are_excluded(spec_namespace):
    excludes = set(spec_namespace["EXCLUDES"])
    assert {"transformers", "pytest", "tkinter", "tests"} <= excludes
    assert not {"torch", "PySide6", "app", "glmocr_core"} & excludes
    # every submodule of ours, and uvicorn's protocol and loop modules (serve loads them by name)
    assert spec_namespace["HIDDEN_IMPORTS"] == ["app.stand_in", "glmocr_core.stand_in", "uvicorn.stand_in"]


# --------------------------------------------------------------------------------------------- linux .deb tree


@pytest.mark.skipif(shutil.which("dpkg") is None, reason="needs dpkg (Debian/Ubuntu)")
def test_deb_tree_links_the_one_command_and_registers_the_desktop_entry(tmp_path, icon_files):
    import licenses
    import linux_depends
    import linux_installers

    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / metadata.GUI_NAME).write_text("#!/bin/sh\n", encoding="utf-8")
    notices = bundle / "_internal" / licenses.BUNDLE_FOLDER / licenses.NOTICES_NAME
    notices.parent.mkdir(parents=True)
    notices.write_text("Format: x\n", encoding="utf-8")
    root = tmp_path / "root"
    declared = linux_depends.Requirements(("libc6 (>= 2.34)", "libnss3", "libwayland-cursor0"), (2, 34))
    assert linux_installers.stage_deb_tree(bundle, root, "9.8.7", icon_png=icon_files["png"],
                                           requirements=declared) == declared

    assert sorted(p.name for p in (root / "usr/bin").iterdir()) == [metadata.GUI_NAME]  # no `glmocr`
    link = root / "usr/bin" / metadata.GUI_NAME
    assert link.is_symlink()
    assert (root / str(link.readlink()).lstrip("/")).is_file()  # resolves inside the package
    assert (root / "usr/share/applications" / DESKTOP.name).read_text() == DESKTOP.read_text()
    assert (root / f"usr/share/icons/hicolor/256x256/apps/{metadata.GUI_NAME}.png").is_file()
    control_text = (root / "DEBIAN/control").read_text()
    control = dict(line.split(": ", 1) for line in control_text.splitlines()
                   if ": " in line and not line.startswith(" "))
    assert control["Package"] == metadata.GUI_NAME and control["Version"] == "9.8.7"
    assert control["Depends"] == "libc6 (>= 2.34), libnss3, libwayland-cursor0" and int(control["Installed-Size"]) >= 0
    copyright_file = root / "usr/share/doc" / metadata.GUI_NAME / "copyright"
    assert copyright_file.read_text() == notices.read_text() and not copyright_file.is_symlink()
    assert f"{metadata.GUI_NAME} ocr" in control_text and not re.search(rf"\b{RETIRED_COMMAND}\b(?!-)", control_text)
    for script in linux_installers.MAINTAINER_SCRIPTS:
        assert (root / "DEBIAN" / script).stat().st_mode & 0o111, f"{script} must be executable"
    postinst = (root / "DEBIAN/postinst").read_text()
    source = re.search(r"^PROFILE_SRC=(\S+)$", postinst, re.M).group(1)
    assert (root / source.lstrip("/")).is_file()  # postinst copies a file the package really ships


def test_apparmor_profile_covers_the_installed_executable_and_the_webengine_helper():
    import linux_installers

    profile = (PACKAGING / "linux" / "apparmor-profile").read_text(encoding="utf-8")
    attach = re.search(r"^profile (\S+) (\S+) flags=\(unconfined\) \{$", profile, re.M)
    assert attach and attach.group(1) == metadata.GUI_NAME
    prefix, alternatives = re.fullmatch(r"(\S+)/\{([^}]*)\}", attach.group(2)).groups()
    assert prefix == "/" + linux_installers.INSTALL_PREFIX.as_posix()
    assert alternatives.split(",") == [metadata.GUI_NAME, "_internal/PySide6/Qt/libexec/QtWebEngineProcess"]
    assert re.search(r"^\s*userns,$", profile, re.M)


# ------------------------------------------------------------------------------------------------ smoke checks


def fake_bundle(folder: Path, names: list[str]) -> Path:
    folder.mkdir(parents=True)
    for name in names:
        (folder / name).write_bytes(b"")
    return folder


def test_smoke_runs_the_command_line_that_a_terminal_would():
    import smoke

    bundle = Path("bundle")
    assert smoke.command_line_executable(bundle, "win32") == bundle / "glmocr-studio.com"
    assert smoke.executable(bundle, metadata.GUI_NAME, "win32") == bundle / "glmocr-studio.exe"
    for platform in ("linux", "darwin"):
        assert smoke.command_line_executable(bundle, platform) == bundle / metadata.GUI_NAME
        assert smoke.executable(bundle, metadata.GUI_NAME, platform) == bundle / metadata.GUI_NAME


def test_smoke_command_line_run_has_no_display(tmp_path, monkeypatch):
    import smoke

    monkeypatch.setenv("DISPLAY", ":0")
    env = smoke.headless_env(tmp_path / "home")
    assert not {"DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"} & set(env)
    assert env["HOME"] == str(tmp_path / "home") and "GLMOCR_MODEL_DIR" not in env


@pytest.mark.parametrize(("platform", "names", "problems"), [
    ("linux", ["glmocr-studio"], []),
    ("linux", ["glmocr-studio", "glmocr"], ["glmocr should not ship"]),
    ("linux", ["glmocr-studio", "glmocr-studio.com"], ["glmocr-studio.com should not ship"]),
    ("linux", [], ["glmocr-studio is missing"]),
    ("win32", ["glmocr-studio.exe", "glmocr-studio.com"], []),
    ("win32", ["glmocr-studio.exe", "glmocr-studio-console.exe"],
     ["glmocr-studio-console.exe should not ship", "glmocr-studio.com is missing"]),
    ("win32", ["glmocr-studio.exe", "glmocr-studio.com", "glmocr.exe"], ["glmocr.exe should not ship"]),
])
def test_smoke_checks_the_bundle_layout(tmp_path, platform, names, problems):
    import smoke

    assert smoke.layout_problems(fake_bundle(tmp_path / "bundle", names), platform) == problems


@pytest.mark.parametrize(("info", "problems"), [
    ({"CFBundleExecutable": "glmocr-studio", "LSBackgroundOnly": False}, []),
    ({"CFBundleExecutable": "glmocr-studio"}, []),
    ({"CFBundleExecutable": "glmocr", "LSBackgroundOnly": True},
     ["CFBundleExecutable is 'glmocr', not 'glmocr-studio'",
      "LSBackgroundOnly is set: the app would have no Dock icon or menu bar"]),
])
def test_smoke_checks_the_macos_app(tmp_path, info, problems):
    import smoke

    macos = fake_bundle(tmp_path / "GLM-OCR Studio.app" / "Contents" / "MacOS", ["glmocr-studio"])
    with open(macos.parent / "Info.plist", "wb") as handle:
        plistlib.dump(info, handle)
    assert smoke.layout_problems(macos, "darwin") == problems
    (macos.parent / "Info.plist").unlink()
    assert smoke.layout_problems(macos, "darwin") == [f"{macos.parent / 'Info.plist'} is missing"]


# ------------------------------------------------------------------------------------------ driver and workflow


def test_build_driver_refuses_to_cross_build(monkeypatch):
    import build

    monkeypatch.setattr(sys, "platform", "linux")
    assert build.resolve_target("auto") == "linux"
    with pytest.raises(SystemExit, match="cannot build a windows installer on linux"):
        build.resolve_target("windows")


def test_build_driver_help_runs_without_building():
    done = subprocess.run([sys.executable, str(PACKAGING / "build.py"), "--help"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and "--skip-installer" in done.stdout


def installers_workflow() -> dict:
    yaml = pytest.importorskip("yaml")
    return yaml.safe_load((REPO / ".github/workflows/installers.yml").read_text(encoding="utf-8"))


BUILD_JOBS = ("linux-build", "windows", "macos")


def job_commands(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def test_workflow_builds_on_all_three_systems():
    jobs = installers_workflow()["jobs"]
    assert set(jobs) == {*BUILD_JOBS, "linux-deb-oldest", "linux-desktop"}
    for name in BUILD_JOBS:
        commands = job_commands(jobs[name])
        assert "python packaging/build.py" in commands and "--skip-smoke" not in commands  # the frozen app must start
        assert "tests/packaging" in commands
        uploads = [step for step in jobs[name]["steps"]
                   if str(step.get("uses", "")).startswith("actions/upload-artifact")]
        assert uploads and "packaging/dist" in uploads[0]["with"]["path"]
    assert jobs["macos"]["runs-on"] == "macos-14"  # arm64, the oldest macOS the app claims
    assert "macos-13" not in str(jobs) and "x86_64" not in job_commands(jobs["macos"])


def test_workflow_installs_torch_from_the_cpu_index_that_metadata_names():
    jobs = installers_workflow()["jobs"]
    for name in ("linux-build", "windows"):
        assert "--index-url" in job_commands(jobs[name]) and "metadata.CPU_TORCH_INDEX" in job_commands(jobs[name])


def test_workflow_installs_the_deb_with_dpkg_in_the_oldest_distribution_it_claims():
    jobs = installers_workflow()["jobs"]
    assert jobs["linux-build"]["container"] == "python:3.11-bookworm"
    assert "oldest_distribution" in job_commands(jobs["linux-build"])
    oldest = jobs["linux-deb-oldest"]
    assert oldest["needs"] == "linux-build" and oldest["container"] == "${{ needs.linux-build.outputs.oldest }}"
    commands = job_commands(oldest)
    assert "dpkg -i dist/glmocr-studio_*.deb" in commands
    assert "installed-smoke.sh dist/smoke-inputs" in commands


def test_workflow_runs_the_appimage_as_a_file_with_the_pinned_tool():
    jobs = installers_workflow()["jobs"]
    build = job_commands(jobs["linux-build"])
    assert "l.APPIMAGETOOL_URL, l.APPIMAGETOOL_SHA256" in build and "sha256sum -c" in build
    assert "continuous" not in (REPO / ".github/workflows/installers.yml").read_text(encoding="utf-8")
    desktop = job_commands(jobs["linux-desktop"])
    assert desktop.count('installed-smoke.sh dist/smoke-inputs "$(ls dist/*.AppImage)"') == 2


def test_linux_installers_pin_a_released_appimagetool():
    import linux_installers

    assert linux_installers.APPIMAGETOOL_VERSION in linux_installers.APPIMAGETOOL_URL
    assert "continuous" not in linux_installers.APPIMAGETOOL_URL
    assert re.fullmatch(r"[0-9a-f]{64}", linux_installers.APPIMAGETOOL_SHA256)


def test_workflow_mounts_the_dmg_and_checks_the_apps_info_plist():
    commands = job_commands(installers_workflow()["jobs"]["macos"])
    assert "hdiutil attach" in commands and "hdiutil detach" in commands
    assert f"LSMinimumSystemVersion raw \"$plist\")\" = {metadata.MACOS_MINIMUM_VERSION}" in commands
    assert "LSBackgroundOnly" in commands and "lipo -archs" in commands and "codesign --verify" in commands


def test_workflow_runs_the_windows_installer_silently_per_user_and_checks_path():
    commands = job_commands(installers_workflow()["jobs"]["windows"])
    assert "//VERYSILENT" in commands and "//CURRENTUSER" in commands
    assert "GetEnvironmentVariable('Path', 'User')" in commands and "VersionInfo" in commands


def test_workflow_keeps_the_chromium_sandbox_on_where_the_runner_is_not_root():
    jobs = installers_workflow()["jobs"]
    text = (REPO / ".github/workflows/installers.yml").read_text(encoding="utf-8")
    assert not re.search(r"QTWEBENGINE_DISABLE_SANDBOX(=|: )", text)  # never switched off by the workflow
    for name in ("linux-desktop", "windows", "macos"):  # runners as a user: the sandbox must work
        assert 'test -z "${QTWEBENGINE_DISABLE_SANDBOX:-}"' in job_commands(jobs[name])
    assert "container" not in jobs["linux-desktop"]


def test_workflow_signs_only_with_secrets():
    jobs = installers_workflow()["jobs"]
    import signing

    for name, variables in (("windows", (signing.WINDOWS_PFX_ENV, signing.WINDOWS_PASSWORD_ENV)),
                            ("macos", (signing.MACOS_IDENTITY_ENV,))):
        signing_steps = [step for step in jobs[name]["steps"] if "certificate" in step.get("name", "").lower()]
        assert len(signing_steps) == 1 and signing_steps[0]["if"] == "env.HAS_CERTIFICATE == 'true'"
        assert all(variable in signing_steps[0]["run"] for variable in variables)
    assert set(signing.MACOS_NOTARY_ENV) <= set(jobs["macos"]["env"])


def test_workflow_starts_the_installed_command_never_the_retired_one():
    jobs = installers_workflow()["jobs"]
    commands = "\n".join(line for job in jobs.values() for step in job["steps"]
                         for line in step.get("run", "").splitlines() if not line.strip().startswith("test ! -e"))
    # `glmocr` as a command word: at a line start, after a path separator or quote, followed by a space, quote or .exe
    assert not re.search(rf"(^|[\s/\\\"']){RETIRED_COMMAND}(\.exe)?([\s\"']|$)", commands, re.M)
    assert "glmocr-studio.com" in commands
