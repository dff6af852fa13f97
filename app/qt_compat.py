"""Work-arounds for bugs in the Qt binding that would otherwise crash the app.

PySide6 6.12 on CPython < 3.12: every ``SignalInstance.emit()`` called from Python returns ``True`` without
taking a reference to it, so each emit drops one reference that was never taken. After a few thousand emits
(a long OCR session streams many text deltas) CPython's count for ``True`` reaches zero and the interpreter aborts
with "bool_dealloc: deallocating True or False". Python 3.12+ makes True immortal, so only older versions need
help. We measure the leak at start-up and, only if it is there, give ``True`` a reference count so large that no
session could drain it. The guard is idempotent.
"""

from __future__ import annotations

import ctypes
import sys

from PySide6.QtCore import QObject, Signal

PROBE_EMITS = 200
REFCOUNT_RESERVE = 1 << 40  # ~10^12 emits before it could matter


class _Probe(QObject):
    ping = Signal()


def emit_leaks_true() -> bool:
    """True when emitting a signal from Python drops a reference to ``True``."""
    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(PROBE_EMITS):
        probe.ping.emit()
    return before - sys.getrefcount(True) >= PROBE_EMITS // 2


def install_bool_refcount_guard() -> bool:
    """Protect ``True`` against the emit leak. Returns whether a guard was needed."""
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython" or not emit_leaks_true():
        return False
    refcount = ctypes.c_ssize_t.from_address(id(True))  # ob_refcnt is the first field of every object
    if refcount.value < REFCOUNT_RESERVE // 2:  # already guarded: leave it
        refcount.value += REFCOUNT_RESERVE
    return True
