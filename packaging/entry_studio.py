"""Frozen entry point of the GUI executable (``glmocr-studio``), with a self-test for installer smoke checks.

``glmocr-studio --self-test`` (or ``GLMOCR_STUDIO_SELF_TEST=1``) starts the real app, waits until its main window
is visible, checks that the bundle carries what the app loads at run time (KaTeX, the core's data files, torch),
prints one ``self-test: ...`` line per check and exits 0, or 1 with the reason. CI runs it with
``QT_QPA_PLATFORM=offscreen`` right after building each installer, so a bundle that lacks a Qt plugin, a data file
or a shared library fails the build instead of the user's first start.

The self-test lives here rather than in ``app/`` because only the frozen bundle needs it; it drives
``app.main.main`` unchanged, which reuses a QApplication that already exists.
"""

from __future__ import annotations

import os
import sys

SELF_TEST_FLAG = "--self-test"
SELF_TEST_ENV = "GLMOCR_STUDIO_SELF_TEST"
SELF_TEST_TIMEOUT_ENV = "GLMOCR_STUDIO_SELF_TEST_TIMEOUT_S"
# A windowed executable on Windows has no stdout: the self-test also appends its lines to this file when set.
SELF_TEST_REPORT_ENV = "GLMOCR_STUDIO_SELF_TEST_REPORT"
POLL_MS = 250


def self_test_requested(argv: list[str]) -> bool:
    return SELF_TEST_FLAG in argv or os.environ.get(SELF_TEST_ENV, "") not in ("", "0")


def bundle_checks() -> list[tuple[str, bool, str]]:
    """(name, passed, detail) for each run-time file or module the app needs from the bundle."""
    from importlib import resources

    from app.resources_setup import katex_available, web_dir

    checks = [("web assets", (web_dir() / "results.html").is_file(), str(web_dir())),
              ("KaTeX", katex_available(), str(web_dir() / "katex"))]
    data = resources.files("glmocr_core").joinpath("data")
    for name in ("config.json", "special_tokens.json", "chat_template.jinja"):
        checks.append((f"glmocr_core/data/{name}", data.joinpath(name).is_file(), str(data)))
    checks.append(torch_check())
    checks.append(engine_import_check())
    return checks


def engine_import_check() -> tuple[str, bool, str]:
    """The engine and the PDF reader load lazily in the app: import them now so a missing module fails here."""
    try:
        import glmocr_core.documents  # noqa: F401  (pymupdf)
        import glmocr_core.engine  # noqa: F401  (torch, safetensors, tokenizers, jinja2)

        return "engine modules", True, "glmocr_core.engine, glmocr_core.documents"
    except Exception as exc:
        return "engine modules", False, f"{type(exc).__name__}: {exc}"


def torch_check() -> tuple[str, bool, str]:
    """The GUI never imports torch itself (the engine does, on model load): prove the bundle's copy works now."""
    try:
        import torch

        product = torch.ones(2, 3) @ torch.ones(3, 2)
        return "torch", bool(product.sum().item() == 12.0), torch.__version__
    except Exception as exc:  # a missing shared library shows up as ImportError or OSError
        return "torch", False, f"{type(exc).__name__}: {exc}"


def say(line: str) -> None:
    if sys.stdout is not None:
        print(f"self-test: {line}", flush=True)
    report = os.environ.get(SELF_TEST_REPORT_ENV)
    if report:
        with open(report, "a", encoding="utf-8") as handle:
            handle.write(f"self-test: {line}\n")


def install_self_test(application, timeout_s: float) -> None:
    """Poll until the main window is visible, then quit with the result of the bundle checks."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QMainWindow

    state = {"waited_ms": 0, "code": None}

    def tick() -> None:
        state["waited_ms"] += POLL_MS
        if state["code"] is None:
            state["code"] = _decide(application, QMainWindow, state["waited_ms"] / 1000, timeout_s)
        if state["code"] is not None:
            _close_modal_dialogs(application)
            application.exit(state["code"])  # repeated each tick: a nested dialog loop may swallow the first one

    timer = QTimer(application)
    timer.timeout.connect(tick)
    timer.start(POLL_MS)


def _decide(application, main_window_class, waited_s: float, timeout_s: float) -> int | None:
    windows = [w for w in application.topLevelWidgets() if isinstance(w, main_window_class) and w.isVisible()]
    if windows:
        say(f"main window shown: {windows[0].windowTitle()!r}")
        return _report(bundle_checks())
    if waited_s >= timeout_s:
        say(f"FAILED: no main window after {timeout_s:.0f} s")
        return 1
    return None


def _report(checks: list[tuple[str, bool, str]]) -> int:
    for name, passed, detail in checks:
        say(f"{name}: {'ok' if passed else 'MISSING'} ({detail})")
    failed = [name for name, passed, _ in checks if not passed]
    say("passed" if not failed else f"FAILED: {', '.join(failed)}")
    return 1 if failed else 0


def _close_modal_dialogs(application) -> None:
    modal = application.activeModalWidget()
    if modal is not None:
        modal.close()


def run_self_test(argv: list[str]) -> int:
    import PySide6.QtWebEngineWidgets  # noqa: F401  (must come before the QApplication, as in app.main)
    from PySide6.QtWidgets import QApplication

    from app.main import main as app_main

    application = QApplication.instance() or QApplication([sys.argv[0]])
    install_self_test(application, float(os.environ.get(SELF_TEST_TIMEOUT_ENV, "120")))
    return app_main([a for a in argv if a != SELF_TEST_FLAG])


def main() -> int:
    argv = sys.argv[1:]
    if self_test_requested(argv):
        return run_self_test(argv)
    from app.main import main as app_main

    return app_main(argv)


if __name__ == "__main__":
    sys.exit(main())
