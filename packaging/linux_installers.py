"""Linux installers from the PyInstaller folder: a .deb (dpkg-deb) and an AppImage (appimagetool, when present).

The .deb installs the bundle into /opt/glmocr-studio, links its one executable into /usr/bin/glmocr-studio (the
window, and ``glmocr-studio ocr|info`` on the command line) and registers the desktop entry (with the image/PDF MIME
types it opens) and hicolor icons; Debian's triggers refresh the menu and icon caches. Its ``Depends`` and glibc
floor are computed from the bundle's ELF files (linux_depends.py), and it carries the licences of everything in it
as /usr/share/doc/glmocr-studio/copyright (licenses.py). It is compressed with multi-threaded xz (DEB_COMPRESSION:
the size target needs it). Its only maintainer scripts add an AppArmor profile on Ubuntu 24.04+,
where QtWebEngine's sandbox needs one. Next to the .deb, ``<name>.json`` records what it claims (Depends, glibc
floor, the oldest distribution, sizes): CI installs it in a clean container of that distribution.

The AppImage holds the same bundle under usr/lib/glmocr-studio. appimagetool is pinned by version and checksum
(``APPIMAGETOOL_VERSION``/``APPIMAGETOOL_SHA256``, checked before it runs), and the AppImage's runtime is the one
inside that verified tool, so nothing unpinned is downloaded while building.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import bundle_contents
import licenses
import linux_depends
import linux_elf
import metadata
from PIL import Image

LINUX_DIR = metadata.PACKAGING_DIR / "linux"
DESKTOP_FILE = LINUX_DIR / f"{metadata.GUI_NAME}.desktop"
ICON_SIZES = (48, 64, 128, 256, 512)
INSTALL_PREFIX = Path("opt") / metadata.GUI_NAME
MAINTAINER_SCRIPTS = ("postinst", "postrm")  # install/remove the AppArmor profile (see linux/apparmor-profile)
DOC_DIR = Path("usr/share/doc") / metadata.GUI_NAME
# xz, on every core: measured on this bundle, zstd -3 gives a 321 MiB .deb and zstd -12 290 MiB, over the 250 MiB
# target; xz -6 packs libtorch_cpu 19 % and QtWebEngineCore 15 % smaller than zstd -12. `--deb-compression zstd`
# builds a fast .deb for testing (dpkg >= 1.21.18, which every distribution the glibc floor admits has).
DEB_COMPRESSION = "xz"
# appimagetool is not on PyPI or in Debian: CI downloads this release and checks it (.github/workflows/installers.yml).
APPIMAGETOOL_VERSION = "1.9.0"
APPIMAGETOOL_SHA256 = "46fdd785094c7f6e545b61afcfb0f3d98d8eab243f644b4b17698c01d06083d1"  # appimagetool-x86_64.AppImage
APPIMAGETOOL_URL = (f"https://github.com/AppImage/appimagetool/releases/download/{APPIMAGETOOL_VERSION}/"
                    "appimagetool-x86_64.AppImage")


def deb_arch() -> str:
    return subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True, check=True).stdout.strip()


def bundle_requirements(bundle: Path) -> linux_depends.Requirements:
    """Depends and glibc floor from what the bundle's ELF files need and do not carry."""
    files = linux_elf.scan(bundle)
    return linux_depends.requirements(linux_elf.system_needs(files, linux_elf.provided_names(bundle, files)))


def deb_control(version: str, arch: str, installed_kib: int, depends: tuple[str, ...]) -> str:
    lines = [f"Package: {metadata.GUI_NAME}", f"Version: {version}", f"Architecture: {arch}",
             f"Maintainer: {metadata.PUBLISHER} <noreply@localhost>", f"Installed-Size: {installed_kib}",
             "Section: graphics", "Priority: optional", f"Depends: {', '.join(depends)}",
             f"Description: {metadata.SUMMARY}",
             " A desktop app that reads text, formulas (LaTeX) and tables from images and PDFs with the",
             " GLM-OCR model, entirely offline. The model (about 2.2 GB) is downloaded on first start.",
             " The same glmocr-studio command runs batches from a terminal: glmocr-studio ocr FILE..."]
    return "\n".join(lines) + "\n"


def write_icons(root: Path, source_png: Path) -> None:
    """hicolor PNGs at the usual sizes, downscaled from the 1024 px source."""
    with Image.open(source_png) as image:
        for size in ICON_SIZES:
            target = root / "usr/share/icons/hicolor" / f"{size}x{size}" / "apps" / f"{metadata.GUI_NAME}.png"
            target.parent.mkdir(parents=True, exist_ok=True)
            image.resize((size, size), Image.Resampling.LANCZOS).save(target)


def stage_deb_tree(bundle: Path, root: Path, version: str, icon_png: Path = metadata.ICON_PNG,
                   requirements: linux_depends.Requirements | None = None) -> linux_depends.Requirements:
    """The installed file tree and DEBIAN/control; returns the requirements the control file declares."""
    requirements = requirements or bundle_requirements(bundle)
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(bundle, root / INSTALL_PREFIX, symlinks=True)
    (root / "usr/bin").mkdir(parents=True)
    os.symlink(f"/{INSTALL_PREFIX}/{metadata.GUI_NAME}", root / "usr/bin" / metadata.GUI_NAME)
    applications = root / "usr/share/applications"
    applications.mkdir(parents=True)
    shutil.copy2(DESKTOP_FILE, applications / DESKTOP_FILE.name)
    write_icons(root, icon_png)
    stage_copyright(bundle, root)
    stage_apparmor(root)
    kib = sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink()) // 1024
    (root / "DEBIAN" / "control").write_text(deb_control(version, deb_arch(), kib, requirements.depends),
                                             encoding="utf-8")
    return requirements


def bundled_notices(bundle: Path) -> Path:
    """The licence file the spec put into the bundle (``_internal/licenses/copyright``)."""
    found = sorted(bundle.glob(f"*/{licenses.BUNDLE_FOLDER}/{licenses.NOTICES_NAME}"))
    if not found:
        raise SystemExit(f"{bundle} has no {licenses.BUNDLE_FOLDER}/{licenses.NOTICES_NAME}: rebuild with the spec")
    return found[0]


def stage_copyright(bundle: Path, root: Path) -> None:
    (root / DOC_DIR).mkdir(parents=True)
    shutil.copyfile(bundled_notices(bundle), root / DOC_DIR / "copyright")


def stage_apparmor(root: Path) -> None:
    """The profile travels inside the bundle; postinst copies it to /etc/apparmor.d only on AppArmor 4 systems."""
    profile = root / INSTALL_PREFIX / "apparmor" / metadata.GUI_NAME
    profile.parent.mkdir(parents=True)
    shutil.copy2(LINUX_DIR / "apparmor-profile", profile)
    (root / "DEBIAN").mkdir()
    for script in MAINTAINER_SCRIPTS:
        shutil.copy2(LINUX_DIR / script, root / "DEBIAN" / script)
        (root / "DEBIAN" / script).chmod(0o755)


def build_deb(bundle: Path, out_dir: Path, version: str, compression: str = DEB_COMPRESSION) -> Path:
    """``dpkg-deb --root-owner-group`` gives root-owned files without fakeroot."""
    root = metadata.BUILD_DIR / "deb-root"
    requirements = stage_deb_tree(bundle, root, version)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{metadata.GUI_NAME}_{version}_{deb_arch()}.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", f"--threads-max={os.cpu_count() or 1}", f"-Z{compression}",
                    "--build", str(root), str(target)], check=True)
    shutil.rmtree(root)  # a second full copy of the bundle: do not leave it around
    write_build_record(target, bundle, requirements)
    return target


def build_record(deb: Path, bundle: Path, requirements: linux_depends.Requirements) -> dict:
    return {"deb": deb.name, "depends": list(requirements.depends),
            "glibc_floor": ".".join(map(str, requirements.glibc_floor)),
            "oldest_distribution": requirements.oldest_distribution,
            "deb_mib": round(deb.stat().st_size / 2**20, 1), "bundle_mib": round(bundle_contents.size_mib(bundle), 1),
            "targets_mib": metadata.SIZE_TARGETS_MIB}


def write_build_record(deb: Path, bundle: Path, requirements: linux_depends.Requirements) -> Path:
    record = deb.with_suffix(".json")
    record.write_text(json.dumps(build_record(deb, bundle, requirements), indent=2) + "\n", encoding="utf-8")
    return record


# ------------------------------------------------------------------------------------------------------ AppImage


def find_appimagetool() -> str | None:
    """$APPIMAGETOOL, else appimagetool on PATH. It is not on PyPI or in Debian: CI downloads it."""
    return os.environ.get("APPIMAGETOOL") or shutil.which("appimagetool")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_appimagetool(tool: str, expected: str = APPIMAGETOOL_SHA256) -> None:
    """Only the pinned release runs: anything else (a "continuous" build, a damaged download) stops the build."""
    found = sha256_of(Path(tool))
    if found != expected:
        raise SystemExit(f"{tool} has SHA-256 {found}, not appimagetool {APPIMAGETOOL_VERSION}'s {expected}:"
                         f" download {APPIMAGETOOL_URL}")


def extract_runtime(tool: str, target: Path) -> Path:
    """The type-2 runtime at the head of the (verified) appimagetool AppImage; otherwise appimagetool would fetch
    the newest runtime from the network while building."""
    env = dict(os.environ, APPIMAGE_EXTRACT_AND_RUN="1")
    offset = int(subprocess.run([tool, "--appimage-offset"], capture_output=True, text=True, check=True,
                                env=env).stdout.strip())
    with open(tool, "rb") as source:
        runtime = source.read(offset)
    target.write_bytes(runtime)
    target.chmod(0o755)
    return target


def stage_appdir(bundle: Path, appdir: Path, icon_png: Path = metadata.ICON_PNG) -> None:
    shutil.rmtree(appdir, ignore_errors=True)
    shutil.copytree(bundle, appdir / "usr/lib" / metadata.GUI_NAME, symlinks=True)
    shutil.copy2(LINUX_DIR / "AppRun", appdir / "AppRun")
    (appdir / "AppRun").chmod(0o755)
    shutil.copy2(DESKTOP_FILE, appdir / DESKTOP_FILE.name)
    shutil.copy2(icon_png, appdir / f"{metadata.GUI_NAME}.png")
    write_icons(appdir, icon_png)
    os.symlink(f"{metadata.GUI_NAME}.png", appdir / ".DirIcon")


def build_appimage(bundle: Path, out_dir: Path, version: str, tool: str) -> Path:
    check_appimagetool(tool)
    appdir = metadata.BUILD_DIR / "AppDir"
    stage_appdir(bundle, appdir)
    runtime = extract_runtime(tool, metadata.BUILD_DIR / "appimage-runtime")
    out_dir.mkdir(parents=True, exist_ok=True)
    arch = os.uname().machine
    target = out_dir / f"GLM-OCR_Studio-{version}-{arch}.AppImage"
    env = dict(os.environ, ARCH=arch, APPIMAGE_EXTRACT_AND_RUN="1")  # no FUSE in build containers
    subprocess.run([tool, "--no-appstream", "--runtime-file", str(runtime), str(appdir), str(target)], check=True,
                   env=env)
    shutil.rmtree(appdir)
    return target


def build(bundle: Path, out_dir: Path, version: str, deb_compression: str = DEB_COMPRESSION) -> list[Path]:
    built = [build_deb(bundle, out_dir, version, deb_compression)]
    tool = find_appimagetool()
    if tool:
        built.append(build_appimage(bundle, out_dir, version, tool))
    else:
        print("AppImage skipped: appimagetool not found (set APPIMAGETOOL or put it on PATH; CI downloads it)")
    return built
