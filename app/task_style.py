"""How tasks and region states look in the GUI: labels, shortcuts and colours. Data only."""

from glmocr_core.api import TASKS

TASK_LABELS = {"text": "Text", "formula": "Formula", "table": "Table", "extract": "Extract"}
TASK_SHORTCUTS = {task: str(index + 1) for index, task in enumerate(TASKS)}  # keys 1-4
# Distinguishable for common colour-vision deficiencies (Okabe-Ito palette).
TASK_COLORS = {"text": "#0072B2", "formula": "#CC79A7", "table": "#009E73", "extract": "#E69F00"}

STATE_LABELS = {
    "queued": "Queued",
    "running": "Running…",
    "done": "Done",
    "cancelled": "Cancelled",
    "failed": "Failed",
}
STATE_SYMBOLS = {"queued": "◷", "running": "▶", "done": "✓", "cancelled": "■", "failed": "✕"}
