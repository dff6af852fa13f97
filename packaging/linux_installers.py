"""Linux installers from the PyInstaller folder: a .deb (dpkg-deb) and an AppImage (appimagetool, when present).

The .deb installs the bundle into /opt/glmocr-studio, links its one executable into /usr/bin/glmocr-studio (the
window, and ``glmocr-studio ocr|info`` on the command line) and registers the desktop entry (with the image/PDF MIME
types it opens) and hicolor icons; Debian's triggers refresh the menu and icon caches. Its only maintainer scripts
add an AppArmor profile on Ubuntu 24.04+, where QtWebEngine's sandbox needs one. The AppImage holds the same bundle
under usr/lib/glmocr-studio.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from PIL import Image

import metadata

LINUX_DIR = metadata.PACKAGING_DIR / "linux"
DESKTOP_FILE = LINUX_DIR / f"{metadata.GUI_NAME}.desktop"
ICON_SIZES = (48, 64, 128, 256, 512)
INSTALL_PREFIX = Path("opt") / metadata.GUI_NAME
MAINTAINER_SCRIPTS = ("postinst", "postrm")  # install/remove the AppArmor profile (see linux/apparmor-profile)
# Shared libraries that Qt's xcb platform and QtWebEngine load from the system (PyInstaller does not bundle the
# graphics stack or X/Wayland client libraries); the same list scripts/dev installs for development.
DEB_DEPENDS = ["libegl1", "libgl1", "libxkbcommon0", "libxkbcommon-x11-0", "libfontconfig1", "libdbus-1-3",
               "libnss3", "libxcomposite1", "libxdamage1", "libxrandr2", "libxtst6", "libxkbfile1",
               "libasound2 | libasound2t64", "libxshmfence1", "libgbm1", "libxcb-cursor0", "libxcb-icccm4",
               "libxcb-image0", "libxcb-keysyms1", "libxcb-randr0", "libxcb-render-util0", "libxcb-shape0",
               "libxcb-xinerama0", "libxcb-xkb1", "libxi6"]


def deb_arch() -> str:
    return subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True, check=True).stdout.strip()


def deb_control(version: str, arch: str, installed_kib: int) -> str:
    lines = [f"Package: {metadata.GUI_NAME}", f"Version: {version}", f"Architecture: {arch}",
             f"Maintainer: {metadata.PUBLISHER} <noreply@localhost>", f"Installed-Size: {installed_kib}",
             "Section: graphics", "Priority: optional", f"Depends: {', '.join(DEB_DEPENDS)}",
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


def stage_deb_tree(bundle: Path, root: Path, version: str, icon_png: Path = metadata.ICON_PNG) -> None:
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(bundle, root / INSTALL_PREFIX, symlinks=True)
    (root / "usr/bin").mkdir(parents=True)
    os.symlink(f"/{INSTALL_PREFIX}/{metadata.GUI_NAME}", root / "usr/bin" / metadata.GUI_NAME)
    applications = root / "usr/share/applications"
    applications.mkdir(parents=True)
    shutil.copy2(DESKTOP_FILE, applications / DESKTOP_FILE.name)
    write_icons(root, icon_png)
    stage_apparmor(root)
    kib = sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink()) // 1024
    (root / "DEBIAN" / "control").write_text(deb_control(version, deb_arch(), kib), encoding="utf-8")


def stage_apparmor(root: Path) -> None:
    """The profile travels inside the bundle; postinst copies it to /etc/apparmor.d only on AppArmor 4 systems."""
    profile = root / INSTALL_PREFIX / "apparmor" / metadata.GUI_NAME
    profile.parent.mkdir(parents=True)
    shutil.copy2(LINUX_DIR / "apparmor-profile", profile)
    (root / "DEBIAN").mkdir()
    for script in MAINTAINER_SCRIPTS:
        shutil.copy2(LINUX_DIR / script, root / "DEBIAN" / script)
        (root / "DEBIAN" / script).chmod(0o755)


def build_deb(bundle: Path, out_dir: Path, version: str, compression: str = "xz") -> Path:
    """``dpkg-deb --root-owner-group`` gives root-owned files without fakeroot."""
    root = metadata.BUILD_DIR / "deb-root"
    stage_deb_tree(bundle, root, version)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{metadata.GUI_NAME}_{version}_{deb_arch()}.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", f"-Z{compression}", "--build", str(root), str(target)],
                   check=True)
    shutil.rmtree(root)  # a second full copy of the bundle: do not leave it around
    return target


# ------------------------------------------------------------------------------------------------------ AppImage


def find_appimagetool() -> str | None:
    """$APPIMAGETOOL, else appimagetool on PATH. It is not on PyPI or in Debian: CI downloads it."""
    return os.environ.get("APPIMAGETOOL") or shutil.which("appimagetool")


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
    appdir = metadata.BUILD_DIR / "AppDir"
    stage_appdir(bundle, appdir)
    out_dir.mkdir(parents=True, exist_ok=True)
    arch = os.uname().machine
    target = out_dir / f"GLM-OCR_Studio-{version}-{arch}.AppImage"
    env = dict(os.environ, ARCH=arch, APPIMAGE_EXTRACT_AND_RUN="1")  # no FUSE on CI runners
    subprocess.run([tool, "--no-appstream", str(appdir), str(target)], check=True, env=env)
    shutil.rmtree(appdir)
    return target


def build(bundle: Path, out_dir: Path, version: str, deb_compression: str = "xz") -> list[Path]:
    built = [build_deb(bundle, out_dir, version, deb_compression)]
    tool = find_appimagetool()
    if tool:
        built.append(build_appimage(bundle, out_dir, version, tool))
    else:
        print("AppImage skipped: appimagetool not found (set APPIMAGETOOL or put it on PATH; CI downloads it)")
    return built
