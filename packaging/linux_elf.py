"""What the ELF files of a Linux bundle ask of the system they start on, read with binutils' ``readelf``.

Each shared library and executable names the libraries it needs (``DT_NEEDED``) and, for the ones with versioned
symbols, the versions it needs of them (``GLIBC_2.34``, ``GLIBCXX_3.4.30``). That is all the .deb's ``Depends``
and its glibc floor are computed from (linux_depends.py), and how the bundle check finds a plugin that could never
load (bundle_check.py). Nothing here knows package names.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

ELF_MAGIC = b"\x7fELF"
_NEEDED = re.compile(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]")
_SONAME = re.compile(r"\(SONAME\)\s+Library soname: \[([^\]]+)\]")
_VERSION_FILE = re.compile(r"^\s*(?:0x)?[0-9a-f]+:\s+Version: \d+\s+File: (\S+)\s+Cnt:", re.M)
_VERSION_NAME = re.compile(r"^\s*(?:0x)?[0-9a-f]+:\s+Name: (\S+)\s+Flags:", re.M)


@dataclass(frozen=True)
class ElfNeeds:
    """One ELF file: its own soname (libraries), the sonames it needs, and the symbol versions per needed soname."""

    path: Path
    soname: str | None = None
    needed: tuple[str, ...] = ()
    versions: dict[str, frozenset[str]] = field(default_factory=dict)


def is_elf(path: Path) -> bool:
    if path.is_symlink() or not path.is_file():
        return False
    with open(path, "rb") as handle:
        return handle.read(4) == ELF_MAGIC


def parse_readelf(path: Path, text: str) -> ElfNeeds:
    """``readelf --wide --dynamic --version-info`` output as ElfNeeds (only the version *needs* section counts)."""
    soname = _SONAME.search(text)
    return ElfNeeds(path=path, soname=soname.group(1) if soname else None,
                    needed=tuple(_NEEDED.findall(text)), versions=_version_needs(text))


def _version_needs(text: str) -> dict[str, frozenset[str]]:
    """The '.gnu.version_r' section: a ``File:`` line per needed library, then one ``Name:`` line per version."""
    start = text.find("Version needs section")
    if start < 0:
        return {}
    section = text[start:]
    entries = sorted([(m.start(), "file", m.group(1)) for m in _VERSION_FILE.finditer(section)]
                     + [(m.start(), "name", m.group(1)) for m in _VERSION_NAME.finditer(section)])
    versions: dict[str, set[str]] = {}
    current = None
    for _, kind, value in entries:
        if kind == "file":
            current = versions.setdefault(value, set())
        elif current is not None:
            current.add(value)
    return {name: frozenset(found) for name, found in versions.items()}


def read_needs(path: Path, readelf: str = "readelf") -> ElfNeeds:
    done = subprocess.run([readelf, "--wide", "--dynamic", "--version-info", str(path)],
                          capture_output=True, text=True, check=True)
    return parse_readelf(path, done.stdout)


def scan(folder: Path, readelf: str = "readelf") -> list[ElfNeeds]:
    """Every ELF file under ``folder`` (symlinks are names of files counted once, not files)."""
    return [read_needs(path, readelf) for path in sorted(folder.rglob("*")) if is_elf(path)]


def provided_names(folder: Path, files: list[ElfNeeds]) -> set[str]:
    """Sonames the bundle itself satisfies: every file or link name in it, and every library's own soname."""
    names = {path.name for path in folder.rglob("*") if path.is_file() or path.is_symlink()}
    return names | {needs.soname for needs in files if needs.soname}


def system_needs(files: list[ElfNeeds], provided: set[str]) -> dict[str, frozenset[str]]:
    """soname -> versions needed of it, for every soname the bundle needs and does not carry itself."""
    needs: dict[str, set[str]] = {}
    for elf in files:
        for soname in elf.needed:
            if soname not in provided:
                needs.setdefault(soname, set()).update(elf.versions.get(soname, ()))
    return {soname: frozenset(versions) for soname, versions in sorted(needs.items())}


def version_key(name: str) -> tuple[int, ...]:
    """``GLIBC_2.34`` -> (2, 34); ``GLIBCXX_3.4.30`` -> (3, 4, 30): versions compare as numbers, not text."""
    digits = re.search(r"_(\d+(?:\.\d+)*)$", name)
    return tuple(int(part) for part in digits.group(1).split(".")) if digits else ()


def highest(versions: frozenset[str] | set[str], prefix: str) -> str | None:
    """The highest ``PREFIX_x.y`` among ``versions`` (``GLIBC_PRIVATE`` and other names do not count)."""
    matching = [v for v in versions if re.fullmatch(rf"{re.escape(prefix)}_\d+(\.\d+)*", v)]
    return max(matching, key=version_key) if matching else None


SHARED_LIBRARY = re.compile(r"\.so(\.\d+)*$")
SYMBOL_TABLE = re.compile(r"\]\s+\.symtab\s")


def has_symbol_table(path: Path, readelf: str = "readelf") -> bool:
    done = subprocess.run([readelf, "--wide", "--section-headers", str(path)], capture_output=True, text=True)
    return bool(SYMBOL_TABLE.search(done.stdout))


def loadable_layout(path: Path, readelf: str = "readelf") -> bool:
    """Every LOAD segment's file offset and address agree modulo its alignment, as the loader requires (strip can
    break that in a library patchelf edited: "ELF load command address/offset not page-aligned")."""
    done = subprocess.run([readelf, "--wide", "--program-headers", str(path)], capture_output=True, text=True)
    segments = LOAD_SEGMENT.findall(done.stdout)
    return bool(segments) and all((int(offset, 16) - int(address, 16)) % int(align, 16) == 0
                                  for offset, address, align in segments)


LOAD_SEGMENT = re.compile(r"^\s*LOAD\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+0x[0-9a-f]+\s+0x[0-9a-f]+\s+0x[0-9a-f]+"
                          r"\s+[RWE ]+\s+(0x[0-9a-f]+)$", re.M)
VENDORED_FOLDER = re.compile(r"\.libs$")  # auditwheel's copies (numpy.libs, pillow.libs): patchelf-edited, stripped


def strip_symbol_tables(folder: Path, strip: str = "strip", readelf: str = "readelf") -> int:
    """``strip --strip-unneeded`` every shared library under ``folder`` that still has a static symbol table, and
    return the bytes saved. The dynamic symbols, which the loader and ``dlsym`` use, stay. A stripped copy replaces
    the library only if its segments still load (``loadable_layout``). Executables are left alone: a PyInstaller
    executable carries its archive after the ELF image, which strip would cut off."""
    saved = 0
    for path in sorted(folder.rglob("*")):
        if (not SHARED_LIBRARY.search(path.name) or VENDORED_FOLDER.search(path.parent.name) or not is_elf(path)
                or not has_symbol_table(path, readelf)):
            continue
        stripped = path.with_name(path.name + ".stripped")
        subprocess.run([strip, "--strip-unneeded", "-o", str(stripped), str(path)], check=True)
        if loadable_layout(stripped, readelf) and stripped.stat().st_size < path.stat().st_size:
            saved += path.stat().st_size - stripped.stat().st_size
            stripped.replace(path)
        else:
            stripped.unlink()
    return saved
