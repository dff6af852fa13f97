"""Work-arounds for bugs in the Qt binding that would otherwise crash the app.

PySide6 6.12 on CPython < 3.12 drops references it never took to two singletons:

* every ``SignalInstance.emit()`` called from Python returns ``True`` without a reference to it;
* every call of a Qt method that returns nothing (``setText``, ``update``, ``move``, ``setPixel`` …) returns ``None``
  the same way.

Each call drops one reference. The app starts with about 15,000 references to ``None`` and far fewer to ``True``,
so after that many calls (a long session streams many text deltas and paints many widgets) CPython's count reaches
zero and the interpreter aborts with "deallocating True" or "deallocating None". Python 3.12+ makes both immortal,
so only older versions need help. We measure each leak at start-up and, only where it is there, give the singleton
a reference count so large that no session could drain it. The guard is idempotent.
"""

from __future__ import annotations

import ctypes
import sys

from PySide6.QtCore import QObject, QRect, Signal

PROBE_CALLS = 200
REFCOUNT_RESERVE = 1 << 40  # ~10^12 calls before it could matter


class _Probe(QObject):
    ping = Signal()


def emit_leaks_true() -> bool:
    """True when emitting a signal from Python drops a reference to ``True``."""
    probe = _Probe()
    return _drops_references(True, probe.ping.emit)


def void_call_leaks_none() -> bool:
    """True when calling a Qt method that returns nothing drops a reference to ``None``."""
    rect = QRect()
    return _drops_references(None, lambda: rect.setX(1))


def _drops_references(singleton, call) -> bool:
    before = sys.getrefcount(singleton)
    for _ in range(PROBE_CALLS):
        call()
    return before - sys.getrefcount(singleton) >= PROBE_CALLS // 2


def install_refcount_guards() -> dict[str, bool]:
    """Protect ``True`` and ``None`` against the binding's leaks. Returns which guards were needed."""
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return {"True": False, "None": False}
    needed = {"True": emit_leaks_true(), "None": void_call_leaks_none()}
    for singleton, leaks in ((True, needed["True"]), (None, needed["None"])):
        if leaks:
            _reserve_references(singleton)
    return needed


def _reserve_references(singleton) -> None:
    refcount = ctypes.c_ssize_t.from_address(id(singleton))  # ob_refcnt is the first field of every object
    if refcount.value < REFCOUNT_RESERVE // 2:  # already guarded: leave it
        refcount.value += REFCOUNT_RESERVE

