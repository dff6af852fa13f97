"""Frozen entry point of the ``glmocr`` command line that ships in the same bundle as the GUI."""

import sys

from glmocr_core.cli import main

if __name__ == "__main__":
    sys.exit(main())
