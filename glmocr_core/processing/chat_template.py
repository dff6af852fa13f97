"""The checkpoint's chat template, compiled like transformers does and rendered with bounds.

The template comes from a model folder, so it is data from outside: it renders in jinja's immutable sandbox, and
on top of that every rendering has a budget. Loop items (``range``), big numbers handed to operators or calls, and
the length of the output are all bounded, so ``{{ 'a' * 4000000000 }}`` or nested loops fail at once with a
readable error instead of taking gigabytes or hanging. The official template needs a few dozen items and a few
hundred characters; the bounds are far above that.
"""

from __future__ import annotations

import json
import threading
from importlib import resources

from jinja2 import TemplateError
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

MAX_ITEMS = 10_000  # loop items and operator/call steps one rendering may take
MAX_NUMBER = 100_000  # the largest number a template may hand to *, ** or a call (string repeats, ranges, padding)
MAX_OUTPUT_CHARS = 200_000  # the longest prompt text a rendering may produce
MAX_EXPONENT = 64  # ** grows numbers far faster than * does


def bundled_chat_template() -> str:
    """The official chat template, shipped with the core for checkpoints whose folder lacks one."""
    return resources.files(__package__).joinpath("chat_template.jinja").read_text(encoding="utf-8")


class _BoundedEnvironment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "+"})

    def __init__(self):
        super().__init__(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
        self._budget = threading.local()  # one engine may render on several threads (the server)
        self.globals.update(range=self._range, raise_exception=_raise_exception)
        self.filters["tojson"] = _tojson

    def start(self) -> None:
        self._budget.left = MAX_ITEMS

    def spend(self, steps: int = 1) -> None:
        self._budget.left = getattr(self._budget, "left", MAX_ITEMS) - steps
        if self._budget.left < 0:
            raise SecurityError(f"the template took more than {MAX_ITEMS} steps")

    def call_binop(self, context, operator, left, right):
        self.spend()
        _check_numbers((left, right))
        if operator == "**" and isinstance(right, (int, float)) and abs(right) > MAX_EXPONENT:
            raise SecurityError(f"the template raises to the power {right}, above the limit of {MAX_EXPONENT}")
        return super().call_binop(context, operator, left, right)

    def call(self, context, obj, *args, **kwargs):
        self.spend()
        _check_numbers((*args, *kwargs.values()))
        return super().call(context, obj, *args, **kwargs)

    def _range(self, *args):
        _check_numbers(args)
        for item in range(*args):
            self.spend()
            yield item


def _check_numbers(values) -> None:
    for value in values:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) > MAX_NUMBER:
            raise SecurityError(f"the template uses the number {value}, above the limit of {MAX_NUMBER}")


def _tojson(value, ensure_ascii=False, indent=None):
    # transformers replaces jinja's tojson with one that accepts ensure_ascii; the template uses it for tools
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent)


def _raise_exception(message):
    raise TemplateError(message)


class ChatTemplate:
    """A compiled template; ``render`` raises jinja's TemplateError (SecurityError for a broken bound)."""

    def __init__(self, source: str):
        self._environment = _BoundedEnvironment()
        self._template = self._environment.from_string(source)

    def render(self, **variables) -> str:
        self._environment.start()
        try:
            return self._bounded_output(**variables)
        except (ArithmeticError, TypeError, ValueError, LookupError) as exc:  # a broken template, not our bug
            raise TemplateError(f"{exc.__class__.__name__}: {exc}") from exc

    def _bounded_output(self, **variables) -> str:
        pieces, length = [], 0
        for piece in self._template.generate(**variables):
            length += len(piece)
            if length > MAX_OUTPUT_CHARS:
                raise SecurityError(f"the template's output is longer than {MAX_OUTPUT_CHARS} characters")
            pieces.append(piece)
        return "".join(pieces)


def compile_chat_template(source: str) -> ChatTemplate:
    """Compile like transformers does: trim_blocks + lstrip_blocks, sandboxed, with loop controls."""
    return ChatTemplate(source)
