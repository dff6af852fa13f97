"""Honest card states (issue 13, point 7): the user's Stop is not the engine going away, a result cut by the repeat
guard or the token budget says so, a running region shows its tokens and time, the waiting text is not "Waiting for
the model…" when the model is there, and a copy is confirmed."""

import pytest
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QLabel

from glmocr_core.api import STOP_EOS, STOP_MAX_TOKENS, STOP_REPETITION

from app.document.model import CANCELLED, DONE, QUEUED, RUNNING, STOPPED_BY_ENGINE, STOPPED_BY_USER, Region
from app.results import copy_menu
from app.results.cards import ResultCard, ResultsPanel


def region(state=DONE, text="some text", stop_reason=STOP_EOS, **extra):
    result = {"task": "text", "text": text, "parsed": None, "parse_error": None, "stop_reason": stop_reason,
              "new_tokens": 512} if state in (DONE, CANCELLED) else None
    return Region(page=0, box=(0, 0, 10, 10), task="text", state=state, text=text, result=result, **extra)


def plain_view(reg):
    return QLabel(reg.text)


def card_for(qtbot, reg) -> ResultCard:
    card = ResultCard(reg, view_factory=plain_view)
    qtbot.addWidget(card)
    card.resize(420, 200)
    card.show()
    return card


def shown_message(card) -> str:
    return card.message.text() if card.message.isVisibleTo(card) else ""


def test_the_users_stop_says_stopped(qtbot):
    card = card_for(qtbot, region(CANCELLED, stop_cause=STOPPED_BY_USER))
    assert card.state_label.full_text() == "Stopped"
    assert "you stopped it" in shown_message(card)


def test_an_engine_that_went_away_is_an_interruption_not_a_stop(qtbot):
    card = card_for(qtbot, region(CANCELLED, stop_cause=STOPPED_BY_ENGINE, error="the worker process crashed"))
    assert card.state_label.full_text() == "Interrupted"
    message = shown_message(card)
    assert message.startswith("Interrupted: the engine stopped (the worker process crashed)")
    assert "Stopped." not in message


def test_an_older_session_without_a_cause_does_not_claim_the_user_stopped(qtbot):
    card = card_for(qtbot, region(CANCELLED))
    assert "you stopped" not in shown_message(card) and shown_message(card)


def test_a_result_cut_by_the_repeat_guard_says_so(qtbot):
    card = card_for(qtbot, region(stop_reason=STOP_REPETITION))
    assert card.state_label.full_text() == "Cut: repeating"
    assert "repeating itself" in shown_message(card)
    assert not card.budget_button.isVisibleTo(card)


def test_a_result_cut_by_the_token_budget_offers_a_larger_one(qtbot):
    panel = ResultsPanel()
    qtbot.addWidget(panel)
    reg = region(stop_reason=STOP_MAX_TOKENS)
    panel.sync([reg])
    panel.resize(420, 400)
    panel.show()
    card = panel.card(reg.id)
    assert card.state_label.full_text() == "Cut: token limit"
    assert "token budget (512 tokens)" in shown_message(card)
    assert card.budget_button.isVisibleTo(card)
    with qtbot.waitSignal(panel.larger_budget_requested) as asked:
        QTest.mouseClick(card.budget_button, Qt.MouseButton.LeftButton)
    assert asked.args == [reg.id]


def test_a_plain_finish_is_just_done(qtbot):
    card = card_for(qtbot, region())
    assert card.state_label.full_text() == "Done" and shown_message(card) == ""


def running_card(qtbot) -> tuple[ResultsPanel, Region, ResultCard]:
    """A shown panel with one running region and its card."""
    panel = ResultsPanel()
    qtbot.addWidget(panel)
    reg = region(RUNNING, text="")
    panel.sync([reg])
    panel.show()
    return panel, reg, panel.card(reg.id)


def test_a_running_region_shows_tokens_and_a_ticking_clock(qtbot):
    panel, reg, card = running_card(qtbot)
    assert card.progress_label.isVisibleTo(card)
    panel.set_progress(reg.id, 57, 3.2)
    assert card.progress_label.text() == "57 tokens · 3.2 s"
    qtbot.waitUntil(lambda: card.progress_label.text() not in ("57 tokens · 3.2 s", ""), timeout=3_000)
    seconds = float(card.progress_label.text().split("·")[1].strip().removesuffix(" s"))
    assert card.progress_label.text().startswith("57 tokens · ") and seconds > 3.2
    panel.set_progress(reg.id, 1, 0.5)
    assert card.progress_label.text() == "1 token · 0.5 s"
    reg.state, reg.text = DONE, "done"
    reg.result = {"task": "text", "text": "done", "parsed": None, "parse_error": None, "stop_reason": STOP_EOS}
    panel.sync([reg])
    assert not card.progress_label.isVisibleTo(card) and not card._progress_tick.isActive()
    panel.set_progress("no-such-region", 3, 1.0)  # a late call for a deleted region is harmless


class _LayoutRequests(QObject):
    def __init__(self):
        super().__init__()
        self.count = 0

    def eventFilter(self, watched, event):  # noqa: N802 (Qt name)
        self.count += event.type() == QEvent.Type.LayoutRequest
        return False


def test_the_ticking_clock_repaints_without_re_laying_out_the_card(qtbot):
    """A QLabel clock asked the card for new geometry at every tick (the whole card re-flowed ten times a second
    while the model ran); the clock only repaints now."""
    panel, reg, card = running_card(qtbot)
    panel.set_progress(reg.id, 5, 1.0)
    qtbot.wait(50)
    requests = _LayoutRequests()
    card.installEventFilter(requests)
    qtbot.waitUntil(lambda: card.progress_label.text() != "5 tokens · 1.0 s", timeout=3_000)
    qtbot.wait(600)  # two more ticks
    assert requests.count == 0 and card.progress_label.accessibleDescription() == card.progress_label.text()


def test_waiting_texts_say_what_is_happening(qtbot):
    reg = region(QUEUED, text="")
    card = card_for(qtbot, reg)
    assert card.stream_view.placeholderText() == "Queued…"
    card.set_waiting_text("Loading the model…")  # the controller knows the model is still loading
    card.refresh(number=1)  # a re-sync in the same state keeps the controller's text
    assert card.stream_view.placeholderText() == "Loading the model…"
    reg.state = RUNNING
    card.refresh()
    assert card.stream_view.placeholderText() == "Reading the region…"
    assert "Waiting for the model" not in card.stream_view.placeholderText()


@pytest.fixture
def quick_feedback(monkeypatch):
    monkeypatch.setattr(copy_menu, "COPIED_FEEDBACK_MS", 200)


def test_a_click_on_copy_is_confirmed_on_the_button_and_the_label_comes_back(qtbot, quick_feedback):
    card = card_for(qtbot, region(text="hello world"))
    button = card.copy_button
    with qtbot.waitSignal(button.copied) as copied:
        QTest.mouseClick(button, Qt.MouseButton.LeftButton, pos=button.rect().topLeft() + button.rect().center() / 2)
    assert QGuiApplication.clipboard().text() == "hello world"
    assert button.text() == copy_menu.COPIED_TEXT and copied.args == ["Plain text"]
    qtbot.waitUntil(lambda: button.text() == copy_menu.COPY_TEXT, timeout=3_000)


def test_copy_as_from_the_menu_is_confirmed_too(qtbot, quick_feedback):
    card = card_for(qtbot, region(text="**bold**"))
    button = card.copy_button
    button.menu().aboutToShow.emit()
    markdown = next(a for a in button.menu().actions() if a.text() == "Markdown")
    markdown.trigger()
    assert QGuiApplication.clipboard().text() == "**bold**" and button.text() == copy_menu.COPIED_TEXT
    assert "Markdown" in button.toolTip()
    qtbot.waitUntil(lambda: button.text() == copy_menu.COPY_TEXT, timeout=3_000)
