"""Faults between the client and a server: a 503 before success (retried, honouring Retry-After), a server that
stays busy, a stalled server (a timeout message), a connection dropped half-way and a server killed mid-stream (a
clear error; the request can be run again), endpoint rotation past a dead server, a wrong key (a 401 message), and
a graceful shutdown that finishes the running request. Back-off waits go to a recording sleeper: no test waits for
them."""

from __future__ import annotations

import json
import queue
import re
import socket
import subprocess
import sys
import threading
import time

import pytest
from starlette.responses import JSONResponse, Response, StreamingResponse

from glmocr_core.api import OcrResult, RecognizeOptions, TextDelta
from glmocr_core.backends.remote import RemoteEngine
from glmocr_core.backends.settings import RemoteSettings, RetryPolicy
from glmocr_core.backends.transport import RemoteError, Transport
from glmocr_core.cli import main
from glmocr_core.engine import Engine

from .conftest import API_KEY, start_server
from .fakes import FakeServer, free_port
from .test_backend_protocols import VLLM_STREAM

FAST_RETRIES = RetryPolicy(backoff_base_s=0.01, backoff_max_s=0.05)


def _engine(*urls: str, sleeps: list | None = None, **settings) -> RemoteEngine:
    chosen = RemoteSettings(urls=urls, retry=settings.pop("retry", FAST_RETRIES), **settings)
    return RemoteEngine(chosen, Transport(chosen, sleep=(sleeps.append if sleeps is not None else time.sleep)))


def _final(items) -> OcrResult:
    items = list(items)
    assert isinstance(items[-1], OcrResult)
    return items[-1]


def _vllm_reply() -> Response:
    return Response(VLLM_STREAM, media_type="text/event-stream")


def test_a_503_is_retried_after_the_time_the_server_asks(image):
    async def loading_then_ready(request, call, fake):
        if call == 0:
            return JSONResponse({"error": {"message": "model loading"}}, status_code=503, headers={"Retry-After": "2"})
        return _vllm_reply()

    sleeps: list[float] = []
    with FakeServer(loading_then_ready) as fake:
        result = _final(_engine(fake.url, sleeps=sleeps).recognize(image))
    assert fake.calls == 2 and result.text == "Invoice No. 17"
    assert len(sleeps) == 1 and 2.0 <= sleeps[0] <= 2.2  # Retry-After honoured, a little jitter on top


def test_a_server_that_stays_busy_gives_up_with_the_reason(image):
    async def busy(request, call, fake):
        return JSONResponse({"error": {"message": "too many requests"}}, status_code=429)

    sleeps: list[float] = []
    with FakeServer(busy) as fake:
        with pytest.raises(RemoteError, match=r"busy or failing \(429\) after 4 attempts: too many requests"):
            list(_engine(fake.url, sleeps=sleeps).recognize(image))
    assert fake.calls == 4 and len(sleeps) == 3
    assert all(0 < s <= FAST_RETRIES.backoff_max_s for s in sleeps)


def test_a_client_error_is_not_retried(image):
    async def refuse(request, call, fake):
        return JSONResponse({"error": {"message": "max_tokens is too large"}}, status_code=400)

    with FakeServer(refuse) as fake:
        with pytest.raises(RemoteError, match="refused the request \\(400\\): max_tokens is too large") as info:
            list(_engine(fake.url).recognize(image))
    assert fake.calls == 1 and info.value.status == 400


def test_a_stalled_server_times_out_with_a_message(image):
    async def stall(request, call, fake):
        await fake.stall()
        return _vllm_reply()

    with FakeServer(stall) as fake:
        with pytest.raises(RemoteError, match="did not answer within 0.5 s \\(read timeout\\)"):
            list(_engine(fake.url, read_timeout_s=0.5).recognize(image))
    assert fake.calls == 1  # a stalled server is not asked again


def test_a_server_that_goes_silent_mid_stream_times_out(image):
    async def stall_after_one_piece(request, call, fake):
        async def pieces():
            yield VLLM_STREAM.split("\n\n")[1] + "\n\n"
            await fake.stall()
        return StreamingResponse(pieces(), media_type="text/event-stream")

    with FakeServer(stall_after_one_piece) as fake:
        stream = _engine(fake.url, read_timeout_s=0.5).recognize(image)
        assert next(stream) == TextDelta("Invoice")
        with pytest.raises(RemoteError, match="went silent for 0.5 s"):
            list(stream)


def test_a_dropped_connection_is_a_clear_error_and_the_request_can_be_rerun(image):
    async def drop_the_first(request, call, fake):
        async def pieces():
            yield VLLM_STREAM.split("\n\n")[1] + "\n\n"
            if call == 0:
                raise ConnectionAbortedError("the server went away")  # uvicorn drops the connection
            yield "\n\n".join(VLLM_STREAM.split("\n\n")[2:])
        return StreamingResponse(pieces(), media_type="text/event-stream")

    with FakeServer(drop_the_first) as fake:
        engine = _engine(fake.url)
        with pytest.raises(RemoteError, match="broke in the middle of the reply .*run the request again"):
            list(engine.recognize(image))
        assert _final(engine.recognize(image)).text == "Invoice No. 17"
    assert fake.calls == 2


def test_rotation_goes_past_a_dead_endpoint(image):
    async def ready(request, call, fake):
        return _vllm_reply()

    sleeps: list[float] = []
    with FakeServer(ready) as fake:
        engine = _engine(f"http://127.0.0.1:{free_port()}", fake.url, sleeps=sleeps)
        results = [_final(engine.recognize(image)) for _ in range(3)]
    assert all(r.text == "Invoice No. 17" for r in results)
    assert fake.calls == 3 and len(sleeps) >= 1  # every request that met the dead one moved on to the live one


def test_nothing_listening_is_a_clear_error(image):
    with pytest.raises(RemoteError, match="cannot connect"):
        list(_engine(f"http://127.0.0.1:{free_port()}", sleeps=[]).recognize(image))


def test_a_wrong_key_is_a_401_message(strict_server, image):
    with pytest.raises(RemoteError, match="refused the API key \\(401\\)") as info:
        list(_engine(strict_server.url, api_key="wrong").recognize(image))
    assert info.value.status == 401
    health = _engine(strict_server.url, api_key="wrong").health()
    assert not health.ok and "401" in health.message
    assert _engine(strict_server.url, api_key=API_KEY).health().ok


def test_an_unknown_model_name_is_a_404_message(server, image):
    with pytest.raises(RemoteError, match="not found \\(404\\).*does not exist"):
        list(_engine(server.url, model_name="qwen").recognize(image))
    health = _engine(server.url, model_name="qwen").health()
    assert not health.ok and "glm-ocr" in health.message


def test_graceful_shutdown_finishes_the_running_request(endless_checkpoint, image):
    running = start_server(endless_checkpoint)
    engine = _engine(running.url)
    stream = engine.recognize(image, options=RecognizeOptions(max_new_tokens=120, repeat_guard=False))
    assert isinstance(next(stream), TextDelta)
    stopper = threading.Thread(target=running.stop)
    stopper.start()  # what Ctrl+C or SIGTERM does
    _wait_until_refused(running.port)
    result = _final(stream)
    stopper.join(60)
    assert result.stop_reason == "max_tokens" and len(result.token_ids) == 120
    assert not running.thread.is_alive()


def _wait_until_refused(port: int, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return
        time.sleep(0.02)
    raise AssertionError("the server kept accepting connections")


# ------------------------------------------------------------------------------------ the real serve command


class _ServeProcess:
    """``glmocr-studio serve`` in a child process, as a user starts it."""

    def __init__(self, checkpoint, port: int = 0):
        command = [sys.executable, "-m", "glmocr_core", "serve", "--model", str(checkpoint), "--device", "cpu",
                   "--port", str(port)]
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.url = self._wait_for_url()
        self.port = int(self.url.rsplit(":", 1)[1])

    def _read(self) -> None:
        for line in self.process.stderr:
            self.lines.put(line)

    def _wait_for_url(self, timeout_s: float = 120.0) -> str:
        deadline, seen = time.monotonic() + timeout_s, []
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                if self.process.poll() is not None:
                    break
                continue
            seen.append(line)
            found = re.search(r"running on (http://127\.0\.0\.1:\d+)", line)
            if found:
                return found.group(1)
        self.kill()
        raise AssertionError("serve did not start:\n" + "".join(seen))

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(30)


def test_serve_killed_mid_stream_then_started_again(endless_checkpoint, image, tmp_path, capsys):
    first = _ServeProcess(endless_checkpoint)
    try:
        picture = tmp_path / "page.png"
        image.save(picture)
        remote = _cli_json(capsys, picture, "--backend", "openai", "--url", first.url)
        local = _cli_json(capsys, picture, "--model", endless_checkpoint)
        assert remote == local  # the done-when check, against the real command

        engine = _engine(first.url)
        options = RecognizeOptions(max_new_tokens=60, repeat_guard=False)
        stream = engine.recognize(image, options=options)
        assert isinstance(next(stream), TextDelta)
        first.kill()
        with pytest.raises(RemoteError, match="run the request again"):
            list(stream)
    finally:
        first.kill()
    second = _ServeProcess(endless_checkpoint, port=first.port)
    try:
        rerun = _final(engine.recognize(image, options=options))
    finally:
        second.kill()
    expected = _final(Engine.load(endless_checkpoint, device="cpu").recognize(image, options=options))
    assert rerun.token_ids == expected.token_ids and len(rerun.token_ids) == 60


def _cli_json(capsys, picture, *args) -> list[dict]:
    assert main(["ocr", str(picture), "--json", "--max-new-tokens", "12", *map(str, args)]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    return [{k: v for k, v in record.items() if k != "timings"} for record in records]
