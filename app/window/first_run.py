"""The panel shown while no model is loaded: what is missing, where it belongs, and what to do.

It only asks: for the model manager (``get_model_requested``) or for a folder (``choose_folder_requested``). The
model's size, licence and Hub repository are the core's.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout

from glmocr_core.checkpoint.hub import APPROX_DOWNLOAD_BYTES, DEFAULT_REPO_ID, MODEL_LICENSE

from app.dialogs.text import human_bytes

MODEL_REPO_URL = f"https://huggingface.co/{DEFAULT_REPO_ID}"


class FirstRunPanel(QFrame):
    get_model_requested = Signal()
    choose_folder_requested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("firstRunPanel")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAccessibleName("Model status")
        self.title = QLabel()
        self.title.setStyleSheet("font-weight: bold; font-size: 13pt;")
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.text.setOpenExternalLinks(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setAccessibleName("Model loading progress")
        self.get_button = QPushButton("Get the model…")
        self.get_button.setAccessibleName("Get the model")
        self.folder_button = QPushButton("Choose folder…")
        self.folder_button.setAccessibleName("Choose the model folder")
        self.get_button.clicked.connect(self.get_model_requested)
        self.folder_button.clicked.connect(self.choose_folder_requested)
        self._layout()

    def _layout(self) -> None:
        buttons = QHBoxLayout()
        buttons.addWidget(self.get_button)
        buttons.addWidget(self.folder_button)
        buttons.addStretch(1)
        column = QVBoxLayout(self)
        for widget in (self.title, self.text, self.progress):
            column.addWidget(widget)
        column.addLayout(buttons)

    def show_missing(self, model_dir: str, problem: str = "") -> None:
        self.title.setText("No model loaded" if not problem else "The model could not be loaded")
        reason = f"<p><b>{_escape(problem)}</b></p>" if problem else ""
        self.text.setText(
            f"{reason}<p>GLM-OCR Studio recognizes text on this computer with the <b>GLM-OCR</b> model "
            f"(about {human_bytes(APPROX_DOWNLOAD_BYTES)}, {MODEL_LICENSE} licence). It was not found in:</p>"
            f"<p><code>{_escape(model_dir)}</code></p>"
            f"<p>Download it once from <a href='{MODEL_REPO_URL}'>huggingface.co/{DEFAULT_REPO_ID}</a> "
            "into that folder, or choose a folder that already holds it. Until then you can open documents "
            "and draw regions; they run when the model is ready.</p>")
        self._set_busy(False)
        self.show()

    def show_loading(self, stage: str, fraction: float) -> None:
        self.title.setText("Loading the model…")
        self.text.setText(_escape(stage))
        self.progress.setValue(round(fraction * 100))
        self._set_busy(True)
        self.show()

    def _set_busy(self, busy: bool) -> None:
        self.progress.setVisible(busy)
        self.get_button.setEnabled(not busy)
        self.folder_button.setEnabled(not busy)


def _escape(text: str) -> str:
    return html.escape(text, quote=False)
