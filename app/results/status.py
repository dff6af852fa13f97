"""What a card says about its region's state, honestly: why a region stopped (the user's Stop or the engine going
away), why a finished result may be incomplete (the repeat guard or the token budget), and when an Extract region
needs a template before it can run. Pure Python (no Qt), on the region's own fields."""

from __future__ import annotations

from dataclasses import dataclass

from glmocr_core.api import STOP_CANCELLED, STOP_MAX_TOKENS, STOP_REPETITION

from app.document.model import CANCELLED, DONE, FAILED, RUNNING, STOPPED_BY_ENGINE, STOPPED_BY_USER, Region
from app.task_style import region_state_label

ENGINE_GONE = "the model was unloaded or its process ended"
NEEDS_TEMPLATE = "Needs a template"


@dataclass(frozen=True)
class CardStatus:
    label: str  # the short state in the card header
    message: str = ""  # the sentence under the header ("" for none)
    warning: bool = False  # the result is missing or may be incomplete
    offer_larger_budget: bool = False  # the token budget cut it: a re-run with more tokens may finish it


def needs_template(region: Region) -> bool:
    """An Extract region with no template cannot run: its card asks for one instead of failing (a result it has
    anyway, from an older session, is shown as it is)."""
    return (region.task == "extract" and not (region.schema or "").strip() and region.state != RUNNING
            and not region.display_text.strip())


def stop_reason(region: Region) -> str:
    return (region.result or {}).get("stop_reason") or ""


def _stopped_message(region: Region) -> str:
    if region.stop_cause == STOPPED_BY_USER:
        return "Stopped. The text below is what was recognized before you stopped it."
    if region.stop_cause == STOPPED_BY_ENGINE:
        return (f"Interrupted: the engine stopped ({region.error or ENGINE_GONE}). The text below is what was "
                "recognized before that; run the region again for the rest.")
    return "Stopped early. The text below is what was recognized before it stopped."


def _finished_message(region: Region) -> tuple[str, bool]:
    """(message, offer a larger budget) for a region that finished by itself."""
    reason = stop_reason(region)
    if reason == STOP_REPETITION:
        return ("The model began repeating itself, so the result was cut where the repetition began. "
                "The end of the region may be missing."), False
    if reason == STOP_MAX_TOKENS:
        tokens = (region.result or {}).get("new_tokens")
        budget = f" ({tokens} tokens)" if tokens else ""
        return f"The result reached the token budget{budget} and may be incomplete.", True
    return "", False


def card_status(region: Region) -> CardStatus:
    if needs_template(region):
        return CardStatus(NEEDS_TEMPLATE)
    label = region_state_label(region)
    if region.state == FAILED:
        return CardStatus(label, f"⚠ {region.error or 'The region could not be recognized.'}", warning=True)
    if region.state == CANCELLED or (region.state == DONE and stop_reason(region) == STOP_CANCELLED):
        return CardStatus(label, _stopped_message(region), warning=True)
    if region.state == DONE:
        message, larger = _finished_message(region)
        return CardStatus(label, f"⚠ {message}" if message else "", warning=bool(message), offer_larger_budget=larger)
    return CardStatus(label)
