"""Frozen entry point of the ``glmocr-studio`` executable: the window, the command line and an installer self-test.

``glmocr-studio ocr|info ...`` (and ``-h``, ``--help``, ``--version``) runs the core's command line without loading
Qt, exactly as ``app/launch.py`` does for a pip install (its ``wants_command_line`` decides); anything else (nothing,
or file paths) opens the window. The same file is built twice on Windows only: windowed as ``glmocr-studio.exe`` and
as a console twin, ``glmocr-studio.com``, which is what a terminal runs (see ``metadata.WINDOWS_CONSOLE_NAME``).

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
import tempfile
from pathlib import Path

SELF_TEST_FLAG = "--self-test"
SELF_TEST_ENV = "GLMOCR_STUDIO_SELF_TEST"
# The core's data files: the chat template it falls back to, and what the smoke test's tiny checkpoint is built from.
CORE_DATA_FILES = (("glmocr_core.processing", "chat_template.jinja"), ("glmocr_core.testing", "special_tokens.json"),
                   ("glmocr_core.testing", "real_config.json"), ("glmocr_core.layout", "sdk_rules.json"),
                   ("glmocr_core.runtime", "accuracy_verdict.json"))
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
    for package, name in CORE_DATA_FILES:
        folder = resources.files(package)
        checks.append((f"{package.replace('.', '/')}/{name}", folder.joinpath(name).is_file(), str(folder)))
    checks.append(torch_check())
    checks.append(engine_import_check())
    return checks


def engine_import_check() -> tuple[str, bool, str]:
    """The engine and the PDF reader load lazily in the app: import them now so a missing module fails here."""
    try:
        import glmocr_core.documents.document  # noqa: F401  (pymupdf)
        import glmocr_core.engine  # noqa: F401  (torch, safetensors, tokenizers, jinja2)

        return "engine modules", True, "glmocr_core.engine, glmocr_core.documents.document"
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


# A page that loads the bundled KaTeX from a file URL, as the result views do; the probe renders a fraction.
PROBE_HTML = '<!doctype html><html><head><script src="{katex}"></script></head><body></body></html>'
PROBE_JS = "typeof katex === 'undefined' ? '' : katex.renderToString('\\\\frac{a}{b}')"


class SelfTest:
    """Driven by a timer: wait for the main window, then for KaTeX to render inside QtWebEngine, then quit."""

    def __init__(self, application, timeout_s: float):
        self.application, self.timeout_s = application, timeout_s
        self.waited_ms = 0
        self.code: int | None = None
        self.window_seen = False
        self.web_result: tuple[bool, str] | None = None
        self.web_view = None  # kept alive until the app exits
        self.scratch = tempfile.TemporaryDirectory(prefix="glmocr-self-test-")

    def tick(self) -> None:
        self.waited_ms += POLL_MS
        if self.code is None:
            self.code = self._step()
        if self.code is not None:
            _close_modal_dialogs(self.application)
            self.application.exit(self.code)  # repeated each tick: a nested dialog loop may swallow the first one

    def _step(self) -> int | None:
        if not self.window_seen:
            self.window_seen = self._main_window_shown()
            if self.window_seen:
                self.web_view = start_katex_probe(Path(self.scratch.name), self._on_web_result)
        elif self.web_result is not None:
            return _report(bundle_checks() + [("KaTeX in QtWebEngine", *self.web_result)])
        if self.waited_ms / 1000 >= self.timeout_s:
            say(f"FAILED: {'no KaTeX render' if self.window_seen else 'no main window'} after {self.timeout_s:.0f} s")
            return 1
        return None

    def _main_window_shown(self) -> bool:
        from PySide6.QtWidgets import QMainWindow

        windows = [w for w in self.application.topLevelWidgets() if isinstance(w, QMainWindow) and w.isVisible()]
        if windows:
            say(f"main window shown: {windows[0].windowTitle()!r}")
        return bool(windows)

    def _on_web_result(self, passed: bool, detail: str) -> None:
        self.web_result = (passed, detail)


def start_katex_probe(folder: Path, on_result):
    """Load a page with the bundle's KaTeX in a QWebEngineView and report whether a formula renders."""
    from PySide6.QtCore import QUrl
    from PySide6.QtWebEngineWidgets import QWebEngineView

    from app.resources_setup import katex_dir

    page = folder / "probe.html"
    page.write_text(PROBE_HTML.format(katex=QUrl.fromLocalFile(str(katex_dir() / "katex.min.js")).toString()),
                    encoding="utf-8")
    view = QWebEngineView()
    view.resize(320, 160)

    def rendered(html) -> None:
        markup = html if isinstance(html, str) else ""
        on_result("katex" in markup and "mfrac" in markup, f"{len(markup)} characters of MathML/HTML")

    def loaded(ok: bool) -> None:
        if ok:
            view.page().runJavaScript(PROBE_JS, 0, rendered)
        else:
            on_result(False, f"{page} did not load")

    view.loadFinished.connect(loaded)
    view.load(QUrl.fromLocalFile(str(page)))
    view.show()
    return view


def install_self_test(application, timeout_s: float) -> SelfTest:
    from PySide6.QtCore import QTimer

    test = SelfTest(application, timeout_s)
    timer = QTimer(application)
    timer.timeout.connect(test.tick)
    timer.start(POLL_MS)
    return test


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
    from app.webengine_env import prepare_webengine

    prepare_webengine()  # before this QApplication: Chromium reads it once, so app.main's later call would be too late
    import PySide6.QtWebEngineWidgets  # noqa: F401  (must come before the QApplication, as in app.main)
    from PySide6.QtWidgets import QApplication

    from app.main import StudioApplication
    from app.main import main as app_main

    application = QApplication.instance() or StudioApplication([sys.argv[0]])  # the app's own class, as app.main
    test = install_self_test(application, float(os.environ.get(SELF_TEST_TIMEOUT_ENV, "120")))
    code = app_main([a for a in argv if a != SELF_TEST_FLAG])
    test.scratch.cleanup()
    return code


def ensure_output_streams() -> None:
    """A windowed Windows executable starts with ``sys.stdout``/``sys.stderr`` set to None. For a command-line call
    (someone typed ``glmocr-studio.exe ocr ...``), write to the console of the terminal that started it when there is
    one, else discard the output; the exit code still tells the caller what happened."""
    missing = [name for name in ("stdout", "stderr") if getattr(sys, name) is None]
    if not missing:
        return
    stream = _parent_console() if sys.platform == "win32" else None
    if stream is None:
        stream = open(os.devnull, "w", encoding="utf-8")
    for name in missing:
        setattr(sys, name, stream)


def _parent_console():
    try:
        import ctypes

        if not ctypes.windll.kernel32.AttachConsole(-1):  # ATTACH_PARENT_PROCESS: fails when there is no terminal
            return None
        return open("CONOUT$", "w", encoding="utf-8", errors="replace")
    except (AttributeError, OSError):
        return None


def run_command_line(args: list[str]) -> int:
    """``glmocr-studio ocr|info|--help|--version``: the core's command line; Qt is never imported."""
    ensure_output_streams()
    from glmocr_core.cli import main as command_line

    return command_line(args)


def main(argv: list[str] | None = None) -> int:
    from app.launch import wants_command_line  # imports neither Qt nor torch
    from glmocr_core.documents import render_process

    args = sys.argv[1:] if argv is None else list(argv)
    if args[:1] == [render_process.RENDER_WORKER_FLAG]:  # this executable is also the PDF render child
        render_process.main()
        return 0
    if wants_command_line(args):  # before the self-test switch: a command-line call never opens a window
        return run_command_line(args)
    if self_test_requested(args):
        return run_self_test(args)
    from app.main import main as app_main

    return app_main(args)


if __name__ == "__main__":
    sys.exit(main())
