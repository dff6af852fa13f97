"""The .deb's ``Depends``, computed from what the bundle's ELF files need of the system (linux_elf.py).

The bundle carries Python, Qt and torch; everything else its libraries load comes from the distribution: glibc,
libstdc++, the graphics stack (EGL/GL/GBM/DRM), X11/xcb and Wayland client libraries, fontconfig, D-Bus, NSS,
ALSA. Each needed soname maps to the Debian package that ships it (``SYSTEM_PACKAGES``: data, Debian 12 / Ubuntu
22.04 names, with Ubuntu 24.04's 64-bit time_t renames as alternatives). The version floors come from the symbol
versions the bundle needs: ``GLIBC_2.x`` gives ``libc6 (>= 2.x)``, ``GLIBCXX_3.4.n`` the GCC release that first
shipped it. A soname missing from the table stops the build (``UnknownLibrary``): a guess would install a package
that cannot start.
"""

from __future__ import annotations

from dataclasses import dataclass

import linux_elf

_T64 = "t64"  # Ubuntu 24.04 renamed these packages for the 64-bit time_t transition; Debian 12 / Ubuntu 22.04 did not


def _package_of(library: str, abi: int) -> str:
    """Debian's name for a library package: the name and ABI number, with a hyphen when the name ends in a digit
    (libxcb-dri3.so.0 is in libxcb-dri3-0, libxcb-render.so.0 in libxcb-render0)."""
    return f"{library}{'-' if library[-1].isdigit() else ''}{abi}"


def _either(package: str) -> str:
    return f"{package} | {package}{_T64}"


# soname -> package. Only libraries that a distribution guarantees under that name belong here; a plugin that needs
# anything else is not shipped (bundle_check.loadable) rather than dragging in a desktop toolkit (GTK, CUPS, ...).
SYSTEM_PACKAGES = {
    # glibc
    **{name: "libc6" for name in ("libc.so.6", "libm.so.6", "libdl.so.2", "libpthread.so.0", "librt.so.1",
                                  "libutil.so.1", "libresolv.so.2", "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1")},
    "libstdc++.so.6": "libstdc++6",
    "libgcc_s.so.1": "libgcc-s1",
    # what CPython's own extension modules link (ssl, ctypes, sqlite3, lzma, bz2, zlib, uuid, crypt)
    "libz.so.1": "zlib1g",
    "libbz2.so.1.0": "libbz2-1.0",
    "liblzma.so.5": "liblzma5",
    "libzstd.so.1": "libzstd1",  # QtCore's compressed resources
    "libbrotlicommon.so.1": "libbrotli1",  # QtNetwork: compressed HTTP
    "libbrotlidec.so.1": "libbrotli1",
    "libgssapi_krb5.so.2": "libgssapi-krb5-2",  # QtNetwork: Kerberos authentication
    "libudev.so.1": "libudev1",  # QtWebEngine: device enumeration
    "libffi.so.8": "libffi8",
    "libssl.so.3": _either("libssl3"),
    "libcrypto.so.3": _either("libssl3"),
    "libsqlite3.so.0": "libsqlite3-0",
    "libuuid.so.1": "libuuid1",
    "libexpat.so.1": "libexpat1",
    "libcrypt.so.1": "libcrypt1",
    "libnsl.so.2": "libnsl2",
    "libtirpc.so.3": _either("libtirpc3"),
    # graphics: always the system's, so that the GPU driver and Mesa match
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libOpenGL.so.0": "libopengl0",
    "libGLX.so.0": "libglx0",
    "libgbm.so.1": "libgbm1",
    "libdrm.so.2": "libdrm2",
    # X11 and xcb (Qt's xcb platform plugin, QtWebEngine)
    "libX11.so.6": "libx11-6",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libXext.so.6": "libxext6",
    "libXfixes.so.3": "libxfixes3",
    "libXcomposite.so.1": "libxcomposite1",
    "libXdamage.so.1": "libxdamage1",
    "libXrandr.so.2": "libxrandr2",
    "libXtst.so.6": "libxtst6",
    "libXi.so.6": "libxi6",
    "libXrender.so.1": "libxrender1",
    "libXcursor.so.1": "libxcursor1",
    "libxkbfile.so.1": "libxkbfile1",
    "libxshmfence.so.1": "libxshmfence1",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxcb.so.1": "libxcb1",
    **{f"libxcb-{name}.so.{abi}": _package_of(f"libxcb-{name}", abi) for name, abi in (
        ("cursor", 0), ("icccm", 4), ("image", 0), ("keysyms", 1), ("randr", 0), ("render-util", 0), ("render", 0),
        ("shape", 0), ("shm", 0), ("sync", 1), ("xfixes", 0), ("xkb", 1), ("xinput", 0), ("glx", 0), ("dri3", 0),
        ("present", 0), ("util", 1))},
    # Wayland (Qt's wayland platform plugins)
    "libwayland-client.so.0": "libwayland-client0",
    "libwayland-cursor.so.0": "libwayland-cursor0",
    "libwayland-egl.so.1": "libwayland-egl1",
    # fonts, session bus, NSS (QtWebEngine's certificate store), sound (QtWebEngine)
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libglib-2.0.so.0": _either("libglib2.0-0"),
    "libgobject-2.0.so.0": _either("libglib2.0-0"),
    "libgio-2.0.so.0": _either("libglib2.0-0"),
    "libgthread-2.0.so.0": _either("libglib2.0-0"),
    "libdbus-1.so.3": "libdbus-1-3",
    **{name: "libnss3" for name in ("libnss3.so", "libnssutil3.so", "libsmime3.so")},
    **{name: "libnspr4" for name in ("libnspr4.so", "libplc4.so", "libplds4.so")},
    "libasound.so.2": _either("libasound2"),
}

# GLIBCXX_3.4.n -> the first GCC release (libstdc++6 upstream version) that has it; older ones need no floor.
GLIBCXX_RELEASES = {(3, 4, 28): "10", (3, 4, 29): "11", (3, 4, 30): "12", (3, 4, 31): "13", (3, 4, 32): "13.2",
                    (3, 4, 33): "14"}
# Oldest first. The .deb claims the first one whose glibc meets its floor; CI installs it in that image.
DISTRIBUTIONS = (("ubuntu:22.04", (2, 35)), ("debian:12", (2, 36)), ("ubuntu:24.04", (2, 39)),
                 ("debian:13", (2, 41)))


class UnknownLibrary(Exception):
    """The bundle needs a system library that SYSTEM_PACKAGES does not name a package for."""


@dataclass(frozen=True)
class Requirements:
    depends: tuple[str, ...]
    glibc_floor: tuple[int, ...]

    @property
    def oldest_distribution(self) -> str | None:
        return oldest_distribution(self.glibc_floor)


def floor_of(package: str, versions: frozenset[str]) -> str | None:
    """The ``(>= x)`` part for a package, from the symbol versions needed of its libraries."""
    if package == "libc6":
        glibc = linux_elf.highest(versions, "GLIBC")
        return ".".join(map(str, linux_elf.version_key(glibc))) if glibc else None
    if package == "libstdc++6":
        glibcxx = linux_elf.highest(versions, "GLIBCXX")
        key = linux_elf.version_key(glibcxx) if glibcxx else ()
        releases = [release for needed, release in sorted(GLIBCXX_RELEASES.items()) if needed <= key]
        return releases[-1] if releases else None
    if package == "libgcc-s1":
        gcc = linux_elf.highest(versions, "GCC")
        return ".".join(map(str, linux_elf.version_key(gcc)[:2])) if gcc else None
    return None


def requirements(system_needs: dict[str, frozenset[str]], packages: dict[str, str] = SYSTEM_PACKAGES) -> Requirements:
    """``system_needs`` (soname -> needed symbol versions, from linux_elf.system_needs) as Depends entries."""
    unknown = sorted(soname for soname in system_needs if soname not in packages)
    if unknown:
        raise UnknownLibrary("no Debian package known for " + ", ".join(unknown)
                             + ": add it to SYSTEM_PACKAGES in packaging/linux_depends.py, or keep the library that"
                               " needs it out of the bundle")
    versions: dict[str, set[str]] = {}
    for soname, needed in system_needs.items():
        versions.setdefault(packages[soname], set()).update(needed)
    depends = []
    for package, needed in sorted(versions.items()):
        floor = floor_of(package, frozenset(needed))
        depends.append(_with_floor(package, floor))
    glibc = linux_elf.highest(frozenset(versions.get("libc6", ())), "GLIBC")
    return Requirements(tuple(depends), linux_elf.version_key(glibc) if glibc else ())


def _with_floor(package: str, floor: str | None) -> str:
    if floor is None:
        return package
    return " | ".join(f"{alternative} (>= {floor})" for alternative in package.split(" | "))


def oldest_distribution(glibc_floor: tuple[int, ...]) -> str | None:
    return next((image for image, glibc in DISTRIBUTIONS if glibc >= glibc_floor), None)
