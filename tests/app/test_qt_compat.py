import sys

from PySide6.QtCore import QObject, QRect, Signal

from app.qt_compat import REFCOUNT_RESERVE, install_refcount_guards, void_call_leaks_none


class Emitter(QObject):
    changed = Signal(str)


def test_many_emits_do_not_drain_true():
    install_refcount_guards()
    emitter = Emitter()
    before = sys.getrefcount(True)
    for _ in range(5000):
        emitter.changed.emit("x")
    # With the guard (or a fixed binding) True keeps a healthy count however many signals are sent.
    assert sys.getrefcount(True) > 5000 or sys.version_info >= (3, 12)
    assert before > 5000 or sys.version_info >= (3, 12)


def test_void_qt_calls_cannot_drain_none():
    needed = install_refcount_guards()
    rect = QRect()
    for _ in range(1000):
        rect.setX(1)
    if void_call_leaks_none():  # the binding still has the leak: None must hold the reserve against it
        assert needed["None"] and sys.getrefcount(None) > REFCOUNT_RESERVE // 2


def test_guard_is_idempotent():
    install_refcount_guards()
    first_true, first_none = sys.getrefcount(True), sys.getrefcount(None)
    install_refcount_guards()
    assert abs(sys.getrefcount(True) - first_true) < 1000 and abs(sys.getrefcount(None) - first_none) < 1000
