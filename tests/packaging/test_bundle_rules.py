"""What goes into a bundle and what its installers declare: the ELF reader, the .deb's Depends and glibc floor, the
bundle content check, the licence file, torch's CPU/CUDA variant, signing switches, and the smoke checks of an
installed copy. Real ELF files (PySide6's own Qt libraries and plugins) where readelf is available; nothing builds.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from importlib import metadata as dist_metadata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGING = REPO / "packaging"
sys.path.insert(0, str(PACKAGING))  # packaging/ is a folder of scripts, not a package

import bundle_contents  # noqa: E402
import linux_depends  # noqa: E402
import linux_elf  # noqa: E402
import metadata  # noqa: E402

needs_readelf = pytest.mark.skipif(shutil.which("readelf") is None, reason="needs binutils' readelf")
on_linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ELF files are Linux's")


def pyside_qt() -> Path:
    import PySide6

    return Path(PySide6.__file__).parent / "Qt"


# ---------------------------------------------------------------------------------------------------- ELF needs


READELF_SAMPLE = """
Dynamic section at offset 0x2d0e8 contains 29 entries:
  Tag        Type                         Name/Value
 0x0000000000000001 (NEEDED)             Shared library: [libwayland-cursor.so.0]
 0x0000000000000001 (NEEDED)             Shared library: [libstdc++.so.6]
 0x0000000000000001 (NEEDED)             Shared library: [libc.so.6]
 0x000000000000000e (SONAME)             Library soname: [libQt6WaylandClient.so.6]
 0x000000000000001d (RUNPATH)            Library runpath: [$ORIGIN]

Version symbols section '.gnu.version' contains 2 entries:
 Addr: 0x0000000000001c9e  Offset: 0x001c9e  Link: 6 (.dynsym)
  000:   0 (*local*)       4 (GLIBC_2.2.5)

Version definition section '.gnu.version_d' contains 2 entries:
  000000: Rev: 1  Flags: BASE  Index: 1  Cnt: 1  Name: libQt6WaylandClient.so.6
  0x001c: Rev: 1  Flags: none  Index: 2  Cnt: 1  Name: Qt_6

Version needs section '.gnu.version_r' contains 2 entries:
 Addr: 0x0000000000001d30  Offset: 0x001d30  Link: 7 (.dynstr)
  000000: Version: 1  File: libstdc++.so.6  Cnt: 2
  0x0010:   Name: GLIBCXX_3.4.29  Flags: none  Version: 9
  0x0020:   Name: CXXABI_1.3  Flags: none  Version: 8
  0x0030: Version: 1  File: libc.so.6  Cnt: 3
  0x0040:   Name: GLIBC_2.34  Flags: none  Version: 7
  0x0050:   Name: GLIBC_2.2.5  Flags: none  Version: 5
  0x0060:   Name: GLIBC_2.14  Flags: none  Version: 3
"""


def test_readelf_output_gives_needed_sonames_and_only_the_needed_versions():
    needs = linux_elf.parse_readelf(Path("lib.so"), READELF_SAMPLE)
    assert needs.soname == "libQt6WaylandClient.so.6"
    assert needs.needed == ("libwayland-cursor.so.0", "libstdc++.so.6", "libc.so.6")
    # the definition section's Qt_6 is what the library offers, not what it needs
    assert needs.versions == {"libstdc++.so.6": {"GLIBCXX_3.4.29", "CXXABI_1.3"},
                              "libc.so.6": {"GLIBC_2.34", "GLIBC_2.2.5", "GLIBC_2.14"}}


def test_versions_compare_as_numbers():
    assert linux_elf.highest({"GLIBC_2.9", "GLIBC_2.34", "GLIBC_2.2.5", "GLIBC_PRIVATE"}, "GLIBC") == "GLIBC_2.34"
    assert linux_elf.highest({"GLIBCXX_3.4.9", "GLIBCXX_3.4.30", "CXXABI_1.3.13"}, "GLIBCXX") == "GLIBCXX_3.4.30"
    assert linux_elf.highest({"GLIBC_PRIVATE"}, "GLIBC") is None


def test_system_needs_leave_out_what_the_bundle_carries(tmp_path):
    files = [linux_elf.ElfNeeds(tmp_path / "a.so", needed=("libQt6Core.so.6", "libc.so.6"),
                                versions={"libc.so.6": frozenset({"GLIBC_2.34"})}),
             linux_elf.ElfNeeds(tmp_path / "libQt6Core.so.6", soname="libQt6Core.so.6", needed=("libc.so.6",),
                                versions={"libc.so.6": frozenset({"GLIBC_2.17"})})]
    needs = linux_elf.system_needs(files, {"libQt6Core.so.6"})
    assert needs == {"libc.so.6": {"GLIBC_2.34", "GLIBC_2.17"}}


@on_linux
@needs_readelf
def test_real_qt_plugins_need_the_x11_and_wayland_client_libraries(tmp_path):
    """A bundle of the Qt pieces the window loads (from this machine's PySide6 wheel): its Depends name the xcb and
    Wayland libraries the plugins link, and a glibc floor from their symbol versions."""
    qt = pyside_qt()
    bundle = tmp_path / "bundle"
    (bundle / "lib").mkdir(parents=True)
    (bundle / "platforms").mkdir()
    for name in ("Core", "Gui", "DBus", "XcbQpa", "WaylandClient", "OpenGL"):
        shutil.copy2(qt / "lib" / f"libQt6{name}.so.6", bundle / "lib")
    for icu in (qt / "lib").glob("libicu*.so.*"):  # the wheel carries its own ICU
        shutil.copy2(icu, bundle / "lib")
    for plugin in ("libqxcb.so", "libqwayland.so"):
        shutil.copy2(qt / "plugins" / "platforms" / plugin, bundle / "platforms")
    files = linux_elf.scan(bundle)
    assert {f.path.name for f in files} >= {"libqxcb.so", "libQt6WaylandClient.so.6"}
    needs = linux_elf.system_needs(files, linux_elf.provided_names(bundle, files))
    assert "libQt6Gui.so.6" not in needs  # carried by the bundle
    requirements = linux_depends.requirements(needs)
    packages = {entry.split(" ")[0] for entry in requirements.depends}
    assert {"libxcb1", "libxkbcommon0", "libwayland-client0", "libwayland-cursor0", "libc6", "libstdc++6"} <= packages
    assert requirements.glibc_floor >= (2, 28)
    libc = next(entry for entry in requirements.depends if entry.startswith("libc6 "))
    assert libc == f"libc6 (>= {'.'.join(map(str, requirements.glibc_floor))})"


# ------------------------------------------------------------------------------------------------------ Depends


def test_depends_floors_come_from_the_symbol_versions():
    requirements = linux_depends.requirements({
        "libc.so.6": frozenset({"GLIBC_2.2.5", "GLIBC_2.34"}), "libm.so.6": frozenset({"GLIBC_2.29"}),
        "libstdc++.so.6": frozenset({"GLIBCXX_3.4.30", "CXXABI_1.3.13"}), "libgcc_s.so.1": frozenset({"GCC_4.2.0"}),
        "libasound.so.2": frozenset({"ALSA_0.9"}), "libxcb.so.1": frozenset()})
    assert requirements.depends == ("libasound2 | libasound2t64", "libc6 (>= 2.34)", "libgcc-s1 (>= 4.2)",
                                    "libstdc++6 (>= 12)", "libxcb1")
    assert requirements.glibc_floor == (2, 34)
    assert requirements.oldest_distribution == "ubuntu:22.04"


def test_renamed_packages_get_the_floor_on_both_names():
    assert linux_depends._with_floor("libfoo1 | libfoo1t64", "2.0") == "libfoo1 (>= 2.0) | libfoo1t64 (>= 2.0)"


def test_an_unknown_system_library_stops_the_build():
    with pytest.raises(linux_depends.UnknownLibrary, match="libgtk-3.so.0"):
        linux_depends.requirements({"libc.so.6": frozenset(), "libgtk-3.so.0": frozenset()})


@pytest.mark.parametrize(("floor", "image"), [((2, 28), "ubuntu:22.04"), ((2, 35), "ubuntu:22.04"),
                                               ((2, 36), "debian:12"), ((2, 38), "ubuntu:24.04"),
                                               ((2, 41), "debian:13"), ((2, 43), None)])
def test_the_oldest_distribution_is_the_first_whose_glibc_meets_the_floor(floor, image):
    assert linux_depends.oldest_distribution(floor) == image


def test_the_issue_named_libraries_map_to_their_packages():
    packages = linux_depends.SYSTEM_PACKAGES
    assert packages["libwayland-cursor.so.0"] == "libwayland-cursor0"
    assert packages["libwayland-client.so.0"] == "libwayland-client0"
    assert packages["libdrm.so.2"] == "libdrm2" and packages["libxcb.so.1"] == "libxcb1"
    assert "libgtk-3.so.0" not in packages  # the GTK3 theme plugin is left out instead
    # Debian's package names: a hyphen before the ABI number when the library's name ends in a digit
    assert packages["libxcb-dri3.so.0"] == "libxcb-dri3-0" and packages["libxcb-render.so.0"] == "libxcb-render0"
    assert packages["libxcb-xkb.so.1"] == "libxcb-xkb1"


# ------------------------------------------------------------------------------------------ bundle content rules


@pytest.mark.parametrize(("path", "kept"), [
    ("_internal/torch/lib/libtorch_cpu.so", True),
    ("_internal/torch/bin/torch_shm_manager", True),
    ("_internal/torch/bin/test_api", False),
    ("_internal/torch/bin/TCPStoreTest", False),
    ("_internal/torch/bin/protoc-3.13.0.0", False),
    ("_internal/torch/lib/libtorchbind_test.so", False),
    ("_internal/torch/lib/libjitbackend_test.so", False),
    ("_internal/torch/include/ATen/ATen.h", False),
    ("_internal/torch/test/test_torch.py", False),
    ("_internal/PySide6/Qt/translations/qtwebengine_locales/en-US.pak", True),
    ("_internal/PySide6/Qt/translations/qtwebengine_locales/de.pak", False),
    ("_internal/PySide6/Qt/resources/qtwebengine_resources.pak", True),
    ("PySide6\\translations\\qtwebengine_locales\\fr.pak", False),
    ("_internal/PySide6/Qt/translations/qtbase_de.qm", False),
    ("_internal/PySide6/Qt/resources/qtwebengine_devtools_resources.pak", False),
    ("_internal/PySide6/Qt/resources/icudtl.dat", True),
])
def test_what_users_need(path, kept):
    assert bundle_contents.for_users(path) is kept


@pytest.mark.parametrize(("source", "host"), [
    ("/usr/lib/x86_64-linux-gnu/libstdc++.so.6", True),
    ("/lib/x86_64-linux-gnu/libgbm.so.1", True),
    ("/usr/lib64/libnss3.so", True),
    ("/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0", False),  # a distribution's Python: the bundle needs it
    ("/root/.pyenv/versions/3.11.7/lib/libpython3.11.so.1.0", False),
    ("/opt/venv/lib/python3.11/site-packages/PySide6/Qt/lib/libQt6Core.so.6", False),
])
def test_libraries_from_the_build_machine_are_recognized(source, host):
    assert bundle_contents.from_build_host(source) is host


def test_host_library_names_versus_wheel_copies():
    system = set(linux_depends.SYSTEM_PACKAGES)
    assert bundle_contents.is_host_library("libstdc++.so.6", system)
    assert bundle_contents.is_host_library("libsystemd.so.0", system)
    assert bundle_contents.is_host_library("libgnutls.so.30", system)
    assert not bundle_contents.is_host_library("libxcb-9065bb12.so.1.1.0", system)  # Pillow's own, renamed
    assert not bundle_contents.is_host_library("libQt6Core.so.6", system)


def test_unloadable_follows_chains():
    needs = {"plugins/imageformats/libqpdf.so": ["libQt6Pdf.so.6", "libc.so.6"],
             "lib/libhelper.so": ["libgtk-3.so.0"], "plugins/x/libuses_helper.so": ["libhelper.so"],
             "lib/libQt6Core.so.6": ["libc.so.6"]}
    assert bundle_contents.unloadable(needs, {"libc.so.6"}) == {
        "plugins/imageformats/libqpdf.so": ["libQt6Pdf.so.6"], "lib/libhelper.so": ["libgtk-3.so.0"],
        "plugins/x/libuses_helper.so": ["libhelper.so"]}


def test_prune_drops_host_libraries_and_plugins_left_without_them():
    binaries = [("PySide6/Qt/lib/libQt6Gui.so.6", "/venv/PySide6/Qt/lib/libQt6Gui.so.6", "BINARY"),
                ("libstdc++.so.6", "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "BINARY"),
                ("libgtk-3.so.0", "/usr/lib/x86_64-linux-gnu/libgtk-3.so.0", "BINARY"),
                ("PySide6/Qt/plugins/platformthemes/libqgtk3.so", "/venv/qgtk3.so", "BINARY"),
                ("PySide6/Qt/plugins/platforms/libqxcb.so", "/venv/qxcb.so", "BINARY")]
    needed = {"/venv/PySide6/Qt/lib/libQt6Gui.so.6": ["libstdc++.so.6", "libEGL.so.1"],
              "/venv/qgtk3.so": ["libgtk-3.so.0", "libQt6Gui.so.6"], "/venv/qxcb.so": ["libxcb.so.1", "libQt6Gui.so.6"]}
    kept, dropped = bundle_contents.prune_linux_binaries(binaries, needed.get, set(linux_depends.SYSTEM_PACKAGES))
    assert [entry[0] for entry in kept] == ["PySide6/Qt/lib/libQt6Gui.so.6", "PySide6/Qt/plugins/platforms/libqxcb.so"]
    assert len(dropped) == 3 and any("libqgtk3.so needs libgtk-3.so.0" in line for line in dropped)


def test_qt_libraries_that_nothing_links_are_left_out():
    needs = {"PySide6/QtCore.abi3.so": ["libQt6Core.so.6"], "PySide6/Qt/lib/libQt6Core.so.6": ["libc.so.6"],
             "PySide6/Qt/lib/libQt6Quick.so.6": ["libQt6Qml.so.6"],
             "PySide6/Qt/lib/libQt6Qml.so.6": ["libQt6Core.so.6"],
             "PySide6/Qt/plugins/platforms/libqxcb.so": ["libQt6Core.so.6"]}
    # Quick is linked by nothing; then Qml is linked only by Quick; plugins and Python modules are never orphans
    assert bundle_contents.unneeded_qt_libraries(needs) == {"PySide6/Qt/lib/libQt6Quick.so.6",
                                                            "PySide6/Qt/lib/libQt6Qml.so.6"}


@on_linux
@needs_readelf
@pytest.mark.skipif(shutil.which("cc") is None or shutil.which("strip") is None, reason="needs a C compiler and strip")
def test_stripping_removes_symbol_tables_of_libraries_only(tmp_path):
    source = write(tmp_path / "lib.c", b"static int helper(void) { return 2; }\n"
                                       b"int exported(void) { return helper(); }\n")
    library = tmp_path / "bundle" / "libdemo.so.1"
    library.parent.mkdir()
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(library), str(source)], check=True)
    program = tmp_path / "bundle" / "glmocr-studio"
    shutil.copy2(library, program)  # an ELF file that is not named like a library: the PyInstaller executable
    assert linux_elf.has_symbol_table(library) and linux_elf.has_symbol_table(program)
    assert linux_elf.strip_symbol_tables(library.parent) > 0
    assert not linux_elf.has_symbol_table(library) and linux_elf.has_symbol_table(program)
    dynamic = subprocess.run(["readelf", "--wide", "--dyn-syms", str(library)], capture_output=True, text=True).stdout
    assert " exported" in dynamic  # what dlsym and the loader use is still there
    assert linux_elf.strip_symbol_tables(library.parent) == 0  # nothing left to do


PROGRAM_HEADERS = """
Program Headers:
  Type           Offset   VirtAddr           PhysAddr           FileSiz  MemSiz   Flg Align
  LOAD           0x000000 0x0000000000000000 0x0000000000000000 0x001234 0x001234 R   0x1000
  LOAD           {offset} 0x0000000000402000 0x0000000000402000 0x000100 0x000100 R E 0x1000
  DYNAMIC        0x002e20 0x0000000000403e20 0x0000000000403e20 0x0001a0 0x0001a0 RW  0x8
"""


@pytest.mark.parametrize(("offset", "loadable"), [("0x002000", True), ("0x002010", False)])
def test_a_stripped_library_must_still_load(tmp_path, monkeypatch, offset, loadable):
    """What strip did to numpy's patchelf-edited OpenBLAS here: offset and address no longer agree modulo the page."""
    headers = PROGRAM_HEADERS.format(offset=offset)
    monkeypatch.setattr(linux_elf.subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 0, headers, ""))
    assert linux_elf.loadable_layout(tmp_path / "lib.so") is loadable


def test_prune_refuses_to_strand_a_library_the_app_links():
    binaries = [("PySide6/Qt/lib/libQt6Gui.so.6", "/venv/libQt6Gui.so.6", "BINARY")]
    with pytest.raises(bundle_contents.StrandedLibrary, match="libQt6Gui.so.6 needs libunheard-of.so.1"):
        bundle_contents.prune_linux_binaries(binaries, lambda source: ["libunheard-of.so.1"], set())


def write(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_the_bundle_check_fails_on_each_kind_of_problem(tmp_path):
    bundle = tmp_path / "bundle"
    write(bundle / "glmocr-studio")
    write(bundle / "_internal/torch/lib/libtorch_cpu.so")
    assert bundle_contents.problems(bundle, elf_needs={}, size_limit_mib=1) == []

    write(bundle / "_internal/torch/bin/test_api")
    archive = os.urandom(bundle_contents.DUPLICATE_MIN_BYTES)
    write(bundle / "_internal/base_library.zip", archive)
    write(bundle / "_internal/copy/base_library.zip", archive)
    write(bundle / "_internal/small-a.txt", b"same")
    write(bundle / "_internal/small-b.txt", b"same")  # small identical files are not worth a finding
    write(bundle / "_internal/libstdc++.so.6")
    needs = {"_internal/PySide6/Qt/plugins/imageformats/libqpdf.so": ["libQt6Pdf.so.6"]}
    found = bundle_contents.problems(bundle, elf_needs=needs, system_libraries=set(linux_depends.SYSTEM_PACKAGES),
                                     size_limit_mib=1)
    assert found == ["not for users: _internal/torch/bin/test_api",
                     "duplicate: _internal/base_library.zip = _internal/copy/base_library.zip",
                     "build-host library: _internal/libstdc++.so.6",
                     "cannot load: _internal/PySide6/Qt/plugins/imageformats/libqpdf.so needs libQt6Pdf.so.6",
                     "too big: 2 MiB on disk, the target is 1 MiB"]


def test_links_are_not_duplicates(tmp_path):
    target = write(tmp_path / "lib/libQt6Core.so.6", os.urandom(bundle_contents.DUPLICATE_MIN_BYTES))
    (tmp_path / "libQt6Core.so.6").symlink_to(target)
    assert bundle_contents.duplicates(tmp_path) == []


# ------------------------------------------------------------------------------------------------ licence file


@pytest.fixture(scope="module")
def notices_text() -> str:
    import licenses

    return licenses.render(licenses.components())


def test_licence_file_names_every_licence_the_issue_lists(notices_text):
    import licenses

    assert notices_text.startswith(f"Format: {licenses.FORMAT_URL}\n")
    paragraphs = notices_text.split("\n\n")
    def paragraph(start: str) -> str:
        return next(p for p in paragraphs if p.startswith(start))

    assert "License: MIT" in paragraph("Files: *\n")  # the app
    assert "KaTeX" in paragraph("Files: */resources/web/katex/*") and "License: MIT" in notices_text
    torch = paragraph("Files: */functorch/* */torch/*") if "functorch" in notices_text else paragraph("Files: */torch")
    assert "BSD-3-Clause" in torch and dist_metadata.version("torch") in torch
    qt = next(p for p in paragraphs if p.startswith("License: LGPL-3 (LGPL-3.0 and GPL-3.0, Qt 6"))
    assert " GNU LESSER GENERAL PUBLIC LICENSE" in qt and " GNU GENERAL PUBLIC LICENSE" in qt
    pymupdf = next(p for p in paragraphs if p.startswith("Files:") and "*/pymupdf/*" in p)
    assert "License: AGPL-3" in pymupdf
    assert "corresponding source" in pymupdf and f"releases/tag/{dist_metadata.version('PyMuPDF')}" in pymupdf
    agpl = next(p for p in paragraphs if p.startswith("License: AGPL-3 (AGPL-3.0, pymupdf"))
    assert agpl.splitlines()[1] == " GNU AFFERO GENERAL PUBLIC LICENSE"  # the whole text, not the wheel's summary
    assert "13. Remote Network Interaction" in agpl
    assert "GLM-OCR model" in paragraphs[0] and "MIT" in paragraphs[0]


def test_licence_file_is_valid_deb822(notices_text):
    for paragraph in notices_text.strip("\n").split("\n\n"):
        lines = paragraph.splitlines()
        assert lines and ":" in lines[0] and not lines[0].startswith(" ")
        assert all(line.startswith(" ") or (": " in line and not line.startswith(" ")) for line in lines[1:]), lines[0]
        assert all(line.strip() for line in lines), "an empty line inside a paragraph must be ' .'"


# ----------------------------------------------------------------------------------------- torch CPU or CUDA


@pytest.mark.parametrize(("version", "distributions", "variant"), [
    ("2.13.0+cpu", set(), "cpu"),  # the CPU index (Linux, Windows)
    ("2.13.0", set(), "cpu"),  # PyPI's macOS and Windows wheels
    ("2.13.0", {"nvidia-cublas-cu12", "filelock"}, "cuda"),  # PyPI's Linux wheel
    ("2.13.0+cu126", set(), "cuda"),
])
def test_torch_variant(version, distributions, variant):
    import build

    assert build.torch_variant(version, distributions) == variant


def test_a_cpu_build_refuses_a_cuda_torch_and_says_how_to_fix_it():
    import build

    assert build.resolve_variant("cpu", "cpu") == "cpu"
    assert build.resolve_variant("auto", "cuda") == "cuda"
    with pytest.raises(SystemExit, match=f"--index-url {metadata.CPU_TORCH_INDEX}"):
        build.resolve_variant("cpu", "cuda")


# ------------------------------------------------------------------------------------------------------ signing


def test_signing_is_ad_hoc_and_unsigned_by_default():
    import signing

    assert signing.macos_identity({}) == signing.AD_HOC
    assert signing.notary_credentials({}) is None
    assert signing.windows_signer({}) is None


def test_half_a_signing_setup_stops_the_build(tmp_path):
    import signing

    identity = {signing.MACOS_IDENTITY_ENV: "Developer ID Application: X (TEAM123456)"}
    with pytest.raises(signing.SigningSetupError, match="MACOS_NOTARY_PASSWORD"):
        signing.notary_credentials({**identity, "MACOS_NOTARY_APPLE_ID": "a@b", "MACOS_NOTARY_TEAM_ID": "T"})
    with pytest.raises(signing.SigningSetupError, match="Developer ID"):
        signing.notary_credentials(dict.fromkeys(signing.MACOS_NOTARY_ENV, "x"))
    pfx = write(tmp_path / "cert.pfx")
    with pytest.raises(signing.SigningSetupError, match=signing.WINDOWS_PASSWORD_ENV):
        signing.windows_signer({signing.WINDOWS_PFX_ENV: str(pfx)})
    with pytest.raises(signing.SigningSetupError, match="is not a file"):
        signing.windows_signer({signing.WINDOWS_PFX_ENV: str(tmp_path / "missing.pfx"), "WINDOWS_SIGN_PASSWORD": "p"})


def test_signing_commands(tmp_path):
    import signing

    credentials = signing.notary_credentials({signing.MACOS_IDENTITY_ENV: "Developer ID Application: X",
                                              **dict(zip(signing.MACOS_NOTARY_ENV, ["a@b", "TEAM", "pw"]))})
    submit, staple = signing.notarize_commands(Path("app.dmg"), credentials)
    assert submit[:4] == ["xcrun", "notarytool", "submit", "app.dmg"] and "--wait" in submit
    assert submit[submit.index("--team-id") + 1] == "TEAM" and staple == ["xcrun", "stapler", "staple", "app.dmg"]
    signer = signing.windows_signer({signing.WINDOWS_PFX_ENV: str(write(tmp_path / "c.pfx")),
                                     signing.WINDOWS_PASSWORD_ENV: "pw"})
    command = signer.command("signtool.exe", [Path("a.exe"), Path("a.com")])
    assert command[:2] == ["signtool.exe", "sign"] and command[-2:] == ["a.exe", "a.com"]
    assert command[command.index("/tr") + 1] == signing.DEFAULT_TIMESTAMP_URL and "/fd" in command
    assert signer.inno_sign_tool("signtool.exe").endswith(" $f")


def test_entitlements_allow_what_webengine_and_torch_need():
    import plistlib

    import signing

    with open(signing.MACOS_ENTITLEMENTS, "rb") as handle:
        entitlements = plistlib.load(handle)
    assert entitlements == {"com.apple.security.cs.allow-jit": True,
                            "com.apple.security.cs.allow-unsigned-executable-memory": True}


# --------------------------------------------------------------------------------------- smoke of an installed copy


def test_smoke_recognizes_a_region_only_with_the_right_box_and_tokens():
    import smoke

    image = Path("/tmp/page.png")
    box = [float(v) for v in smoke.REGION]
    good = json.dumps({"source": str(image), "region": box, "token_ids": [5, 6]})
    assert smoke.recognized_region("progress\n" + good + "\n", image)
    assert not smoke.recognized_region(json.dumps({"source": str(image), "region": None, "token_ids": [5]}), image)
    assert not smoke.recognized_region(json.dumps({"source": str(image), "region": box, "token_ids": []}), image)
    assert not smoke.recognized_region("", image)


def test_smoke_leaves_the_sandbox_on_and_can_use_a_real_display(tmp_path, monkeypatch):
    import smoke

    monkeypatch.delenv("QTWEBENGINE_DISABLE_SANDBOX", raising=False)
    env = smoke.isolated_env(tmp_path / "home", "xcb")
    assert env["QT_QPA_PLATFORM"] == "xcb" and "QTWEBENGINE_DISABLE_SANDBOX" not in env
    assert smoke.parse_args(["--qt-platform", "xcb", "/opt/glmocr-studio"]).bundle == Path("/opt/glmocr-studio")


FAKE_STUDIO = """#!/bin/sh
case "$1" in
  --version) echo "glmocr-studio 0.1.0" ;;
  info) echo "device: cpu" ;;
  ocr) echo '{"source": "x", "region": [REGION], "token_ids": [1, 2]}' ;;
  --self-test) [ "$QT_QPA_PLATFORM" = xcb ] && echo "self-test: passed" >> "$GLMOCR_STUDIO_SELF_TEST_REPORT" ;;
esac
"""


@on_linux  # the script is for Debian-like systems (GNU find, ldd)
@pytest.mark.parametrize(("answered_region", "passes"), [("4.0, 28.0, 200.0, 84.0", True),
                                                         ("0.0, 0.0, 1.0, 1.0", False)])
def test_installed_smoke_script_checks_the_region_and_the_window(tmp_path, answered_region, passes):
    import smoke

    inputs = tmp_path / "inputs"
    write(inputs / "region.txt", (",".join(map(str, smoke.REGION)) + "\n").encode())
    studio = write(tmp_path / "bundle/glmocr-studio", FAKE_STUDIO.replace("REGION", answered_region).encode())
    studio.chmod(0o755)
    env = dict(os.environ, DISPLAY=":99", GLMOCR_STUDIO_BUNDLE=str(tmp_path / "bundle"))
    done = subprocess.run(["sh", str(PACKAGING / "linux/installed-smoke.sh"), str(inputs), str(studio)],
                          capture_output=True, text=True, timeout=60, env=env)
    assert (done.returncode == 0) is passes, done.stdout + done.stderr
    assert ("installed smoke: passed" in done.stdout) is passes


@pytest.mark.skipif(sys.platform == "win32" or shutil.which("sh") is None, reason="needs a POSIX shell")
@pytest.mark.parametrize(("userns_works", "sandbox_off"), [(True, False), (False, True)])
def test_apprun_runs_without_the_sandbox_only_where_no_user_namespace_can_be_made(tmp_path, userns_works, sandbox_off):
    tools = tmp_path / "tools"
    for name, body in (("unshare", "exit 0" if userns_works else "exit 1"), ("id", "echo 1000")):
        write(tools / name, f"#!/bin/sh\n{body}\n".encode()).chmod(0o755)
    appdir = tmp_path / "AppDir"
    executable = write(appdir / "usr/lib" / metadata.GUI_NAME / metadata.GUI_NAME,
                       b'#!/bin/sh\necho "sandbox off: ${QTWEBENGINE_DISABLE_SANDBOX:-no}"\n')
    executable.chmod(0o755)
    shutil.copy2(PACKAGING / "linux" / "AppRun", appdir / "AppRun")
    env = {k: v for k, v in os.environ.items() if k != "QTWEBENGINE_DISABLE_SANDBOX"}
    env["PATH"] = f"{tools}:{env['PATH']}"
    done = subprocess.run(["sh", str(appdir / "AppRun")], capture_output=True, text=True, timeout=30, env=env)
    assert done.stdout.strip() == f"sandbox off: {'1' if sandbox_off else 'no'}"
    assert ("without Chromium's sandbox" in done.stderr) is sandbox_off


# ------------------------------------------------------------------------------------------- Linux installers


def test_the_deb_compression_is_linux_installers_choice_and_zstd_is_offered():
    import build
    import linux_installers

    assert linux_installers.DEB_COMPRESSION == "xz"  # zstd misses the size target (linux_installers.py)
    assert build.parse_args([]).deb_compression is None  # None: linux_installers' default
    assert build.parse_args(["--deb-compression", "zstd"]).deb_compression == "zstd"


def test_only_the_pinned_appimagetool_runs(tmp_path):
    import linux_installers

    tool = write(tmp_path / "appimagetool", b"not the release")
    with pytest.raises(SystemExit, match=linux_installers.APPIMAGETOOL_SHA256):
        linux_installers.check_appimagetool(str(tool))
    linux_installers.check_appimagetool(str(tool), expected=linux_installers.sha256_of(tool))


@pytest.mark.skipif(sys.platform == "win32" or shutil.which("sh") is None, reason="needs a POSIX shell")
def test_the_appimage_runtime_is_the_head_of_the_verified_tool(tmp_path):
    """An AppImage's runtime ends at the offset it reports (``--appimage-offset``); what follows is its squashfs."""
    import linux_installers

    head = b'#!/bin/sh\necho 40\n'.ljust(40, b"#")
    tool = write(tmp_path / "appimagetool", head + b"SQUASHFS PAYLOAD")
    tool.chmod(0o755)
    runtime = linux_installers.extract_runtime(str(tool), tmp_path / "runtime")
    assert runtime.read_bytes() == head and os.access(runtime, os.X_OK)


def test_the_build_record_says_what_the_deb_claims(tmp_path):
    import linux_installers

    deb = write(tmp_path / "glmocr-studio_0.1.0_amd64.deb", b"d" * 2**20)
    bundle = tmp_path / "bundle"
    write(bundle / "glmocr-studio", b"b" * 3 * 2**20)
    requirements = linux_depends.Requirements(("libc6 (>= 2.34)", "libxcb1"), (2, 34))
    record = json.loads(linux_installers.write_build_record(deb, bundle, requirements).read_text())
    assert record == {"deb": deb.name, "depends": ["libc6 (>= 2.34)", "libxcb1"], "glibc_floor": "2.34",
                      "oldest_distribution": "ubuntu:22.04", "deb_mib": 1.0, "bundle_mib": 3.0,
                      "targets_mib": metadata.SIZE_TARGETS_MIB}


def test_the_deb_size_target_is_checked(tmp_path):
    import build

    small = write(tmp_path / "a.deb", b"x")
    build.check_installer_sizes([small], "cpu")
    big = tmp_path / "b.deb"
    with open(big, "wb") as handle:
        handle.truncate((metadata.SIZE_TARGETS_MIB["deb"] + 1) * 2**20)
    with pytest.raises(SystemExit, match="target"):
        build.check_installer_sizes([big], "cpu")
    build.check_installer_sizes([big], "cuda")  # the CUDA variant has no size target


# ------------------------------------------------------------------------------------- Windows: the command on PATH


def iss_text() -> str:
    return (PACKAGING / "windows" / f"{metadata.GUI_NAME}.iss").read_text(encoding="utf-8")


def test_the_windows_installer_puts_the_command_on_path_and_takes_it_off():
    text = iss_text()
    task = next(line for line in text.splitlines() if line.startswith('Name: "addtopath"'))
    assert "unchecked" not in task  # on by default, so silent installs get it too
    assert "ChangesEnvironment=yes" in text
    code = text[text.index("[Code]"):]
    assert "WizardIsTaskSelected('addtopath')" in code and "AddFolderToPath(ExpandConstant('{app}'))" in code
    assert "usPostUninstall" in code and "RemoveFolderFromPath(ExpandConstant('{app}'))" in code
    assert "HKEY_CURRENT_USER" in code and "HKEY_LOCAL_MACHINE" in code  # per user, or for all users


def test_the_setup_itself_carries_the_version_and_can_be_signed():
    import windows_installer

    text = iss_text()
    assert '#define AppNumericVersion "' + ".".join(map(str, windows_installer.version_numbers(
        metadata.project_version()))) + '"' in text
    assert "VersionInfoVersion={#AppNumericVersion}" in text
    assert "#ifdef Sign\nSignTool=glmocr\nSignedUninstaller=yes\n#endif" in text
    command = windows_installer.iscc_command("iscc", Path("b"), Path("o"), "1.2.3", sign_tool="signtool $f")
    assert "/DAppNumericVersion=1.2.3.0" in command and "/DSign" in command and "/Sglmocr=signtool $f" in command
    assert "/DSign" not in windows_installer.iscc_command("iscc", Path("b"), Path("o"), "1.2.3")


# -------------------------------------------------------------------------------------------------- the README


def test_the_readme_builds_with_the_cpu_index_and_records_the_sizes():
    readme = (PACKAGING / "README.md").read_text(encoding="utf-8")
    assert f"--index-url {metadata.CPU_TORCH_INDEX}" in readme
    assert "python packaging/build.py" in readme and "--variant cuda" in readme
    for target in metadata.SIZE_TARGETS_MIB.values():
        assert f"{target} MiB" in readme
    assert "## Prerequisites" in readme and "## Sizes" in readme
    assert "Could only be written" in readme or "not run here" in readme
