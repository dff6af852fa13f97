"""One file over HTTP into a partial file: resumable, bounded by its known size, cancellable at once.

Why not huggingface_hub's own ``http_get``: it reads in 10 MB chunks and checks the size only at the end, so on a slow
link cancel and progress act every few minutes, a stalled server is waited on forever, and a server that streams
without end fills the disk. Here each read waits at most ``poll_s`` (cancel and progress act at least that often,
whatever the link speed), nothing past the expected size is ever written, silence longer than ``stall_s`` is an
error, and a dropped connection resumes with a Range request (a few times, with a growing pause).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import httpx

from ..errors import DownloadCancelled


class TransferError(Exception):
    """The server refused or failed the transfer; ``status`` is its HTTP status (0 when none came)."""

    def __init__(self, message: str, status: int = 0):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class TransferLimits:
    poll_s: float = 1.0  # the longest one read may wait
    stall_s: float = 60.0  # silence (no byte at all) after which the transfer fails
    connect_s: float = 20.0
    retries: int = 5  # dropped connections and 429/5xx answers resumed before giving up
    backoff_s: float = 1.0  # the first pause before a retry; it doubles each time


RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})


class _Silence:
    """How long nothing has arrived; reset by every byte."""

    def __init__(self, limits: TransferLimits):
        self.limits, self.since = limits, time.monotonic()

    def heard(self) -> None:
        self.since = time.monotonic()

    def check(self) -> None:
        if time.monotonic() - self.since > self.limits.stall_s:
            raise TransferError(f"the server sent nothing for {self.limits.stall_s:.0f} s: the transfer stalled")


def fetch(url: str, partial: Path, size: int, headers: dict[str, str], cancel: threading.Event,
          on_bytes: Callable[[int], None], limits: TransferLimits = TransferLimits()) -> None:
    """Grow ``partial`` until it holds ``size`` bytes of ``url``; ``on_bytes(bytes in the file)`` reports progress at
    least once per ``poll_s``. Raises DownloadCancelled, TransferError, or OSError (disk full)."""
    timeout = httpx.Timeout(limits.poll_s, connect=limits.connect_s)
    silence, failures = _Silence(limits), 0
    with httpx.Client(follow_redirects=True, timeout=timeout, headers={**headers, "Accept-Encoding": "identity"}) as client:
        while _have(partial) < size:
            try:
                _stream_once(client, url, partial, size, cancel, on_bytes, silence)
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                failures = _after_drop(exc, failures, limits, silence, cancel)
                on_bytes(_have(partial))
            except _Retryable as exc:
                failures = _after_drop(exc.error, failures, limits, silence, cancel, pause=exc.retry_after)


def _have(partial: Path) -> int:
    return partial.stat().st_size if partial.is_file() else 0


class _Retryable(Exception):
    def __init__(self, error: TransferError, retry_after: float | None):
        self.error, self.retry_after = error, retry_after


def _after_drop(error: Exception, failures: int, limits: TransferLimits, silence: _Silence,
                cancel: threading.Event, pause: float | None = None) -> int:
    """Decide whether a broken read is resumed: a read that merely timed out is (while the server is not silent
    for too long); a dropped connection or a 429/5xx answer is, a few times, after a pause."""
    if cancel.is_set():
        raise DownloadCancelled()
    silence.check()
    if isinstance(error, httpx.ReadTimeout):
        return failures
    if failures >= limits.retries:
        raise error if isinstance(error, TransferError) else TransferError(f"the connection kept failing ({error})")
    _sleep(pause if pause is not None else limits.backoff_s * 2 ** failures, cancel)
    return failures + 1


def _sleep(seconds: float, cancel: threading.Event) -> None:
    if cancel.wait(min(seconds, 60.0)):
        raise DownloadCancelled()


def _stream_once(client: httpx.Client, url: str, partial: Path, size: int, cancel: threading.Event,
                 on_bytes: Callable[[int], None], silence: _Silence) -> None:
    start = _have(partial)
    request_headers = {"Range": f"bytes={start}-"} if start else {}
    with client.stream("GET", url, headers=request_headers) as response:
        _check_status(response, start)
        if start and response.status_code == 200:  # the server ignored the Range: start over
            start = 0
        with open(partial, "r+b" if start else "wb") as handle:
            handle.seek(start)
            handle.truncate()
            _copy_body(response, handle, size - start, cancel, on_bytes, silence, start)


def _check_status(response: httpx.Response, start: int) -> None:
    code = response.status_code
    if code in (200, 206):
        return
    if code in RETRYABLE_STATUS:
        raise _Retryable(TransferError(f"the server answered {code}", code), _retry_after(response))
    raise TransferError(f"the server answered {code} {response.reason_phrase}", code)


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers.get("Retry-After", "")))
    except ValueError:
        return None


def _copy_body(response: httpx.Response, handle, room: int, cancel: threading.Event,
               on_bytes: Callable[[int], None], silence: _Silence, start: int) -> None:
    written = 0
    for chunk in response.iter_raw():  # as the bytes arrive, each read waiting at most poll_s
        if cancel.is_set():
            raise DownloadCancelled()
        silence.heard()
        chunk = chunk[: room - written]  # never past the size the Hub lists, whatever the server sends
        handle.write(chunk)
        written += len(chunk)
        on_bytes(start + written)
        if written >= room:
            return
