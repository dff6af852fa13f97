"""Scripted stand-in servers for the fault tests (a 503 before success, a stall, a connection dropped half-way),
run by uvicorn on a free port of 127.0.0.1 like the real serve."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import uvicorn
from starlette.applications import Starlette
from starlette.routing import Route


class FakeServer:
    """``with FakeServer(handler) as fake: ... fake.url ...``; ``handler(request, call_number)`` is a Starlette
    endpoint that also gets how many requests came before. ``release`` ends any stall the handler waits on."""

    def __init__(self, handler, path: str = "/v1/chat/completions"):
        self.calls = 0
        self.release = threading.Event()

        async def endpoint(request):
            self.calls += 1
            return await handler(request, self.calls - 1, self)

        app = Starlette(routes=[Route(path, endpoint, methods=["POST"])])
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="critical", lifespan="off",
                                                    timeout_graceful_shutdown=5))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)

    async def stall(self) -> None:
        """Wait, without an answer, until the test is over."""
        while not self.release.is_set():
            await asyncio.sleep(0.02)

    def __enter__(self) -> "FakeServer":
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        return self

    def __exit__(self, *exc_info) -> None:
        self.release.set()
        self.server.should_exit = True
        self.thread.join(30)
        self.socket.close()


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
