"""Build the GLM-OCR Studio installer for this OS, in one command.

    python packaging/build.py [--target auto|linux|windows|macos] [--variant auto|cpu|cuda]
                              [--skip-installer] [--skip-smoke] [--deb-compression xz|zstd|gzip]

Steps: KaTeX into resources/web/katex (``python -m app.resources_setup``), the icon (make_icon.py), the PyInstaller
folder (glmocr_studio.spec: the one ``glmocr-studio`` executable, plus its console twin ``glmocr-studio.com`` on
Windows, and the licence file), the bundle check (bundle_contents.py: nothing a user does not need, no library
copied from this machine's system, every plugin loadable, within the size target), a smoke test of the frozen
window and of ``glmocr-studio ocr`` (smoke.py), then the installer: Linux .deb (+ AppImage when appimagetool is
available), Windows Inno Setup .exe, macOS .dmg, each signed when signing.py finds a certificate in the environment.
Everything lands in packaging/dist/ (git-ignored); intermediate files in packaging/build/.
PyInstaller cannot cross-compile, so --target must match the OS it runs on.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from importlib import metadata as dist_metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bundle_contents  # noqa: E402
import metadata  # noqa: E402

TARGET_OF_PLATFORM = {"linux": "linux", "win32": "windows", "darwin": "macos"}
SPEC = metadata.PACKAGING_DIR / "glmocr_studio.spec"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", choices=("auto", "linux", "windows", "macos"), default="auto")
    parser.add_argument("--variant", choices=("auto", *metadata.TORCH_VARIANTS), default="cpu",
                        help="cpu (default): refuse a CUDA torch; cuda: the nvidia wheels ship too; auto: as installed")
    parser.add_argument("--skip-installer", action="store_true", help="stop after the PyInstaller folder")
    parser.add_argument("--skip-smoke", action="store_true", help="do not start the frozen app")
    parser.add_argument("--deb-compression", choices=("xz", "zstd", "gzip"), default=None,
                        help="xz (default): meets the size target; zstd: several times faster, ~25%% bigger")
    return parser.parse_args(argv)


def resolve_target(requested: str) -> str:
    here = TARGET_OF_PLATFORM.get(sys.platform)
    if here is None:
        raise SystemExit(f"unsupported build platform {sys.platform!r}")
    if requested not in ("auto", here):
        raise SystemExit(f"cannot build a {requested} installer on {here}: PyInstaller builds for the OS it runs on")
    return here


def torch_variant(torch_version: str, distributions: set[str]) -> str:
    """"cuda" for a torch built for CUDA (a ``+cu126`` local version, or the nvidia-* wheels PyPI's Linux torch
    pulls in), else "cpu" (the CPU index's ``+cpu``, PyPI's Windows and macOS wheels)."""
    local = torch_version.partition("+")[2]
    if re.match(r"(cu|rocm)\d", local) or any(name.startswith("nvidia-") for name in distributions):
        return "cuda"
    return "cpu"


def installed_torch_variant() -> str:
    names = {re.sub(r"[-_.]+", "-", d.metadata["Name"]).lower() for d in dist_metadata.distributions()}
    return torch_variant(dist_metadata.version("torch"), names)


def resolve_variant(requested: str, installed: str) -> str:
    if requested in ("auto", installed):
        return installed
    if requested == "cpu":
        raise SystemExit("this Python has a CUDA build of torch (several GB of nvidia libraries would ship): install"
                         f" the CPU one with  python -m pip install torch --index-url {metadata.CPU_TORCH_INDEX}"
                         "  or build the CUDA variant with --variant cuda")
    raise SystemExit("--variant cuda needs a CUDA build of torch (see packaging/README.md, 'The CUDA variant')")


def step(title: str, command: list[str], env: dict | None = None) -> None:
    print(f"\n=== {title}\n$ {' '.join(command)}", flush=True)
    subprocess.run(command, check=True, cwd=metadata.REPO_ROOT, env=env)


def prepare_resources() -> None:
    step("KaTeX", [sys.executable, "-m", "app.resources_setup"])
    katex = metadata.REPO_ROOT / "resources" / "web" / "katex" / "katex.min.js"
    if not katex.is_file():  # resources_setup only warns; an installer without KaTeX shows raw LaTeX
        raise SystemExit(f"{katex} is missing: install Node.js (npm) and rerun")
    step("icon", [sys.executable, str(metadata.PACKAGING_DIR / "make_icon.py")])


def freeze(variant: str) -> None:
    step("PyInstaller", [sys.executable, "-m", "PyInstaller", "--noconfirm",
                         "--distpath", str(metadata.DIST_DIR),
                         "--workpath", str(metadata.BUILD_DIR / "pyinstaller"), str(SPEC)],
         env=dict(os.environ, **{metadata.TORCH_VARIANT_ENV: variant}))


def bundle_dir(target: str) -> Path:
    if target == "macos":
        return metadata.DIST_DIR / f"{metadata.DISPLAY_NAME}.app"
    return metadata.DIST_DIR / metadata.GUI_NAME


def check_bundle(target: str, variant: str) -> None:
    """bundle_contents.problems on the folder just built; on Linux with the ELF needs and the size target."""
    folder = bundle_dir(target)
    options = {}
    if target == "linux":
        import linux_depends
        import linux_elf

        files = linux_elf.scan(folder)
        options = {"elf_needs": {f.path.relative_to(folder).as_posix(): f.needed for f in files},
                   "system_libraries": set(linux_depends.SYSTEM_PACKAGES)}
        if variant == "cpu":
            options["size_limit_mib"] = metadata.SIZE_TARGETS_MIB["bundle"]
    found = bundle_contents.problems(folder, **options)
    print(f"\nbundle: {folder} ({bundle_contents.size_mib(folder):.0f} MiB)", flush=True)
    for problem in found:
        print(f"bundle check: {problem}")
    if found:
        raise SystemExit(f"the bundle check found {len(found)} problems (bundle_contents.py)")


def build_installers(target: str, version: str, deb_compression: str | None) -> list[Path]:
    print(f"\n=== installer ({target})", flush=True)
    if target == "linux":
        import linux_installers

        return linux_installers.build(bundle_dir(target), metadata.DIST_DIR, version,
                                      deb_compression or linux_installers.DEB_COMPRESSION)
    if target == "windows":
        import windows_installer

        return windows_installer.build(bundle_dir(target), metadata.DIST_DIR, version)
    import macos_installer

    return macos_installer.build(metadata.DIST_DIR, metadata.DIST_DIR, version)


def check_installer_sizes(installers: list[Path], variant: str) -> None:
    """The .deb of a CPU build stays within metadata.SIZE_TARGETS_MIB (the CUDA variant has no target)."""
    limit = metadata.SIZE_TARGETS_MIB["deb"]
    for path in installers:
        size = path.stat().st_size / 2**20
        print(f"installer: {path} ({size:.0f} MiB)")
        if variant == "cpu" and path.suffix == ".deb" and size > limit:
            raise SystemExit(f"{path.name} is {size:.0f} MiB, over the {limit} MiB target")


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    target = resolve_target(args.target)
    variant = resolve_variant(args.variant, installed_torch_variant())
    version = metadata.project_version()
    started = time.monotonic()
    prepare_resources()
    freeze(variant)
    check_bundle(target, variant)
    if not args.skip_smoke:
        step("smoke test", [sys.executable, str(metadata.PACKAGING_DIR / "smoke.py")])
    if not args.skip_installer:
        check_installer_sizes(build_installers(target, version, args.deb_compression), variant)
    print(f"build time: {(time.monotonic() - started) / 60:.1f} min ({variant} torch)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
