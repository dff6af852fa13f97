"""The model manager dialog, which is also the guided first-run panel.

It explains what the model is (size, licence, where it goes), shows the model folder and its state (ready, missing,
or the exact problems), lets the user download it from the Hub (in the background, with progress and cancel) or pick
a folder that already holds it, and, once the model is ready, offers a sample page to try.

The window keeps one instance and only hides it on close, so a download continues while the user works. Once a
download or a chosen folder gives a complete model, the dialog closes itself: the model loads, and the window says so.

A second box holds the layout model (PP-DocLayoutV3, about 130 MB) that "Detect layout" and "Convert document" need:
the same download (resumed, verified), folder state and "Choose folder", into its own folder
(``Settings.layout_model_dir``). It loads on the first detection, so a ready layout model needs no reload.
"""

from __future__ import annotations

import html
import logging
from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
)

from glmocr_core.checkpoint import check, hub, layout
from glmocr_core.layout.folder import layout_folder_state

from app.dialogs.downloads import DownloadController, Downloader
from app.dialogs.folders import start_folder
from app.dialogs.sample_page import ensure_sample
from app.dialogs.text import human_bytes, progress_line

log = logging.getLogger(__name__)

INTRO = (
    "<p><b>GLM-OCR</b> is a compact vision-language model (0.9 billion parameters, by Z.ai) that reads text, "
    "formulas and tables in images and PDFs. GLM-OCR Studio runs it on this computer: after one download of about "
    "<b>{size}</b> nothing leaves your machine and no internet connection is needed. The files are kept in the "
    "model folder below.</p>"
    "<p>Licence: <b>{license}</b> · Source: <a href='{url}'>{repo}</a></p>"
)
STATE_TEXT = {
    "ready": "<b style='color:#2e7d32'>Ready.</b> The model in this folder is complete.",
    "missing": "<b>No model here yet.</b> Download it, or choose a folder that already holds it.",
    "problems": "<b style='color:#c62828'>This folder cannot be used yet:</b>",
    "downloading": "<b>Downloading…</b> You can keep working; the download continues in the background.",
}
LAYOUT_INTRO = ("<b>{name}</b> finds the blocks of a page (text, titles, formulas, tables, pictures, headers) in "
                "reading order, for <i>Detect layout</i> and <i>Convert document</i>. About <b>{size}</b> · "
                "Licence: <b>{license}</b> · Source: <a href='{url}'>{repo}</a>. Regions drawn by hand need no "
                "layout model.")


class ModelManagerDialog(QDialog):
    model_dir_changed = Signal(str)  # the user picked another model folder (validated)
    model_ready = Signal(str)  # a download finished, or a complete folder was chosen: load it
    sample_requested = Signal(str)  # path of the sample page to open
    layout_model_ready = Signal(str)  # the layout model's folder is complete (downloaded or chosen)

    def __init__(self, settings, parent=None, downloader: Downloader | None = None):
        super().__init__(parent)
        self.settings = settings
        self.setWindowTitle("GLM-OCR model")
        self.setObjectName("modelManager")
        self.downloads = DownloadController(downloader, self)
        self.layout_box = LayoutModelBox(settings, DownloadController(downloader, self), self)
        self.layout_box.ready.connect(self.layout_model_ready)
        self._build()
        self._connect()
        self.refresh()

    # --- layout ---------------------------------------------------------------------------------------------------

    def _build(self) -> None:
        self.intro = _rich_label(INTRO.format(size=human_bytes(hub.APPROX_DOWNLOAD_BYTES),
                                              license=hub.MODEL_LICENSE, repo=hub.DEFAULT_REPO_ID,
                                              url=f"https://huggingface.co/{hub.DEFAULT_REPO_ID}"))
        column = QVBoxLayout(self)
        column.addWidget(self.intro)
        column.addWidget(self._folder_box())
        column.addWidget(self._download_box())
        column.addWidget(self._ready_box())
        column.addWidget(self.layout_box)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.buttons.rejected.connect(self.close)
        column.addWidget(self.buttons)
        self.resize(640, 720)

    def _folder_box(self) -> QGroupBox:
        box = QGroupBox("Model folder")
        self.folder_edit = QLineEdit(readOnly=True)
        self.folder_edit.setAccessibleName("Model folder")
        self.choose_button = QPushButton("Choose folder…")
        self.choose_button.setAccessibleName("Choose a folder that holds the model")
        self.open_button = QPushButton("Open")
        self.open_button.setAccessibleName("Open the model folder in the file manager")
        self.default_button = QPushButton("Use default")
        self.default_button.setAccessibleName("Use the default model folder")
        row = QHBoxLayout()
        for widget in (self.folder_edit, self.choose_button, self.open_button, self.default_button):
            row.addWidget(widget)
        self.state_label = _rich_label("")
        self.state_label.setAccessibleName("Model folder status")
        column = QVBoxLayout(box)
        column.addLayout(row)
        column.addWidget(self.state_label)
        return box

    def _download_box(self) -> QGroupBox:
        box = QGroupBox("Download from the Hugging Face Hub")
        self.repo_edit = QLineEdit(self.settings.get("hub/repo_id"))
        self.revision_edit = QLineEdit(self.settings.get("hub/revision"))
        self.endpoint_edit = QLineEdit(self.settings.get("hub/endpoint"))
        self.endpoint_edit.setPlaceholderText("https://huggingface.co (or a mirror)")
        form = QFormLayout()
        for label, edit in (("Repository", self.repo_edit), ("Revision", self.revision_edit),
                            ("Endpoint", self.endpoint_edit)):
            edit.setAccessibleName(f"Hub {label.lower()}")
            form.addRow(label, edit)
        self.download_button = QPushButton("Download")
        self.download_button.setAccessibleName("Download the model")
        self.cancel_button = QPushButton("Cancel download")
        self.cancel_button.setAccessibleName("Cancel the download")
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setAccessibleName("Download progress")
        self.progress_label = QLabel("")
        self.progress_label.setAccessibleName("Download progress details")
        self.message_label = _rich_label("")
        self.message_label.setAccessibleName("Download message")
        buttons = QHBoxLayout()
        buttons.addWidget(self.download_button)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        column = QVBoxLayout(box)
        for part in (form, buttons):
            column.addLayout(part)
        for widget in (self.progress_bar, self.progress_label, self.message_label):
            column.addWidget(widget)
        return box

    def _ready_box(self) -> QGroupBox:
        self.ready_box = QGroupBox("Try it")
        self.sample_button = QPushButton("Open a sample page")
        self.sample_button.setAccessibleName("Open a sample page to try the model")
        hint = QLabel("The sample has a heading, a paragraph, a formula and a small table. Draw a region "
                      "around each and pick its task (1–4), or run the whole page.")
        hint.setWordWrap(True)
        column = QVBoxLayout(self.ready_box)
        column.addWidget(hint)
        column.addWidget(self.sample_button, alignment=Qt.AlignmentFlag.AlignLeft)
        return self.ready_box

    def _connect(self) -> None:
        self.choose_button.clicked.connect(self.choose_folder)
        self.open_button.clicked.connect(self.open_folder)
        self.default_button.clicked.connect(self.use_default_folder)
        self.download_button.clicked.connect(self.start_download)
        self.cancel_button.clicked.connect(self.cancel_download)
        self.sample_button.clicked.connect(self.open_sample)
        d = self.downloads
        d.progress.connect(self._on_progress)
        d.status.connect(self.progress_label.setText)
        d.succeeded.connect(self._on_download_succeeded)
        d.failed.connect(self._on_download_failed)
        d.cancelled.connect(self._on_download_cancelled)
        d.running_changed.connect(lambda running: self.refresh())

    # --- state ----------------------------------------------------------------------------------------------------

    def model_dir(self) -> str:
        return self.settings.model_dir()

    def state(self) -> str:
        """"downloading", or the folder's state: "ready", "missing" or "problems"."""
        return "downloading" if self.downloads.is_running() else check.folder_state(self.model_dir())[0]

    def refresh(self) -> None:
        self.layout_box.refresh()
        folder = self.model_dir()
        self.folder_edit.setText(folder)
        state, problems = check.folder_state(folder)
        running = self.downloads.is_running()
        shown = "downloading" if running else state
        listing = "".join(f"<li>{_escape(str(p))}</li>" for p in problems[:12])
        self.state_label.setText(STATE_TEXT[shown] + (f"<ul>{listing}</ul>" if listing and not running else ""))
        self.ready_box.setVisible(shown == "ready")
        self.download_button.setEnabled(not running and state != "ready")
        self.download_button.setText("Resume download" if _has_partial(folder) else
                                     f"Download (about {human_bytes(hub.APPROX_DOWNLOAD_BYTES)})")
        self.cancel_button.setVisible(running)
        self.progress_bar.setVisible(running)
        for widget in (self.choose_button, self.default_button, self.repo_edit, self.revision_edit,
                       self.endpoint_edit):
            widget.setEnabled(not running)

    # --- folder ---------------------------------------------------------------------------------------------------

    def ask_for_folder(self) -> str:
        """The picker opens in the model folder when it exists, else the last folder a document came from, else
        home: a model copied from elsewhere is usually near the user's own files, not in the app's data folder."""
        start = start_folder(self.model_dir(), self.settings.get("last_folder"))
        return QFileDialog.getExistingDirectory(self, "Choose the folder that holds the GLM-OCR model", start)

    def choose_folder(self) -> bool:
        folder = self.ask_for_folder()
        return bool(folder) and self.set_folder(folder)

    def set_folder(self, folder: str) -> bool:
        """Accept a complete checkpoint, an empty folder, or our own unfinished download; refuse anything else."""
        state, problems = check.folder_state(folder)
        if state == "problems" and not _has_partial(folder):
            listing = "".join(f"<li>{_escape(str(p))}</li>" for p in problems[:12])
            self.message_label.setText(f"<b>{_escape(folder)}</b> was not used, because it is not a complete "
                                       f"GLM-OCR model:<ul>{listing}</ul>")
            return False
        self.settings.set("model_dir", str(Path(folder)))
        self.settings.sync()
        self.message_label.setText("")
        log.info("model folder set to %s (%s)", folder, state)
        self.refresh()
        self.model_dir_changed.emit(self.model_dir())
        if state == "ready":
            self._ready(self.model_dir())
        return True

    def use_default_folder(self) -> None:
        self.settings.reset("model_dir")
        self.settings.sync()
        self.message_label.setText("")
        self.refresh()
        self.model_dir_changed.emit(self.model_dir())

    def open_folder(self) -> None:
        folder = Path(self.model_dir())
        target = folder if folder.is_dir() else next((p for p in folder.parents if p.is_dir()), folder)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(target)))

    # --- download -------------------------------------------------------------------------------------------------

    def hub_request(self) -> tuple[str, str, str]:
        repo = self.repo_edit.text().strip() or hub.DEFAULT_REPO_ID
        revision = self.revision_edit.text().strip() or hub.DEFAULT_REVISION
        return repo, revision, self.endpoint_edit.text().strip()

    def start_download(self) -> bool:
        repo, revision, endpoint = self.hub_request()
        for key, value in (("hub/repo_id", repo), ("hub/revision", revision), ("hub/endpoint", endpoint)):
            self.settings.set(key, value)
        self.settings.sync()
        self.message_label.setText("")
        self.progress_bar.setValue(0)
        self.progress_label.setText("Starting…")
        return self.downloads.start(repo, revision, endpoint, self.model_dir())

    def cancel_download(self) -> None:
        self.progress_label.setText("Cancelling…")
        self.downloads.cancel()

    def _on_progress(self, done: int, total: int, speed: float, eta: float) -> None:
        self.progress_bar.setValue(round(1000 * done / total) if total else 0)
        self.progress_label.setText(progress_line(done, total, speed, eta))

    def _on_download_succeeded(self, folder: str) -> None:
        self.progress_label.setText("Download complete and verified.")
        self.refresh()
        if check.folder_state(folder)[0] == "ready":
            self._ready(folder)

    def _ready(self, folder: str) -> None:
        """A complete model: load it, and get out of the way (the window shows the load and then the model)."""
        log.info("model ready in %s: loading it and closing the model dialog", folder)
        self.model_ready.emit(folder)
        self.close()

    def _on_download_failed(self, message: str) -> None:
        self.message_label.setText(f"<b style='color:#c62828'>{_escape(message)}</b>".replace("\n", "<br>"))
        self.progress_label.setText("")
        self.refresh()

    def _on_download_cancelled(self) -> None:
        self.progress_label.setText("Download paused. What has arrived is kept: \"Resume download\" continues "
                                    "where it stopped.")
        self.refresh()

    # --- sample and closing ---------------------------------------------------------------------------------------

    def open_sample(self) -> None:
        try:
            path = ensure_sample()
        except OSError as exc:
            self.message_label.setText(f"The sample page could not be written: {_escape(str(exc))}")
            return
        self.sample_requested.emit(str(path))

    def closeEvent(self, event) -> None:
        """Closing hides the dialog; a running download carries on (the window calls shutdown() on exit)."""
        event.accept()
        self.hide()

    def shutdown(self) -> None:
        self.downloads.shutdown()
        self.layout_box.downloads.shutdown()


class LayoutModelBox(QGroupBox):
    """The layout model's folder, state, download (with resume and verification) and folder choice."""

    ready = Signal(str)

    def __init__(self, settings, downloads: DownloadController, parent=None):
        super().__init__("Layout model (Detect layout, Convert document)", parent)
        self.settings, self.downloads = settings, downloads
        self.model = hub.LAYOUT_MODEL
        self.setObjectName("layoutModelBox")
        self._build()
        d = self.downloads
        d.progress.connect(self._on_progress)
        d.status.connect(self.progress_label.setText)
        d.succeeded.connect(self._on_succeeded)
        d.failed.connect(lambda message: self._say(f"<b style='color:#c62828'>{_escape(message)}</b>"
                                                   .replace("\n", "<br>")))
        d.cancelled.connect(lambda: self._say("Download paused. \"Resume download\" continues where it stopped."))
        d.running_changed.connect(lambda running: self.refresh())
        self.refresh()

    def _build(self) -> None:
        model = self.model
        self.intro = _rich_label(LAYOUT_INTRO.format(name=model.name, size=human_bytes(model.approx_download_bytes),
                                                     license=model.license, repo=model.repo_id,
                                                     url=f"https://huggingface.co/{model.repo_id}"))
        self.folder_edit = QLineEdit(readOnly=True)
        self.folder_edit.setAccessibleName("Layout model folder")
        self.choose_button = QPushButton("Choose folder…")
        self.choose_button.setAccessibleName("Choose a folder that holds the layout model")
        self.default_button = QPushButton("Use default")
        self.default_button.setAccessibleName("Use the default layout model folder")
        self.download_button = QPushButton("Download")
        self.download_button.setAccessibleName("Download the layout model")
        self.cancel_button = QPushButton("Cancel download")
        self.cancel_button.setAccessibleName("Cancel the layout model download")
        self.state_label = _rich_label("")
        self.state_label.setAccessibleName("Layout model folder status")
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setAccessibleName("Layout model download progress")
        self.progress_label = QLabel("")
        self.message_label = _rich_label("")
        folder_row, button_row = QHBoxLayout(), QHBoxLayout()
        for widget in (self.folder_edit, self.choose_button, self.default_button):
            folder_row.addWidget(widget)
        button_row.addWidget(self.download_button)
        button_row.addWidget(self.cancel_button)
        button_row.addStretch(1)
        column = QVBoxLayout(self)
        column.addWidget(self.intro)
        column.addLayout(folder_row)
        column.addWidget(self.state_label)
        column.addLayout(button_row)
        for widget in (self.progress_bar, self.progress_label, self.message_label):
            column.addWidget(widget)
        self.choose_button.clicked.connect(self.choose_folder)
        self.default_button.clicked.connect(self.use_default_folder)
        self.download_button.clicked.connect(self.start_download)
        self.cancel_button.clicked.connect(self.downloads.cancel)

    def folder(self) -> str:
        return self.settings.layout_model_dir()

    def state(self) -> str:
        return "downloading" if self.downloads.is_running() else layout_folder_state(self.folder())[0]

    def refresh(self) -> None:
        folder = self.folder()
        self.folder_edit.setText(folder)
        state, problems = layout_folder_state(folder)
        running = self.downloads.is_running()
        shown = "downloading" if running else state
        listing = "".join(f"<li>{_escape(str(p))}</li>" for p in problems[:6])
        self.state_label.setText(STATE_TEXT[shown].replace("The model", "The layout model")
                                 + (f"<ul>{listing}</ul>" if listing and not running else ""))
        self.download_button.setEnabled(not running and state != "ready")
        self.download_button.setText("Resume download" if _has_partial(folder) else
                                     f"Download (about {human_bytes(self.model.approx_download_bytes)})")
        self.cancel_button.setVisible(running)
        self.progress_bar.setVisible(running)
        for widget in (self.choose_button, self.default_button):
            widget.setEnabled(not running)

    def ask_for_folder(self) -> str:
        start = start_folder(self.folder(), self.settings.get("last_folder"))
        return QFileDialog.getExistingDirectory(self, "Choose the folder that holds the layout model", start)

    def choose_folder(self) -> bool:
        folder = self.ask_for_folder()
        return bool(folder) and self.set_folder(folder)

    def set_folder(self, folder: str) -> bool:
        """A complete layout model, an empty folder or our own unfinished download; anything else is refused."""
        state, problems = layout_folder_state(folder)
        if state == "problems" and not _has_partial(folder):
            listing = "".join(f"<li>{_escape(str(p))}</li>" for p in problems[:6])
            self._say(f"<b>{_escape(folder)}</b> was not used, because it is not a complete layout model:"
                      f"<ul>{listing}</ul>")
            return False
        self.settings.set("layout_model_dir", str(Path(folder)))
        self.settings.sync()
        self._say("")
        self.refresh()
        if state == "ready":
            self.ready.emit(self.folder())
        return True

    def use_default_folder(self) -> None:
        self.settings.reset("layout_model_dir")
        self.settings.sync()
        self._say("")
        self.refresh()

    def start_download(self) -> bool:
        self._say("")
        self.progress_bar.setValue(0)
        self.progress_label.setText("Starting…")
        return self.downloads.start(self.model.repo_id, self.model.revision, self.settings.get("hub/endpoint"),
                                    self.folder(), kind=self.model.kind)

    def _on_progress(self, done: int, total: int, speed: float, eta: float) -> None:
        self.progress_bar.setValue(round(1000 * done / total) if total else 0)
        self.progress_label.setText(progress_line(done, total, speed, eta))

    def _on_succeeded(self, folder: str) -> None:
        self.progress_label.setText("Download complete and verified.")
        self.refresh()
        if layout_folder_state(folder)[0] == "ready":
            self.ready.emit(folder)

    def _say(self, text: str) -> None:
        self.message_label.setText(text)
        self.refresh()


def _has_partial(folder: str) -> bool:
    path = Path(folder)
    return path.is_dir() and (any(path.glob("*" + layout.INCOMPLETE_SUFFIX))
                              or (path / layout.VERIFIED_MARKER).is_file())


def _rich_label(html: str) -> QLabel:
    label = QLabel(html)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.RichText)
    label.setOpenExternalLinks(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
    return label


def _escape(text: str) -> str:
    return html.escape(text, quote=False)
