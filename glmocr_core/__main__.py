"""``python -m glmocr_core ocr|info ...``: the command line without the desktop app."""

import sys

from .cli import main

sys.exit(main())
