"""Repetition guard: notice when the model is looping and say where to cut.

GLM-OCR's most reported failure is repeating a line (or a phrase, or one token) until the token limit. The guard
watches the generated ids and reports a loop once the end of the output is one unit of p tokens repeated over a
long enough stretch. It keeps, for every period p, the number of trailing positions where a token equals the one p
positions before it; a new token only touches the periods at which the same token occurred within the last
``max_period`` positions, so the cost per token is the number of recent occurrences of that token, not the output
length.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class RepetitionConfig:
    """When a periodic tail counts as a loop: its length must reach max(min_repeats * period, min_span).

    - max_period 256: a looping line or short paragraph fits; longer units are rare and cost more to track.
    - min_repeats 4: four copies of a 100+ token passage in a row does not happen in real documents.
    - min_span 320: short units need many more copies. Real pages repeat small things legitimately: a row of
      empty table cells ("<td></td>" is 2-3 tokens, so 100 of them are ~300 tokens), dot leaders in a table of
      contents, "-----" rules. A true loop runs to the token limit (thousands), so waiting for 320 tokens costs
      little time and protects real content.
    """

    max_period: int = 256
    min_repeats: int = 4
    min_span: int = 320

    def required_span(self, period: int) -> int:
        return max(self.min_repeats * period, self.min_span)


class RepetitionGuard:
    """Feed generated ids one at a time; ``push`` returns True once the output is looping.

    ``boundaries`` (optional) are sets of ids that end a unit of text, best first: e.g. tokens ending a line,
    then tokens ending an HTML tag (``GlmTokenizer.cut_boundaries()``). A loop's first copy can be found in any
    rotation ("></tr><tr><td>..." instead of "<tr><td>...</tr>"); the trim point then extends the kept copy to
    the nearest such token instead of cutting a line or a tag in the middle.
    """

    def __init__(self, config: RepetitionConfig | None = None, boundaries: Sequence[Collection[int]] = ()):
        self.config = config or RepetitionConfig()
        self._boundaries = [frozenset(ids) for ids in boundaries]
        self._tokens: list[int] = []
        self._recent: dict[int, deque[int]] = {}  # token id -> its positions within the last max_period
        self._runs: dict[int, int] = {}  # period -> trailing positions matching the token one period back
        self.loop: tuple[int, int] | None = None  # (start of the periodic tail, period) once detected

    @property
    def detected(self) -> bool:
        return self.loop is not None

    def push(self, token_id: int) -> bool:
        if self.loop is not None:
            return True
        position = len(self._tokens)
        self._tokens.append(token_id)
        periods = self._matching_periods(token_id, position)
        self._runs = {p: self._runs.get(p, 0) + 1 for p in periods}
        self._remember(token_id, position)
        self.loop = self._find_loop(position + 1)
        return self.loop is not None

    def _matching_periods(self, token_id: int, position: int) -> list[int]:
        """Periods p with tokens[position - p] == token_id, p <= max_period."""
        seen = self._recent.get(token_id)
        if not seen:
            return []
        oldest_allowed = position - self.config.max_period
        while seen and seen[0] < oldest_allowed:
            seen.popleft()
        return [position - earlier for earlier in seen]

    def _remember(self, token_id: int, position: int) -> None:
        self._recent.setdefault(token_id, deque()).append(position)
        if len(self._recent) > 4 * self.config.max_period:  # forget ids not seen within the window
            oldest_allowed = position - self.config.max_period
            self._recent = {t: q for t, q in self._recent.items() if q and q[-1] >= oldest_allowed}

    def _find_loop(self, length: int) -> tuple[int, int] | None:
        """The shortest period whose repeated tail is long enough, as (tail start, period)."""
        for period in sorted(self._runs):
            span = self._runs[period] + period  # the first copy plus every position that repeats it
            if span >= self.config.required_span(period):
                return length - span, period
        return None

    def trim_point(self) -> int:
        """How many tokens to keep: everything before the loop plus its first copy (all tokens if no loop)."""
        if self.loop is None:
            return len(self._tokens)
        start, period = self.loop
        keep = start + period
        # Cuts within one more period all keep exactly one copy, in different rotations.
        candidates = range(keep, min(keep + period, len(self._tokens) + 1))
        for boundary in self._boundaries:
            for cut in candidates:
                if self._tokens[cut - 1] in boundary:
                    return cut
        return keep
