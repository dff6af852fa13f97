"""The ``glmocr-studio`` command. A subcommand (``ocr``, ``info``, ``--help``, ``--version``) runs the core's command
line without loading Qt, so scripts start fast and work without a display; anything else (nothing, or file paths)
opens the desktop window with those files (after ``app.webengine_env`` has prepared the environment QtWebEngine
reads, so a root user's window does not die with its first result view)."""

from __future__ import annotations

import sys

CLI_FLAGS = ("-h", "--help", "--version")


def wants_command_line(args: list[str]) -> bool:
    from glmocr_core.cli import COMMANDS

    return bool(args) and (args[0] in COMMANDS or args[0] in CLI_FLAGS)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if wants_command_line(args):
        from glmocr_core.cli import main as command_line

        return command_line(args)
    from app.webengine_env import prepare_webengine

    prepare_webengine()  # before Qt starts: Chromium reads it when the first result view opens
    from app.main import main as window

    return window(args)


if __name__ == "__main__":
    sys.exit(main())
