"""Running the application under uvicorn: in the foreground for the command line (Ctrl+C or SIGTERM stop it
gracefully: no new connections, running requests finish, then the engine's worker ends), or on a thread for tests
and benchmarks (``ServerThread``, always on 127.0.0.1)."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn

from .app import create_app
from .settings import ServeSettings

_START_TIMEOUT_S = 60.0


def uvicorn_server(engine, settings: ServeSettings) -> uvicorn.Server:
    settings = settings.checked()
    config = uvicorn.Config(create_app(engine, settings), host=settings.host, port=settings.port,
                            log_level=settings.log_level, lifespan="on",
                            timeout_graceful_shutdown=settings.graceful_timeout_s,
                            # beyond this many open connections uvicorn answers 503 instead of queueing forever
                            limit_concurrency=settings.limits.max_queued + settings.limits.max_batch + 16)
    return uvicorn.Server(config)


def serve_forever(engine, settings: ServeSettings) -> None:
    """Block until Ctrl+C / SIGTERM, then shut down gracefully."""
    uvicorn_server(engine, settings).run()


class ServerThread:
    """``with ServerThread(engine, settings) as server: ... server.url ...`` on a free port of 127.0.0.1."""

    def __init__(self, engine, settings: ServeSettings | None = None, port: int = 0):
        settings = settings or ServeSettings()
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", port))  # 0: a free port
        self.port = self.socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn_server(engine, settings)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]},
                                       name="glmocr-serve", daemon=True)

    def start(self) -> "ServerThread":
        self.thread.start()
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.01)
        return self

    def stop(self, timeout_s: float = 60.0) -> None:
        """What Ctrl+C does: stop listening, let running requests finish, end the worker."""
        self.server.should_exit = True
        self.thread.join(timeout_s)
        self.socket.close()

    def __enter__(self) -> "ServerThread":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def scheduler(self):
        return self.server.config.app.state.scheduler
