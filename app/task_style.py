"""How tasks and region states look in the GUI: labels, shortcuts and colours. Data only.

Task labels are the core's (``TaskSpec.label``), so the settings dialog, the toolbar and the cards name a task alike.
"""

from glmocr_core.api import TASKS
from glmocr_core.tasks.specs import TASK_SPECS

from app.document.model import CANCELLED, DONE, FAILED, QUEUED, RUNNING, STATES

TASK_LABELS = {task: TASK_SPECS[task].label for task in TASKS}
TASK_SHORTCUTS = {task: str(index + 1) for index, task in enumerate(TASKS)}  # keys 1-4
# Distinguishable for common colour-vision deficiencies (Okabe-Ito palette).
TASK_COLORS = {"text": "#0072B2", "formula": "#CC79A7", "table": "#009E73", "extract": "#E69F00"}
assert tuple(TASK_COLORS) == TASKS

STATE_LABELS = {QUEUED: "Queued", RUNNING: "Running…", DONE: "Done", CANCELLED: "Cancelled", FAILED: "Failed"}
STATE_SYMBOLS = {QUEUED: "◷", RUNNING: "▶", DONE: "✓", CANCELLED: "■", FAILED: "✕"}
assert tuple(STATE_LABELS) == STATES == tuple(STATE_SYMBOLS)
