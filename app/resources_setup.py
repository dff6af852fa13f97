"""Find the app's resources (web assets, built-in Extract templates, the icon) and put KaTeX in place, offline-first.

KaTeX comes from the npm registry at the version pinned by ``package.json`` + ``package-lock.json`` (``npm ci`` checks
the lockfile's integrity hashes) and is copied into ``resources/web/katex/``, which git ignores.
``python -m app.resources_setup [--quiet]`` is idempotent: when the files are already there it returns at once.
Without npm it prints a warning and exits 0; the app then shows formulas as LaTeX source with a notice.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
RESOURCES_ENV = "GLMOCR_RESOURCES_DIR"  # override for packaged builds and tests
KATEX_MARKER = "katex.min.js"
# What the app loads from dist/: the script, its stylesheet, auto-render and the mhchem extension, and the woff2
# fonts (Chromium prefers woff2, so the woff/ttf fallbacks named in the stylesheet are never fetched).
KATEX_FILES = ("katex.min.js", "katex.min.css", "contrib/auto-render.min.js", "contrib/mhchem.min.js")
KATEX_FONT_SUFFIX = ".woff2"


def _resource_roots() -> list[Path]:
    """Places a ``resources`` folder can be, most specific first."""
    roots = []
    override = os.environ.get(RESOURCES_ENV)
    if override:
        roots.append(Path(override))
    bundle = getattr(sys, "_MEIPASS", None)  # PyInstaller unpacks data files here
    if bundle:
        roots.append(Path(bundle) / "resources")
    roots.append(Path(sys.executable).resolve().parent / "resources")  # frozen apps next to the executable
    roots.append(REPO_ROOT / "resources")
    return roots


def resources_dir() -> Path:
    """The first resources folder that has web assets; the source tree's one when none does."""
    for root in _resource_roots():
        if (root / "web").is_dir():
            return root
    return REPO_ROOT / "resources"


def web_dir() -> Path:
    return resources_dir() / "web"


def katex_dir() -> Path:
    return web_dir() / "katex"


def builtin_templates_dir() -> Path:
    """The Extract templates that ship with the app (read-only)."""
    return resources_dir() / "templates"


def katex_available() -> bool:
    return (katex_dir() / KATEX_MARKER).is_file() and (katex_dir() / "katex.min.css").is_file()


def _copy_dist(dist: Path, target: Path) -> None:
    """Copy only what the app loads, into a fresh folder that replaces ``target`` in one step."""
    staging = target.with_name(target.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    for name in KATEX_FILES:
        (staging / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(dist / name, staging / name)
    (staging / "fonts").mkdir(exist_ok=True)
    for font in sorted((dist / "fonts").glob("*" + KATEX_FONT_SUFFIX)):
        shutil.copy2(font, staging / "fonts" / font.name)
    licence = dist.parent / "LICENSE"
    if licence.is_file():
        shutil.copy2(licence, staging / "LICENSE")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)


def _npm_install(root: Path, say) -> bool:
    """``npm ci`` against the lockfile; False (with a warning) when npm is missing or fails."""
    npm = shutil.which("npm")
    if npm is None:
        say("warning: npm not found; formulas will show as LaTeX source. Install Node.js and rerun "
            "`python -m app.resources_setup`.", force=True)
        return False
    command = [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"]
    done = subprocess.run(command, cwd=root, capture_output=True, text=True)
    if done.returncode != 0:
        say(f"warning: `{' '.join(command[1:])}` failed:\n{done.stderr.strip()[-2000:]}", force=True)
        return False
    return True


def ensure_katex(quiet: bool = False, root: Path = REPO_ROOT) -> bool:
    """Make sure KaTeX is in ``root/resources/web/katex``; True when it is there afterwards."""

    def say(message: str, force: bool = False) -> None:
        if force or not quiet:
            print(message, file=sys.stderr if force else sys.stdout)

    target = root / "resources" / "web" / "katex"
    if (target / KATEX_MARKER).is_file():
        return True
    dist = root / "node_modules" / "katex" / "dist"
    if not (dist / KATEX_MARKER).is_file() and not _npm_install(root, say):
        return False
    _copy_dist(dist, target)
    say(f"KaTeX copied to {target}")
    return True


ICON_NAME = "glmocr-studio.png"


def icon_path() -> Path:
    return resources_dir() / "icons" / ICON_NAME


def ensure_icon(root: Path = REPO_ROOT) -> bool:
    """Draw the app icon into ``root/resources/icons`` from the packaging script (source checkouts only; installers
    ship the drawn icon)."""
    target = root / "resources" / "icons" / ICON_NAME
    if target.is_file():
        return True
    drawer = root / "packaging" / "make_icon.py"
    if not drawer.is_file():
        return False
    import runpy

    runpy.run_path(str(drawer))["render"](256).save(_parent_made(target))
    return True


def _parent_made(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Put the app's web assets (KaTeX) and icon in place.")
    parser.add_argument("--quiet", action="store_true", help="print only warnings")
    args = parser.parse_args(argv)
    ensure_katex(quiet=args.quiet)
    ensure_icon()
    return 0


if __name__ == "__main__":
    sys.exit(main())
