"""How tasks and region states look in the GUI: labels, shortcuts and colours. Data, and the one rule that picks a
region's state label.

Task labels are the core's (``TaskSpec.label``), so the settings dialog, the toolbar and the cards name a task alike.
"""

from glmocr_core.api import STOP_CANCELLED, STOP_MAX_TOKENS, STOP_REPETITION, TASKS
from glmocr_core.tasks.specs import TASK_SPECS

from app.document.model import (CANCELLED, DONE, FAILED, QUEUED, RUNNING, STATES, STOPPED_BY_ENGINE, STOPPED_BY_USER,
                                Region)

TASK_LABELS = {task: TASK_SPECS[task].label for task in TASKS}
TASK_SHORTCUTS = {task: str(index + 1) for index, task in enumerate(TASKS)}  # keys 1-4
# Distinguishable for common colour-vision deficiencies (Okabe-Ito palette).
TASK_COLORS = {"text": "#0072B2", "formula": "#CC79A7", "table": "#009E73", "extract": "#E69F00"}
assert tuple(TASK_COLORS) == TASKS

STATE_LABELS = {QUEUED: "Queued", RUNNING: "Running…", DONE: "Done", CANCELLED: "Cancelled", FAILED: "Failed"}
STATE_SYMBOLS = {QUEUED: "◷", RUNNING: "▶", DONE: "✓", CANCELLED: "■", FAILED: "✕"}
assert tuple(STATE_LABELS) == STATES == tuple(STATE_SYMBOLS)

# A finished region's label says how it ended: the user's Stop is not the engine going away, and a result cut by the
# repeat guard or the token budget is not simply "Done".
STOP_CAUSE_LABELS = {STOPPED_BY_USER: "Stopped", STOPPED_BY_ENGINE: "Interrupted", "": "Stopped"}
STOP_REASON_LABELS = {STOP_REPETITION: "Cut: repeating", STOP_MAX_TOKENS: "Cut: token limit"}


PICTURE_LABEL = "Picture (kept as a crop)"  # a layout picture: never read
LEFT_OUT_LABEL = "Left out"  # left out of the document (an abandoned header, footer ...): never run


def region_state_label(region: Region) -> str:
    """The honest short state of a region, as its card (and any list of regions) shows it."""
    stop_reason = (region.result or {}).get("stop_reason") or ""
    if region.is_picture:
        return PICTURE_LABEL
    if region.excluded and not region.is_finished:
        return LEFT_OUT_LABEL
    if region.state == CANCELLED or (region.state == DONE and stop_reason == STOP_CANCELLED):
        return STOP_CAUSE_LABELS.get(region.stop_cause, STOP_CAUSE_LABELS[""])
    if region.state == DONE:
        return STOP_REASON_LABELS.get(stop_reason, STATE_LABELS[DONE])
    return STATE_LABELS.get(region.state, region.state)
