"""Installer builds stay consistent: versions, executable and icon names, document types, data paths.

Nothing here runs PyInstaller or an installer tool: the files under packaging/ are read as text, plist, INI or
Python syntax, and the small helpers (icon, .deb staging) run on temporary folders.
"""

from __future__ import annotations

import ast
import configparser
import plistlib
import re
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGING = REPO / "packaging"
sys.path.insert(0, str(PACKAGING))  # packaging/ is a folder of scripts, not a package

import metadata  # noqa: E402

SPEC = PACKAGING / "glmocr_studio.spec"
ISS = PACKAGING / "windows" / "glmocr-studio.iss"
DESKTOP = PACKAGING / "linux" / "glmocr-studio.desktop"
PLIST = PACKAGING / "macos" / "Info.plist"


def spec_tree() -> ast.Module:
    return ast.parse(SPEC.read_text(encoding="utf-8"))


def spec_constant(name: str):
    """The literal assigned to a top-level name in the spec (DATA_FILES, EXCLUDES)."""
    for node in spec_tree().body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{name} is not assigned in {SPEC.name}")


def spec_exe_names() -> list[str]:
    """The ``name=metadata.X`` attribute of each EXE(...) call, as the metadata attribute name."""
    names = []
    for node in ast.walk(spec_tree()):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "EXE":
            keyword = next(k for k in node.keywords if k.arg == "name")
            names.append(keyword.value.attr)
    return names


@pytest.fixture(scope="module")
def icon_files(tmp_path_factory) -> dict[str, Path]:
    import make_icon

    return make_icon.write_icons(tmp_path_factory.mktemp("icon"))


def desktop_entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # desktop-entry keys are case-sensitive
    parser.read(DESKTOP, encoding="utf-8")
    return parser["Desktop Entry"]


def iss_define(name: str) -> str:
    match = re.search(rf'#define {name} "([^"]*)"', ISS.read_text(encoding="utf-8"))
    assert match, f"#define {name} missing from {ISS.name}"
    return match.group(1)


def module_version(path: Path) -> str:
    return re.search(r'__version__ = "([^"]+)"', path.read_text(encoding="utf-8")).group(1)


def app_openable_suffixes() -> set[str]:
    tree = ast.parse((REPO / "app" / "intake.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "OPENABLE_SUFFIXES":
            return set(ast.literal_eval(node.value))
    raise AssertionError("OPENABLE_SUFFIXES not found in app/intake.py")


# ------------------------------------------------------------------------------------------------------ versions


def test_every_version_string_matches_pyproject():
    version = metadata.project_version()
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", version)
    assert module_version(REPO / "app" / "__init__.py") == version
    assert module_version(REPO / "glmocr_core" / "__init__.py") == version
    assert iss_define("AppVersion") == version


def test_macos_plist_gets_its_version_from_pyproject_at_build_time():
    text = SPEC.read_text(encoding="utf-8")
    assert 'info["CFBundleShortVersionString"] = info["CFBundleVersion"] = VERSION' in text
    assert "VERSION = metadata.project_version()" in text


# ---------------------------------------------------------------------------------------------- names and icons


def test_spec_builds_the_gui_and_cli_executables_named_in_metadata():
    assert spec_exe_names() == ["GUI_NAME", "CLI_NAME"]
    assert (PACKAGING / "entry_studio.py").is_file() and (PACKAGING / "entry_cli.py").is_file()


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
    import subprocess

    done = subprocess.run(["desktop-file-validate", str(DESKTOP)], capture_output=True, text=True)
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def test_apprun_starts_the_executables_where_the_appimage_puts_the_bundle():
    import linux_installers

    apprun = (PACKAGING / "linux" / "AppRun").read_text(encoding="utf-8")
    assert f'BUNDLE="$HERE/usr/lib/{metadata.GUI_NAME}"' in apprun
    assert f'"$BUNDLE/{metadata.GUI_NAME}"' in apprun and f'"$BUNDLE/{metadata.CLI_NAME}"' in apprun
    assert linux_installers.INSTALL_PREFIX == Path("opt") / metadata.GUI_NAME


def test_inno_setup_installs_the_gui_executable_per_user():
    text = ISS.read_text(encoding="utf-8")
    assert iss_define("ExeName") == metadata.GUI_NAME + ".exe"
    assert iss_define("AppName") == metadata.DISPLAY_NAME
    assert re.search(r"^PrivilegesRequired=lowest$", text, re.M)
    assert re.search(r"^AppId=\{\{[0-9A-F-]{36}\}$", text, re.M)
    assert iss_define("SourceDir").replace("\\", "/").endswith("dist/" + metadata.GUI_NAME)


def test_macos_plist_identifies_the_app_and_supports_retina():
    with open(PLIST, "rb") as handle:
        info = plistlib.load(handle)
    assert info["CFBundleIdentifier"] == metadata.BUNDLE_ID
    assert info["CFBundleName"] == metadata.DISPLAY_NAME
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
    extensions = set(metadata.DOCUMENT_TYPES)
    assert extensions == app_openable_suffixes()
    desktop_types = set(filter(None, desktop_entry()["MimeType"].split(";")))
    assert desktop_types == set(metadata.DOCUMENT_TYPES.values())
    iss_types = set(re.findall(r'Software\\Classes\\(\.\w+)\\OpenWithProgids', ISS.read_text(encoding="utf-8")))
    assert iss_types == extensions
    with open(PLIST, "rb") as handle:
        document_types = plistlib.load(handle)["CFBundleDocumentTypes"]
    plist_extensions = {"." + ext for kind in document_types for ext in kind["CFBundleTypeExtensions"]}
    assert plist_extensions == extensions
    assert any("com.adobe.pdf" in kind["LSItemContentTypes"] for kind in document_types)


# ---------------------------------------------------------------------------------------------------- data paths


def test_every_spec_data_path_exists_or_is_made_by_the_build():
    made_by_build = {metadata.ICON_PNG.relative_to(REPO).as_posix()}  # make_icon.py, run by build.py
    for source, target in spec_constant("DATA_FILES"):
        if source in made_by_build:
            continue
        assert (REPO / source).exists(), f"{source} is listed in the spec but missing"
        assert not Path(target).is_absolute()
    assert ("resources/web", "resources/web") in spec_constant("DATA_FILES")  # katex/ comes along inside it


def test_core_data_files_all_ship():
    """Every non-Python file of the core must sit under a folder the spec bundles."""
    bundled = [REPO / source for source, _ in spec_constant("DATA_FILES")]
    data_files = [p for p in (REPO / "glmocr_core").rglob("*") if p.is_file() and p.suffix in (".json", ".jinja")]
    assert data_files, "glmocr_core has no data files: the test is looking in the wrong place"
    for path in data_files:
        assert any(path.is_relative_to(folder) for folder in bundled), f"{path} would not be bundled"


def test_app_finds_resources_where_the_spec_puts_them(tmp_path, monkeypatch):
    """The spec copies resources/web to <bundle>/resources/web; the app must look there when frozen."""
    import app.resources_setup as resources_setup

    target = dict(spec_constant("DATA_FILES"))["resources/web"]
    (tmp_path / target).mkdir(parents=True)
    monkeypatch.delenv(resources_setup.RESOURCES_ENV, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert resources_setup.web_dir() == tmp_path / target
    assert resources_setup.katex_dir() == tmp_path / target / "katex"


def spec_filter():
    """The spec's ``used_by_app`` with the regexes it needs, run outside PyInstaller."""
    names = {"UNUSED_QT_PATHS", "UNUSED_QT_MODULES", "used_by_app"}
    nodes = [n for n in spec_tree().body
             if (isinstance(n, ast.Assign) and getattr(n.targets[0], "id", None) in names)
             or getattr(n, "name", None) in names]
    namespace = {"re": re}
    exec(compile(ast.Module(body=nodes, type_ignores=[]), str(SPEC), "exec"), namespace)
    return namespace["used_by_app"]


# Where PySide6 wheels put the same Qt pieces on Linux, Windows and macOS.
QT_LAYOUTS = {
    "linux": ("PySide6/Qt/lib/libQt6{}.so.6", "PySide6/Qt/qml/QtQuick/Controls/libqtquickcontrols2plugin.so"),
    "windows": ("PySide6\\Qt6{}.dll", "PySide6\\qml\\QtQuick\\Controls\\qtquickcontrols2plugin.dll"),
    "macos": ("PySide6/Qt/lib/Qt{0}.framework/Versions/A/Qt{0}", "PySide6/Qt/qml/QtQuick/Controls/libplugin.dylib"),
}


@pytest.mark.parametrize("system", sorted(QT_LAYOUTS))
def test_qt_trimming_keeps_what_webengine_widgets_link_and_drops_qml(system):
    used_by_app = spec_filter()
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


def test_test_only_and_unused_packages_are_excluded():
    excludes = set(spec_constant("EXCLUDES"))
    assert {"transformers", "pytest", "tkinter", "tests"} <= excludes
    assert not {"torch", "PySide6", "app", "glmocr_core"} & excludes


# --------------------------------------------------------------------------------------------- linux .deb tree


@pytest.mark.skipif(shutil.which("dpkg") is None, reason="needs dpkg (Debian/Ubuntu)")
def test_deb_tree_links_both_executables_and_registers_the_desktop_entry(tmp_path, icon_files):
    import linux_installers

    bundle = tmp_path / "bundle"
    bundle.mkdir()
    for name in (metadata.GUI_NAME, metadata.CLI_NAME):
        (bundle / name).write_text("#!/bin/sh\n", encoding="utf-8")
    root = tmp_path / "root"
    linux_installers.stage_deb_tree(bundle, root, "9.8.7", icon_png=icon_files["png"])

    for name in (metadata.GUI_NAME, metadata.CLI_NAME):
        link = root / "usr/bin" / name
        assert link.is_symlink()
        assert (root / str(link.readlink()).lstrip("/")).is_file()  # resolves inside the package
    assert (root / "usr/share/applications" / DESKTOP.name).read_text() == DESKTOP.read_text()
    assert (root / f"usr/share/icons/hicolor/256x256/apps/{metadata.GUI_NAME}.png").is_file()
    control = dict(line.split(": ", 1) for line in (root / "DEBIAN/control").read_text().splitlines()
                   if ": " in line and not line.startswith(" "))
    assert control["Package"] == metadata.GUI_NAME and control["Version"] == "9.8.7"
    assert "libnss3" in control["Depends"] and int(control["Installed-Size"]) >= 0
    for script in linux_installers.MAINTAINER_SCRIPTS:
        assert (root / "DEBIAN" / script).stat().st_mode & 0o111, f"{script} must be executable"
    postinst = (root / "DEBIAN/postinst").read_text()
    source = re.search(r"^PROFILE_SRC=(\S+)$", postinst, re.M).group(1)
    assert (root / source.lstrip("/")).is_file()  # postinst copies a file the package really ships


def test_apparmor_profile_covers_the_installed_gui_and_the_webengine_helper():
    import linux_installers

    profile = (PACKAGING / "linux" / "apparmor-profile").read_text(encoding="utf-8")
    attach = re.search(r"^profile (\S+) (\S+) flags=\(unconfined\) \{$", profile, re.M)
    assert attach and attach.group(1) == metadata.GUI_NAME
    prefix, alternatives = re.fullmatch(r"(\S+)/\{([^}]*)\}", attach.group(2)).groups()
    assert prefix == "/" + linux_installers.INSTALL_PREFIX.as_posix()
    assert alternatives.split(",") == [metadata.GUI_NAME, "_internal/PySide6/Qt/libexec/QtWebEngineProcess"]
    assert re.search(r"^\s*userns,$", profile, re.M)


# ------------------------------------------------------------------------------------------ driver and launcher


def test_build_driver_refuses_to_cross_build(monkeypatch):
    import build

    monkeypatch.setattr(sys, "platform", "linux")
    assert build.resolve_target("auto") == "linux"
    with pytest.raises(SystemExit, match="cannot build a windows installer on linux"):
        build.resolve_target("windows")


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


def test_workflow_builds_on_all_three_systems():
    yaml = pytest.importorskip("yaml")
    workflow = yaml.safe_load((REPO / ".github/workflows/installers.yml").read_text(encoding="utf-8"))
    job = workflow["jobs"]["installer"]
    assert set(job["strategy"]["matrix"]["os"]) == {"ubuntu-latest", "windows-latest", "macos-latest"}
    commands = "\n".join(step.get("run", "") for step in job["steps"])
    assert "python packaging/build.py" in commands and "--skip-smoke" not in commands  # the frozen app must start
    uploads = [step for step in job["steps"] if str(step.get("uses", "")).startswith("actions/upload-artifact")]
    assert uploads and "packaging/dist" in uploads[0]["with"]["path"]
