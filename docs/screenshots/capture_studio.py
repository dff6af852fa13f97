"""A real run of the studio's capture wiring (app.main.start) under Xvfb: a second launch with --capture, a drag on
the frozen screen, the text of a tiny model in the popup, on the clipboard and in the Captures document.
Run from the repository root: QTWEBENGINE_DISABLE_SANDBOX=1 xvfb-run -a -s "-screen 0 1280x800x24" python docs/screenshots/capture_studio.py
"""
import os, subprocess, sys, time
os.environ.setdefault("QTWEBENGINE_DISABLE_SANDBOX", "1")
from glmocr_core.testing.checkpoints import build_tiny_checkpoint
ckpt = build_tiny_checkpoint("/tmp/capture-studio/ckpt", seed=0)
os.environ["GLMOCR_MODEL_DIR"] = str(ckpt)
os.environ["GLMOCR_STUDIO_DATA_DIR"] = "/tmp/capture-studio/data"
from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
import app.main as main
application, studio = main.start([])
parts = {}
orig = main.install_capture
log = []
def step1():
    log.append("second launch")
    subprocess.Popen([sys.executable, "-m", "app.launch", "--capture"], cwd=os.getcwd())
def find_overlay():
    from app.capture.overlay import CaptureOverlay
    for w in QApplication.topLevelWidgets():
        if isinstance(w, CaptureOverlay) and w.isVisible():
            return w
def step2():
    overlay = find_overlay()
    if overlay is None:
        QTimer.singleShot(300, step2); return
    log.append("overlay shown")
    overlay.grab().save("/tmp/capture-studio/overlay.png")
    QTest.mousePress(overlay, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(100, 100))
    QTest.mouseMove(overlay, QPoint(400, 220))
    QTest.mouseRelease(overlay, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(400, 220))
    QTimer.singleShot(500, step3)
def step3(tries=[0]):
    from app.capture.captures import CAPTURES_NAME
    docs = [d for d in studio.workspace.documents if d.session.name == CAPTURES_NAME]
    done = docs and docs[0].session.regions and docs[0].session.regions[0].state == "done"
    tries[0] += 1
    if not done and tries[0] < 120:
        QTimer.singleShot(500, step3); return
    r = docs[0].session.regions[0] if docs and docs[0].session.regions else None
    log.append(f"captures doc pages={docs[0].session.page_count if docs else None} region={r and (r.task, r.state, r.box)}")
    log.append(f"clipboard={QApplication.clipboard().text()[:60]!r} region text={r and r.text[:60]!r}")
    studio.window.grab().save("/tmp/capture-studio/window.png")
    screen = QApplication.primaryScreen().grabWindow(0); screen.save("docs/screenshots/capture-studio.png")
    print("\n".join(log), flush=True)
    application.quit()
QTimer.singleShot(4000, step1)
QTimer.singleShot(6000, step2)
QTimer.singleShot(150000, application.quit)
code = main.run(application, studio)
