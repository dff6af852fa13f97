"""Snipping the screen: grab every screen, let the user drag a rectangle over the frozen picture, hand the crop on.

``geometry`` (pure mapping, no Qt), ``grabbers`` and ``portal`` (the chain of ways to take the pictures, chosen by
the desktop), ``overlay`` (one frozen full-screen window per screen), ``controller`` (``CaptureController``: grab,
overlay, emit ``captured(QImage, task)``), ``popup`` (the small result window near the selection), ``captures`` (the
"Captures" document: one TIFF page per capture), and the ways a capture starts: ``single_instance``
(``glmocr-studio --capture`` reaching the running app), ``tray`` and ``hotkeys``. No module here knows the engine:
the composition root passes a crop to recognition and the text back to the popup.
"""
