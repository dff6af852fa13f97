"""The window through a remote backend: our own ``glmocr-studio serve`` on 127.0.0.1 with a tiny checkpoint (the
server tests' starter), "Test connection" against it (ok, and a wrong key), a region recognized remotely with the
same token ids and text as the in-process engine gives, and a server that dies mid-stream (the region fails with a
readable message and re-runs once the server is back). Slow-ish: loads torch for the servers."""

from __future__ import annotations

import pytest

from glmocr_core.loader import load_engine

from app.dialogs.settings_dialog import SettingsDialog
from glmocr_core.runtime.devices import DeviceInfo

pytestmark = pytest.mark.slow
WAIT_MS = 120_000
CPU = DeviceInfo("cpu", "cpu", "CPU")


@pytest.fixture(scope="module")
def serve_helpers():
    server_conftest = pytest.importorskip("tests.server.conftest")
    return server_conftest


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    from glmocr_core.testing.checkpoints import build_tiny_checkpoint

    return build_tiny_checkpoint(tmp_path_factory.mktemp("remote-ckpt"), seed=0)


@pytest.fixture(scope="module")
def keyed_server(serve_helpers, tiny_checkpoint):
    """serve with an API key, on a free port of 127.0.0.1."""
    running = serve_helpers.start_server(tiny_checkpoint, api_key=serve_helpers.API_KEY)
    yield running
    running.stop()


def make_dialog(qtbot, settings, backend="openai", url="", key=""):
    dialog = SettingsDialog(settings, list_devices=lambda: [CPU])
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.devices_label.text() != "Detecting devices…")
    dialog.backend_combo.setCurrentIndex(dialog.backend_combo.findData(backend))
    dialog.url_edit.setPlainText(url)
    dialog.key_edit.setText(key)
    return dialog


def connection_answer(qtbot, dialog) -> str:
    with qtbot.waitSignal(dialog.connection_test.answered, timeout=WAIT_MS):
        dialog.test_button.click()
    return dialog.connection_label.text()


def test_test_connection_to_our_serve_lists_its_model(qtbot, settings, keyed_server, serve_helpers):
    dialog = make_dialog(qtbot, settings, url=keyed_server.url + "/v1", key=serve_helpers.API_KEY)
    text = connection_answer(qtbot, dialog)
    assert text.startswith("Connected: ") and "glm-ocr" in text, text


def test_test_connection_with_a_wrong_key_says_the_key_was_refused(qtbot, settings, keyed_server):
    dialog = make_dialog(qtbot, settings, url=keyed_server.url, key="not-the-key")
    text = connection_answer(qtbot, dialog)
    assert text.startswith("Not connected: ") and "401" in text and "check it" in text, text


def run_and_wait(qtbot, studio, region) -> None:
    with qtbot.waitSignal(studio.host.job_finished, timeout=WAIT_MS):
        studio.regions.run_region(region.id)


def test_a_region_recognized_through_serve_equals_the_local_result(make_studio, qtbot, tmp_path, tiny_checkpoint,
                                                                 keyed_server, serve_helpers):
    serve_helpers.drawn_image(300, 120, 0).save(tmp_path / "page.png")
    studio = make_studio(load_engine, model_env=str(tiny_checkpoint), **{"max_new_tokens/text": 12})
    window = studio.window
    qtbot.waitUntil(lambda: studio.host.has_model, timeout=WAIT_MS)
    assert window.model_label.text().startswith("Local: CPU, exact (float32)")
    assert studio.documents.open_path(str(tmp_path / "page.png"))
    region = studio.regions.add_region(0, (10, 5, 290, 110), run=False)
    run_and_wait(qtbot, studio, region)
    assert region.state == "done", region.error
    local, local_text = dict(region.result), region.text

    studio.settings.set("backend", "openai")
    studio.settings.set("remote/urls", keyed_server.url)
    studio.settings.set_api_key(serve_helpers.API_KEY)
    with qtbot.waitSignal(studio.host.model_ready, timeout=WAIT_MS):
        studio.model.apply_settings(["backend", "remote/urls", "remote/api_key"])
    assert window.model_label.text() == f"Remote: {keyed_server.url} (glm-ocr)"
    assert not window.first_run.isVisible()
    run_and_wait(qtbot, studio, region)
    assert region.state == "done", region.error
    assert region.result["token_ids"] == local["token_ids"] and region.result["token_ids"]
    assert region.text == local_text
    assert region.result["stop_reason"] == local["stop_reason"]


def test_a_remote_backend_needs_no_local_model(make_studio, qtbot, keyed_server, serve_helpers, tmp_path):
    studio = make_studio(load_engine, backend="ollama", **{"remote/urls": "http://127.0.0.1:9"})
    qtbot.waitUntil(lambda: studio.host.has_model, timeout=WAIT_MS)
    assert not studio.window.first_run.isVisible()
    assert studio.window.model_label.text() == "Remote: http://127.0.0.1:9 (glm-ocr)"


def test_a_server_that_dies_mid_stream_fails_the_region_which_reruns_after_a_restart(make_studio, qtbot, tmp_path,
                                                                                    serve_helpers):
    from glmocr_core.engine import Engine
    from glmocr_core.server.runner import ServerThread
    from glmocr_core.server.settings import ServeSettings
    from glmocr_core.testing.checkpoints import EOS_IDS, random_model, tiny_config, write_checkpoint
    import torch

    model = random_model(tiny_config(), seed=3)
    with torch.no_grad():
        model.lm_head.weight[EOS_IDS] = 0.0  # never stops by itself: the stream lasts as long as asked
    endless = write_checkpoint(model, tmp_path / "endless")

    def serve(port=0):
        # a short graceful shutdown: a running stream is cut, as when the server is killed
        settings = ServeSettings(log_level="warning", graceful_timeout_s=0.2)
        return ServerThread(Engine.load(endless, device="cpu"), settings, port=port).start()

    server = serve()
    serve_helpers.drawn_image(200, 100, 1).save(tmp_path / "page.png")
    studio = make_studio(load_engine, backend="openai", **{"remote/urls": server.url, "max_new_tokens/text": 16000})
    qtbot.waitUntil(lambda: studio.host.has_model, timeout=WAIT_MS)
    assert studio.documents.open_path(str(tmp_path / "page.png"))
    region = studio.regions.add_region(0, (0, 0, 200, 100), run=False)
    streamed = []
    studio.host.text_delta.connect(lambda region_id, text: streamed.append(text))
    studio.regions.run_region(region.id)
    qtbot.waitUntil(lambda: bool(streamed) or region.is_finished, timeout=WAIT_MS)
    assert region.state == "running", region.error  # the stream is flowing
    with qtbot.waitSignal(studio.host.job_failed, timeout=WAIT_MS) as failed:
        server.stop()
    assert region.state == "failed" and "run the request again" in region.error, region.error
    assert failed.args[1] == region.error

    restarted = serve(server.port)
    try:
        studio.settings.set("max_new_tokens/text", 8)
        run_and_wait(qtbot, studio, region)
        assert region.state == "done", region.error
        assert len(region.result["token_ids"]) == 8
    finally:
        restarted.stop()
