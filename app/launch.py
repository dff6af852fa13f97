"""The ``glmocr-studio`` command. A subcommand (``ocr``, ``info``, ``--help``, ``--version``) runs the core's command
line without loading Qt, so scripts start fast and work without a display; anything else (nothing, or file paths)
opens the desktop window with those files (after ``app.webengine_env`` has prepared the environment QtWebEngine
reads, so a root user's window does not die with its first result view)."""

from __future__ import annotations

import sys

CLI_FLAGS = ("-h", "--help", "--version")


def _forwarded(args: list[str]) -> bool:
    from app.capture.single_instance import forward_to_running

    return forward_to_running(args)


def wants_command_line(args: list[str]) -> bool:
    from glmocr_core.cli import COMMANDS

    return bool(args) and (args[0] in COMMANDS or args[0] in CLI_FLAGS)


def main(argv: list[str] | None = None) -> int:
    from glmocr_core.documents.render_process import RENDER_WORKER_FLAG

    args = sys.argv[1:] if argv is None else list(argv)
    if args[:1] == [RENDER_WORKER_FLAG]:  # a frozen app's PDF render child (glmocr_core.documents.render_process)
        from glmocr_core.documents.render_process import main as render_worker

        render_worker()
        return 0
    if args[:1] == ["--capture"] and _forwarded(args):
        return 0  # the shortcut path: a running studio captures; nothing else is imported
    if wants_command_line(args):
        from glmocr_core.cli import main as command_line

        return command_line(args)
    from app.webengine_env import prepare_webengine

    prepare_webengine()  # before Qt starts: Chromium reads it when the first result view opens
    from app.main import main as window

    return window(args)


if __name__ == "__main__":
    sys.exit(main())
