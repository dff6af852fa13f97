import sys

from PySide6.QtCore import QObject, Signal

from app.qt_compat import install_bool_refcount_guard


class Emitter(QObject):
    changed = Signal(str)


def test_many_emits_do_not_drain_true():
    install_bool_refcount_guard()
    emitter = Emitter()
    before = sys.getrefcount(True)
    for _ in range(5000):
        emitter.changed.emit("x")
    # With the guard (or a fixed binding) True keeps a healthy count however many signals are sent.
    assert sys.getrefcount(True) > 5000 or sys.version_info >= (3, 12)
    assert before > 5000 or sys.version_info >= (3, 12)


def test_guard_is_idempotent():
    install_bool_refcount_guard()
    first = sys.getrefcount(True)
    install_bool_refcount_guard()
    assert abs(sys.getrefcount(True) - first) < 1000
