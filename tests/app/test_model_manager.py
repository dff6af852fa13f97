"""The model manager dialog: folder states, "Choose folder…", background download with progress, cancel, errors."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog

from app.dialogs import sample_page
from app.dialogs.model_manager import ModelManagerDialog
from app.dialogs.text import human_bytes, human_eta, progress_line
from glmocr_core.errors import ModelError
from glmocr_core.errors import DownloadCancelled
from glmocr_core.checkpoint.layout import INCOMPLETE_SUFFIX
from helpers import header_checkpoint

@pytest.fixture
def isolated(settings, tmp_path, monkeypatch):
    monkeypatch.delenv("GLMOCR_MODEL_DIR", raising=False)
    monkeypatch.setenv("GLMOCR_DATA_DIR", str(tmp_path))
    settings.set("model_dir", str(tmp_path / "model"))
    return settings


def pick_folder(monkeypatch, folder) -> None:
    """The user's answer to the folder picker ("" = cancelled)."""
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *args, **kwargs: str(folder)))


def make_dialog(qtbot, settings, downloader=None) -> ModelManagerDialog:
    dialog = ModelManagerDialog(settings, downloader=downloader)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def test_fresh_install_explains_the_model_and_offers_download(qtbot, isolated, tmp_path):
    dialog = make_dialog(qtbot, isolated)
    assert dialog.state() == "missing"
    intro = dialog.intro.text()
    assert "2.2 GB" in intro and "MIT" in intro and "zai-org/GLM-OCR" in intro
    assert dialog.folder_edit.text() == str(tmp_path / "model")
    assert dialog.download_button.isEnabled() and not dialog.ready_box.isVisible()
    assert "No model here yet" in dialog.state_label.text()


def test_choosing_a_broken_folder_names_the_problems_and_keeps_the_setting(qtbot, isolated, tmp_path, monkeypatch):
    broken = header_checkpoint(tmp_path / "broken")
    (broken / "tokenizer.json").unlink()
    dialog = make_dialog(qtbot, isolated)
    pick_folder(monkeypatch, broken)
    with qtbot.assertNotEmitted(dialog.model_dir_changed):
        assert dialog.choose_folder() is False
    assert "tokenizer.json: missing" in dialog.message_label.text()
    assert isolated.get("model_dir") == str(tmp_path / "model")


def test_choosing_a_complete_folder_makes_the_model_ready(qtbot, isolated, tmp_path, monkeypatch):
    good = header_checkpoint(tmp_path / "copied from another machine")
    dialog = make_dialog(qtbot, isolated)
    pick_folder(monkeypatch, good)
    with qtbot.waitSignal(dialog.model_ready) as ready:
        assert dialog.choose_folder() is True
    assert ready.args == [str(good)]
    assert isolated.get("model_dir") == str(good)
    assert dialog.state() == "ready" and dialog.ready_box.isVisibleTo(dialog)
    assert not dialog.download_button.isEnabled()
    assert not dialog.isVisible()  # done: it closes itself while the model loads


def test_cancelling_the_folder_picker_changes_nothing(qtbot, isolated, tmp_path, monkeypatch):
    dialog = make_dialog(qtbot, isolated)
    pick_folder(monkeypatch, "")
    assert dialog.choose_folder() is False
    assert isolated.get("model_dir") == str(tmp_path / "model")


def test_download_runs_in_the_background_with_progress(qtbot, isolated, tmp_path):
    gate, calls = threading.Event(), []

    def downloader(repo_id, revision, endpoint, target_dir, progress, cancel, status):
        calls.append((repo_id, revision, endpoint, target_dir, threading.current_thread()))
        status("Downloading model.safetensors")
        progress(1_100_000_000, 2_200_000_000, 5_000_000.0, 220.0)  # sizes beyond 2**31 must survive signals
        gate.wait(10)  # the GUI thread keeps running while this waits
        header_checkpoint(Path(target_dir))
        progress(2_200_000_000, 2_200_000_000, 5_000_000.0, 0.0)
        return Path(target_dir)

    dialog = make_dialog(qtbot, isolated, downloader)
    dialog.endpoint_edit.setText("https://mirror.example")
    dialog.start_download()
    qtbot.waitUntil(lambda: "1.1 GB of 2.2 GB" in dialog.progress_label.text())
    assert dialog.state() == "downloading" and dialog.cancel_button.isVisible()
    assert not dialog.choose_button.isEnabled()
    assert "5.0 MB/s" in dialog.progress_label.text() and "3 min 40 s left" in dialog.progress_label.text()
    assert dialog.progress_bar.value() == 500
    with qtbot.waitSignal(dialog.model_ready, timeout=10_000):
        gate.set()
    repo, revision, endpoint, target, thread = calls[0]
    assert (repo, revision, endpoint, target) == ("zai-org/GLM-OCR", "main", "https://mirror.example",
                                                  str(tmp_path / "model"))
    assert thread is not threading.main_thread()
    assert isolated.get("hub/endpoint") == "https://mirror.example"
    qtbot.waitUntil(lambda: dialog.state() == "ready" and dialog.ready_box.isVisibleTo(dialog))
    assert not dialog.isVisible()  # the download's success closes it: the model loads


def test_cancel_stops_the_download_and_offers_resume(qtbot, isolated, tmp_path):
    def downloader(repo_id, revision, endpoint, target_dir, progress, cancel, status):
        Path(target_dir).mkdir(parents=True, exist_ok=True)
        (Path(target_dir) / ("model.safetensors.0123456789abcdef" + INCOMPLETE_SUFFIX)).write_bytes(b"x" * 10)
        while not cancel.wait(0.01):
            progress(10, 100, 1.0, 90.0)
        raise DownloadCancelled()

    dialog = make_dialog(qtbot, isolated, downloader)
    dialog.start_download()
    qtbot.waitUntil(lambda: "10 B of 100 B" in dialog.progress_label.text())
    with qtbot.waitSignal(dialog.downloads.cancelled, timeout=5000):
        dialog.cancel_button.click()
    qtbot.waitUntil(lambda: not dialog.downloads.is_running())
    assert "paused" in dialog.progress_label.text()
    assert dialog.download_button.text() == "Resume download" and dialog.download_button.isEnabled()


def test_download_failure_is_shown_with_the_manual_alternative(qtbot, isolated):
    def downloader(**_):
        raise ModelError("Download failed: cannot reach https://huggingface.co.\nYou can also download the files "
                         "on another computer and pick that folder with \"Choose folder…\".")

    dialog = make_dialog(qtbot, isolated, downloader)
    with qtbot.waitSignal(dialog.downloads.failed):
        dialog.start_download()
    qtbot.waitUntil(lambda: not dialog.downloads.is_running())
    assert "cannot reach" in dialog.message_label.text() and "Choose folder" in dialog.message_label.text()
    assert dialog.download_button.isEnabled() and dialog.choose_button.isEnabled()


def test_an_unexpected_downloader_crash_is_a_message_not_a_crash(qtbot, isolated):
    def downloader(**_):
        raise RuntimeError("boom")

    dialog = make_dialog(qtbot, isolated, downloader)
    with qtbot.waitSignal(dialog.downloads.failed):
        dialog.start_download()
    assert "unexpected error: boom" in dialog.message_label.text()


def test_sample_page_is_made_here_and_offered(qtbot, isolated, tmp_path):
    dialog = make_dialog(qtbot, isolated)
    with qtbot.waitSignal(dialog.sample_requested) as requested:
        dialog.open_sample()
    path = Path(requested.args[0])
    assert path.parent == tmp_path / "samples" and path.suffix == ".png"
    from PIL import Image

    with Image.open(path) as page:
        assert page.size == sample_page.PAGE_SIZE
        assert page.convert("L").getextrema()[0] < 50  # there is ink on it


def test_closing_hides_and_keeps_the_download_running(qtbot, isolated):
    gate = threading.Event()

    def downloader(target_dir, cancel, **_):
        gate.wait(10)
        raise DownloadCancelled()

    dialog = make_dialog(qtbot, isolated, downloader)
    dialog.start_download()
    dialog.close()
    assert not dialog.isVisible() and dialog.downloads.is_running()
    gate.set()
    dialog.shutdown()
    qtbot.waitUntil(lambda: not dialog.downloads.is_running())


@pytest.mark.parametrize("value, text", [(999, "999 B"), (1_500, "1.5 KB"), (2_200_000_000, "2.2 GB"),
                                         (150_000_000, "150 MB")])
def test_human_bytes(value, text):
    assert human_bytes(value) == text


def test_progress_line_reads_naturally():
    assert progress_line(1_000_000_000, 2_000_000_000, 10_000_000, 100) == \
        "1.0 GB of 2.0 GB · 10.0 MB/s · 1 min 40 s left"
    assert human_eta(float("inf")) == "estimating…"
    assert human_eta(7260) == "2 h 01 min left"


def picker_start(monkeypatch) -> list[str]:
    """The folder each picker opened in (the user then cancels)."""
    starts = []

    def pick(parent, caption, start, *args, **kwargs):
        starts.append(start)
        return ""

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(pick))
    return starts


@pytest.mark.parametrize("model_exists, last_folder, expected", [
    (True, True, "model"), (False, True, "last"), (False, False, "home"), (False, "gone", "home")])
def test_the_folder_picker_opens_in_the_model_last_or_home_folder_never_the_current_one(
        qtbot, isolated, tmp_path, monkeypatch, model_exists, last_folder, expected):
    folders = {"model": tmp_path / "model", "last": tmp_path / "documents", "home": tmp_path / "home"}
    folders["last"].mkdir()
    folders["home"].mkdir()
    if model_exists:
        folders["model"].mkdir()
    if last_folder:
        isolated.set("last_folder", str(folders["last"] if last_folder is True else tmp_path / "gone"))
    monkeypatch.setenv("HOME", str(folders["home"]))
    monkeypatch.chdir(tmp_path)  # the source tree, for an app started from it
    starts = picker_start(monkeypatch)
    make_dialog(qtbot, isolated).choose_folder()
    assert starts == [str(folders[expected])]


def test_in_the_window_a_chosen_model_closes_the_dialog_and_loads(make_studio, qtbot, tmp_path, monkeypatch):
    from fake_engine import FakeFactory

    studio = make_studio(FakeFactory(), model_env=None, model_dir=str(tmp_path / "empty"))
    good = header_checkpoint(tmp_path / "GLM-OCR")
    pick_folder(monkeypatch, good)
    studio.window.first_run.folder_button.click()  # "Choose folder…" on the first-run panel
    qtbot.waitUntil(lambda: studio.host.has_model, timeout=10_000)
    assert not studio.model.manager.isVisible()
    assert studio.host.engine_info.model_dir == str(good)


def test_a_refused_folder_keeps_the_dialog_open_with_its_problems(make_studio, tmp_path, monkeypatch):
    studio = make_studio(model_env=None, model_dir=str(tmp_path / "empty"))
    broken = header_checkpoint(tmp_path / "broken")
    (broken / "config.json").unlink()
    pick_folder(monkeypatch, broken)
    studio.window.first_run.folder_button.click()
    assert studio.model.manager.isVisible() and "config.json" in studio.model.manager.message_label.text()
    studio.model.manager.close()


@pytest.mark.parametrize("outcome", ["succeeded", "failed", "cancelled"])
def test_whoever_hears_how_a_download_ended_finds_it_over(qtbot, outcome):
    """A finished download used to say "downloading" to listeners of its outcome for a moment (two queued signals
    from the download thread): now every outcome arrives with ``is_running()`` already False."""
    from glmocr_core.errors import DownloadCancelled, GlmOcrError

    from app.dialogs.downloads import DownloadController

    def downloader(target_dir, **_):
        if outcome == "failed":
            raise GlmOcrError("the server went away")
        if outcome == "cancelled":
            raise DownloadCancelled("stopped")
        return target_dir

    downloads = DownloadController(downloader)
    seen = []
    signal = getattr(downloads, outcome)
    signal.connect(lambda *args: seen.append(downloads.is_running()))
    with qtbot.waitSignal(signal, timeout=5000):
        assert downloads.start("zai-org/GLM-OCR", "main", None, "/tmp/glmocr-download-target")
    assert seen == [False]
