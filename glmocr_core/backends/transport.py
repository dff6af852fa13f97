"""HTTP to one or more endpoints with httpx: rotation, retries with jittered back-off that honour Retry-After,
connect and read timeouts, the API key header, TLS verification, and readable errors.

A request is retried only while nothing of its reply has been read (a refused connection, a dropped keep-alive,
429/5xx): a reply that breaks half-way is reported, never silently restarted, because its first pieces have already
been shown.
"""

from __future__ import annotations

import email.utils
import itertools
import random
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import httpx

from ..errors import GlmOcrError
from .replies import error_message
from .settings import RemoteSettings

_ERROR_BODY_LIMIT = 64 * 1024  # read no more of an error reply than this


class RemoteError(GlmOcrError):
    """The server could not be reached, refused the request, or broke off its reply. ``status`` is the HTTP status
    when there was one."""

    def __init__(self, reason: str, url: str | None = None, status: int | None = None):
        super().__init__(reason, url)
        self.status = status


class Reply:
    """A streaming reply: its lines, with broken connections and silences turned into RemoteError."""

    def __init__(self, response: httpx.Response, url: str, read_timeout_s: float):
        self.response, self.url, self.read_timeout_s = response, url, read_timeout_s

    @property
    def is_json(self) -> bool:
        return self.response.headers.get("content-type", "").startswith("application/json")

    def lines(self) -> Iterator[str]:
        try:
            yield from self.response.iter_lines()
        except httpx.TimeoutException:
            raise RemoteError(f"the server went silent for {self.read_timeout_s:g} s in the middle of the reply "
                              "(read timeout); run the request again", self.url) from None
        except httpx.TransportError as exc:
            raise RemoteError(f"the connection broke in the middle of the reply ({_describe(exc)}); "
                              "run the request again", self.url) from None


class Transport:
    def __init__(self, settings: RemoteSettings, sleep: Callable[[float], None] = time.sleep,
                 rng: random.Random | None = None):
        self.settings = settings.checked()
        self._sleep, self._rng = sleep, rng or random.Random()
        self._endpoints = itertools.cycle(self.settings.urls)
        self._lock = threading.Lock()
        self._client = httpx.Client(timeout=self._timeout(), verify=self.settings.verify_tls,
                                    trust_env=self.settings.trust_env, headers=self._headers(),
                                    limits=httpx.Limits(max_connections=None,
                                                        max_keepalive_connections=self.settings.concurrency))

    def close(self) -> None:
        self._client.close()

    @contextmanager
    def post_stream(self, path: str, body: dict) -> Iterator[Reply]:
        """POST ``body`` to the next endpoint (retrying as the policy says) and keep the reply open while used."""
        response, url = self._open(path, body)
        try:
            yield Reply(response, url, self.settings.read_timeout_s)
        finally:
            response.close()  # mid-stream this closes the connection, which is how the server learns of a cancel

    def get_json(self, base: str, path: str) -> tuple[int, Any]:
        """One GET, no retries (health checks): (status, parsed JSON or None)."""
        url = base + path
        try:
            response = self._client.get(url)
        except httpx.TimeoutException:
            raise RemoteError(f"no answer within {self.settings.read_timeout_s:g} s (timeout)", url) from None
        except httpx.TransportError as exc:
            raise RemoteError(f"cannot connect ({_describe(exc)})", url) from None
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, None

    # ------------------------------------------------------------------------------------------------ retries

    def _open(self, path: str, body: dict) -> tuple[httpx.Response, str]:
        attempts = max(1, self.settings.retry.attempts)
        for attempt in range(attempts):
            url = self._next_endpoint() + path
            last = attempt + 1 == attempts
            response = self._send(url, body, last)
            if response is None:  # nothing reached the server
                self._sleep(self._backoff(attempt))
                continue
            if response.status_code < 400:
                return response, url
            delay = None if last else self._retry_delay(response, attempt)
            detail = _read_error(response)
            if delay is None:
                raise RemoteError(_describe_status(response.status_code, detail, attempt + 1), url,
                                  response.status_code)
            self._sleep(delay)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _send(self, url: str, body: dict, last: bool) -> httpx.Response | None:
        """The response, or None when the request never got an answer and another attempt may follow."""
        try:
            return self._client.send(self._client.build_request("POST", url, json=body), stream=True)
        except httpx.TimeoutException as exc:
            if isinstance(exc, httpx.ConnectTimeout) and not last:
                return None
            raise RemoteError(_timeout_message(exc, self.settings), url) from None
        except httpx.TransportError as exc:  # refused, reset, or a keep-alive the server had just closed
            if not last:
                return None
            raise RemoteError(f"cannot connect ({_describe(exc)})", url) from None

    def _retry_delay(self, response: httpx.Response, attempt: int) -> float | None:
        if response.status_code not in self.settings.retry.statuses:
            return None
        asked = retry_after_seconds(response.headers.get("retry-after"))
        if asked is None:
            return self._backoff(attempt)
        asked = min(asked, self.settings.retry.retry_after_max_s)
        return asked * self._rng.uniform(1.0, 1.1)  # never sooner than asked; spread a little

    def _backoff(self, attempt: int) -> float:
        policy = self.settings.retry
        ceiling = min(policy.backoff_max_s, policy.backoff_base_s * 2 ** attempt)
        return ceiling * self._rng.uniform(0.5, 1.0)

    def _next_endpoint(self) -> str:
        with self._lock:
            return next(self._endpoints)

    # ------------------------------------------------------------------------------------------------ setup

    def _timeout(self) -> httpx.Timeout:
        s = self.settings
        # pool=None: the engine's own semaphore bounds requests, so waiting for a pooled connection cannot starve
        return httpx.Timeout(connect=s.connect_timeout_s, read=s.read_timeout_s, write=s.read_timeout_s, pool=None)

    def _headers(self) -> dict[str, str]:
        headers = dict(self.settings.headers)
        if self.settings.api_key:
            headers["Authorization"] = f"Bearer {self.settings.api_key}"
        return headers


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds: a number of seconds or an HTTP date (RFC 9110); None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time()) if when is not None else None


def _read_error(response: httpx.Response) -> str:
    try:
        data = b""
        for chunk in response.iter_bytes():
            data += chunk
            if len(data) >= _ERROR_BODY_LIMIT:
                break
        return error_message(data[:_ERROR_BODY_LIMIT])
    except httpx.HTTPError:
        return "(the error reply could not be read)"
    finally:
        response.close()


def _describe_status(status: int, detail: str, attempts: int) -> str:
    if status in (401, 403):
        return f"the server refused the API key ({status}): {detail}; check the key"
    if status == 404:
        return f"not found (404): {detail}; check the URL and the model name"
    if status == 413:
        return f"the request is too large for the server (413): {detail}"
    if status == 429 or status >= 500:
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        return f"the server is busy or failing ({status}){tries}: {detail}"
    return f"the server refused the request ({status}): {detail}"


def _timeout_message(exc: httpx.TimeoutException, settings: RemoteSettings) -> str:
    if isinstance(exc, httpx.ConnectTimeout):
        return f"no connection within {settings.connect_timeout_s:g} s (connect timeout)"
    return f"the server did not answer within {settings.read_timeout_s:g} s (read timeout); it may be stalled"


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
