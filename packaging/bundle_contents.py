"""What a bundle may hold: the rules the PyInstaller spec applies to what it collects, and the check that build.py
runs on the folder it made (``problems``), so a rule that stopped matching fails the build instead of shipping.

A user needs none of: torch's C++ test programs and test libraries, its headers and CMake files, the protobuf
compiler, QtWebEngine's translations of Chromium's own menus into ~100 languages (the app is in English), a library
copied from the build machine's /usr/lib (it would clash with the user's Mesa, GPU driver or a newer libstdc++:
the .deb depends on the system's instead), or a plugin that cannot load because a library it needs is neither in
the bundle nor in the .deb's Depends (Qt's PDF image plugin, the virtual keyboard, the GTK3 theme).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from pathlib import Path, PurePath

# Test programs, test libraries and build-time files shipped in the torch wheel (matched on bundle paths with "/").
NOT_FOR_USERS = re.compile(
    r"(^|/)torch/(bin/(test_\w*|\w*Test|protoc[-.\w]*|script_module_\w*\.ptl|test_\w*\.pt|upgrader_models)"
    r"|lib/lib(torchbind_test|jitbackend_test|backend_with_compiler|aoti_custom_ops)\.\w+"
    r"|test/|include/|share/cmake/|testing/_internal/data/)"
    # Qt's own UI translations (the app loads none) and Chromium's developer tools (the app never opens them).
    r"|(^|/)PySide6/(Qt/)?(translations/[^/]+\.qm|resources/qtwebengine_devtools_resources\.pak)$"
)
# QtWebEngine's Chromium locales: keep the one the app speaks.
WEBENGINE_LOCALE = re.compile(r"(^|/)qtwebengine_locales/(?P<locale>[^/]+)\.pak$")
KEPT_WEBENGINE_LOCALES = frozenset({"en-US"})
# Where a build machine's own libraries live; anything PyInstaller collects from there is the system's business.
SYSTEM_LIBRARY_DIRS = ("/lib/", "/lib64/", "/usr/lib/", "/usr/lib64/", "/usr/local/lib/")
PYTHON_RUNTIME = re.compile(r"^libpython3\.\d+")  # a distribution's Python keeps libpython in /usr/lib: it must ship
# Libraries that only ever belong to the system, whatever the .deb's Depends say (session, printing, TLS and Kerberos
# stacks, toolkits): one of these in a bundle was copied from the build machine.
HOST_ONLY_LIBRARY = re.compile(r"^lib(systemd|udev|cups|gnutls|krb5|krb5support|gssapi_krb5|k5crypto|com_err|keyutils"
                               r"|gcrypt|gpg-error|p11-kit|avahi-\w+|selinux|mount|blkid|gtk-3|gdk-3)\.so(\.\d+)*$")
DUPLICATE_MIN_BYTES = 1 << 20  # smaller identical files (icons, licences, stubs) are not worth a finding
QT_PLUGIN_DIR = re.compile(r"(^|/)PySide6/(Qt/)?plugins/")
QT_LIBRARY = re.compile(r"(^|/)PySide6/Qt/lib/libQt6\w+\.so\.6$")


def for_users(destination: str) -> bool:
    """Whether a file collected at ``destination`` (a bundle path) is something a user of the app needs."""
    path = _posix(destination)
    if NOT_FOR_USERS.search(path):
        return False
    locale = WEBENGINE_LOCALE.search(path)
    return locale is None or locale.group("locale") in KEPT_WEBENGINE_LOCALES


def _posix(path: str) -> str:
    """A bundle path with "/" whatever OS the build runs on (PyInstaller's Windows paths use backslashes)."""
    return str(path).replace("\\", "/")


def from_build_host(source: str) -> bool:
    """A binary PyInstaller found in the build machine's system library folders (not one a wheel brought)."""
    posix = PurePath(source).as_posix()
    return posix.startswith(SYSTEM_LIBRARY_DIRS) and not PYTHON_RUNTIME.match(PurePath(source).name)


def is_host_library(name: str, system_sonames: set[str]) -> bool:
    """A file named like a library the system provides (wheels' own copies carry a hash: libxcb-9065bb12.so.1)."""
    return name in system_sonames or bool(HOST_ONLY_LIBRARY.match(name))


def unloadable(needs: dict[str, Iterable[str]], available: set[str]) -> dict[str, list[str]]:
    """Bundle paths whose libraries cannot all be found, with what is missing: ``needs`` maps each ELF's bundle
    path to the sonames it needs; ``available`` is what the system will have (the Depends) plus every name in the
    bundle. Dropping one library can strand another that needs it, so this repeats until nothing changes."""
    present = set(available) | {PurePath(path).name for path in needs}
    missing: dict[str, list[str]] = {}
    while True:
        found = {path: sorted(set(sonames) - present) for path, sonames in needs.items() if path not in missing}
        stranded = {path: lacking for path, lacking in found.items() if lacking}
        if not stranded:
            return missing
        missing.update(stranded)
        present -= {PurePath(path).name for path in stranded}


def duplicates(folder: Path, min_bytes: int = DUPLICATE_MIN_BYTES) -> list[list[str]]:
    """Groups of identical regular files (same size, same SHA-256) of at least ``min_bytes``; links do not count."""
    by_size: dict[int, list[Path]] = {}
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink() and path.stat().st_size >= min_bytes:
            by_size.setdefault(path.stat().st_size, []).append(path)
    groups: dict[str, list[str]] = {}
    for paths in (paths for paths in by_size.values() if len(paths) > 1):
        for path in paths:
            groups.setdefault(_sha256(path), []).append(path.relative_to(folder).as_posix())
    return sorted(sorted(group) for group in groups.values() if len(group) > 1)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def size_mib(folder: Path) -> float:
    """Bytes of the regular files in ``folder`` (links counted once, as their target), in MiB."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink()) / 2**20


def problems(folder: Path, elf_needs: dict[str, Iterable[str]] | None = None,
             system_libraries: set[str] = frozenset(), size_limit_mib: float | None = None,
             hash_duplicates: Callable[[Path], list[list[str]]] = duplicates) -> list[str]:
    """Everything wrong with a built bundle folder. ``elf_needs`` (bundle path -> needed sonames; Linux only) and
    ``system_libraries`` (sonames the .deb's Depends provide) enable the loadability and host-library checks."""
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() or p.is_symlink())
    found = [f"not for users: {path}" for path in files if not for_users(path)]
    found += [f"duplicate: {' = '.join(group)}" for group in hash_duplicates(folder)]
    if elf_needs is not None:
        found += [f"build-host library: {path}" for path in files
                  if is_host_library(PurePath(path).name, set(system_libraries))]
        found += [f"cannot load: {path} needs {', '.join(lacking)}"
                  for path, lacking in sorted(unloadable(elf_needs, set(system_libraries)).items())]
    if size_limit_mib is not None and (size := size_mib(folder)) > size_limit_mib:
        found.append(f"too big: {size:.0f} MiB on disk, the target is {size_limit_mib:.0f} MiB")
    return found


def is_qt_plugin(destination: str) -> bool:
    return bool(QT_PLUGIN_DIR.search(_posix(destination)))


class StrandedLibrary(Exception):
    """A library the app links (not an optional plugin) would miss a library: shipping it would crash at start."""


def prune_linux_binaries(binaries: list[tuple[str, str, str]], read_needed: Callable[[str], list[str] | None],
                         system_sonames: set[str]) -> tuple[list[tuple[str, str, str]], list[str]]:
    """PyInstaller's (destination, source, typecode) binaries without what it copied from the build machine's
    system folders, and without the Qt plugins that would then have nothing to load (``read_needed`` gives a
    source file's DT_NEEDED sonames, or None for a file that is not ELF). Returns what is kept and one line per
    file dropped."""
    kept = [entry for entry in binaries if not from_build_host(entry[1])]
    dropped = [f"build-host library: {entry[0]} (from {entry[1]})" for entry in binaries if from_build_host(entry[1])]
    needs = {entry[0]: needed for entry in kept if (needed := read_needed(entry[1])) is not None}
    stranded = unloadable(needs, set(system_sonames) | {PurePath(entry[0]).name for entry in kept})
    essential = {path: lacking for path, lacking in stranded.items() if not is_qt_plugin(path)}
    if essential:
        raise StrandedLibrary("; ".join(f"{path} needs {', '.join(lacking)}" for path, lacking in essential.items()))
    dropped += [f"cannot load: {path} needs {', '.join(lacking)}" for path, lacking in sorted(stranded.items())]
    kept = [entry for entry in kept if entry[0] not in stranded]
    orphans = unneeded_qt_libraries({entry[0]: needs[entry[0]] for entry in kept if entry[0] in needs})
    dropped += [f"needed by nothing: {path}" for path in sorted(orphans)]
    return [entry for entry in kept if entry[0] not in orphans], dropped


def unneeded_qt_libraries(needs: dict[str, Iterable[str]]) -> set[str]:
    """Qt libraries (PySide6/Qt/lib) that no other file of the bundle links, directly or through another such
    library: Qt loads its libraries only as link dependencies (plugins are loaded, libraries linked), so nothing
    would ever load these. The hooks collect them for QML modules a widgets app never uses."""
    orphans: set[str] = set()
    while True:
        linked = {soname for path, sonames in needs.items() if path not in orphans for soname in sonames}
        found = {path for path in needs if path not in orphans and QT_LIBRARY.search(_posix(path))
                 and PurePath(path).name not in linked}
        if not found:
            return orphans
        orphans |= found
