"""The Starlette application of ``glmocr-studio serve``.

Routes: ``POST /v1/chat/completions`` (streaming and not), ``GET /v1/models``, ``GET /health`` (no key needed, for
load balancers and the SDK's start-up), ``POST /api/generate``, ``GET /api/tags`` and ``GET /api/version``
(Ollama's). Parsing and image decoding run off the event loop; the engine runs on the scheduler's worker thread;
the loop only moves bytes, so many connections can be open at once (the SDK holds one open while it checks another).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from contextlib import asynccontextmanager
from typing import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .. import __version__
from ..api import OcrResult, TextDelta
from .errors import ApiError, bad_request
from .request_bodies import ParsedRequest, parse_chat_request, parse_generate_request
from .responses import OWNER, ChatReply, GenerateReply, ndjson, sse
from .scheduler import BatchScheduler, Job, JobFailed
from .settings import ServeSettings

log = logging.getLogger(__name__)
KEEPALIVE = object()  # a pause in a stream: an SSE comment (or an empty Ollama piece) keeps clients' timers happy
_STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}  # no proxy may hold pieces back
_DRAIN_SLACK = 16 * 2**20  # how much of an oversized body is read (and dropped) so the 413 reaches the client


class _Channel:
    """Engine events of one request, carried from the scheduler's thread to the event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop, self.queue = loop, asyncio.Queue()

    def put(self, event: object) -> None:
        try:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, event)
        except RuntimeError:  # the loop has closed: nobody is listening any more
            pass

    async def events(self, keepalive_s: float | None) -> AsyncIterator[object]:
        while True:
            try:
                yield await asyncio.wait_for(self.queue.get(), keepalive_s)
            except asyncio.TimeoutError:
                yield KEEPALIVE


class _Handlers:
    def __init__(self, engine, settings: ServeSettings):
        self.settings, self.limits = settings, settings.limits
        self.scheduler = BatchScheduler(engine, settings.limits)
        self.started = int(time.time())
        self._decoding: asyncio.Semaphore | None = None  # made on the server's loop, at the first request

    # ---------------------------------------------------------------------------------------------- OpenAI

    async def chat_completions(self, request: Request) -> Response:
        self._authorize(request)
        parsed = await self._parse(request, parse_chat_request)
        channel, job = self._submit(parsed)
        reply = ChatReply(parsed.model, parsed.return_token_ids)
        if parsed.stream:
            return StreamingResponse(self._chat_stream(channel, job, reply, parsed.include_usage),
                                     media_type="text/event-stream", headers=_STREAM_HEADERS)
        return JSONResponse(reply.completion(await self._final(request, channel, job)))

    async def _chat_stream(self, channel: _Channel, job: Job, reply: ChatReply,
                           include_usage: bool) -> AsyncIterator[str]:
        try:
            yield sse(reply.chunk({"role": "assistant", "content": ""}))
            async for event in channel.events(self.limits.keepalive_s):
                if event is KEEPALIVE:
                    yield ": keep-alive\n\n"
                elif isinstance(event, TextDelta):
                    yield sse(reply.chunk({"content": event.text}))
                elif isinstance(event, OcrResult):
                    yield sse(reply.last_chunk(event))
                    if include_usage:
                        yield sse(reply.usage_chunk(event))
                    break
                else:
                    yield sse(event.error.openai_body())
                    break
            yield sse("[DONE]")
        finally:
            job.cancelled.set()  # a client that left mid-stream frees its row at the next token

    async def models(self, request: Request) -> Response:
        self._authorize(request)
        card = {"id": self.settings.served_model_name, "object": "model", "created": self.started, "owned_by": OWNER,
                "max_model_len": self.limits.max_tokens}
        return JSONResponse({"object": "list", "data": [card]})

    async def health(self, request: Request) -> Response:
        scheduler = self.scheduler
        return JSONResponse({"status": "ok", "model": self.settings.served_model_name,
                             "waiting": scheduler.waiting, "batches": scheduler.batches,
                             "requests": scheduler.requests, "largest_batch": scheduler.largest_batch})

    # ---------------------------------------------------------------------------------------------- Ollama

    async def generate(self, request: Request) -> Response:
        self._authorize(request)
        parsed = await self._parse(request, parse_generate_request)
        channel, job = self._submit(parsed)
        reply = GenerateReply(parsed.model, parsed.return_token_ids)
        if parsed.stream:
            return StreamingResponse(self._generate_stream(channel, job, reply), media_type="application/x-ndjson",
                                     headers=_STREAM_HEADERS)
        result = await self._final(request, channel, job)
        return JSONResponse(reply.final(result, result.text))

    async def _generate_stream(self, channel: _Channel, job: Job, reply: GenerateReply) -> AsyncIterator[str]:
        try:
            async for event in channel.events(self.limits.keepalive_s):
                if event is KEEPALIVE or isinstance(event, TextDelta):
                    yield ndjson(reply.piece(event.text if isinstance(event, TextDelta) else ""))
                elif isinstance(event, OcrResult):
                    yield ndjson(reply.final(event))
                    break
                else:
                    yield ndjson(event.error.ollama_body())
                    break
        finally:
            job.cancelled.set()

    async def tags(self, request: Request) -> Response:
        self._authorize(request)
        name = f"{self.settings.served_model_name}:latest"
        model = {"name": name, "model": name, "modified_at": "1970-01-01T00:00:00Z", "size": 0, "digest": "",
                 "details": {"format": "safetensors", "family": "glm-ocr"}}
        return JSONResponse({"models": [model]})

    async def version(self, request: Request) -> Response:
        return JSONResponse({"version": __version__})

    # ---------------------------------------------------------------------------------------------- shared

    def _authorize(self, request: Request) -> None:
        key = self.settings.api_key
        if not key:
            return
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), key.encode()):
            raise ApiError(401, 'invalid or missing API key; send the header "Authorization: Bearer KEY"',
                           kind="authentication_error", code="invalid_api_key",
                           headers={"WWW-Authenticate": "Bearer"})

    async def _parse(self, request: Request, parse) -> ParsedRequest:
        data = await read_body(request, self.limits.max_body_bytes)
        if self._decoding is None:
            self._decoding = asyncio.Semaphore(self.limits.max_parallel_decodes)
        async with self._decoding:
            # JSON and image decoding take real time for a big page: off the loop, so other connections keep moving
            return await asyncio.to_thread(lambda: parse(_json_object(data), self.settings))

    def _submit(self, parsed: ParsedRequest) -> tuple[_Channel, Job]:
        channel = _Channel(asyncio.get_running_loop())
        job = Job(parsed.item, channel.put)
        self.scheduler.submit(job)
        return channel, job

    async def _final(self, request: Request, channel: _Channel, job: Job) -> OcrResult:
        watcher = asyncio.ensure_future(_cancel_on_disconnect(request, job))
        try:
            async for event in channel.events(None):
                if isinstance(event, OcrResult):
                    return event
                if isinstance(event, JobFailed):
                    raise event.error
        finally:
            watcher.cancel()
            job.cancelled.set()
        raise AssertionError("unreachable: a job always ends with a result or a failure")


async def read_body(request: Request, limit: int) -> bytes:
    """The body, or a 413 when it is over ``limit`` (after reading some more of it, so the client, still sending,
    gets the answer instead of a reset connection)."""
    declared = request.headers.get("content-length", "")
    too_big = declared.isdigit() and int(declared) > limit
    body, seen = bytearray(), 0
    async for chunk in request.stream():
        seen += len(chunk)
        too_big = too_big or seen > limit
        if not too_big:
            body += chunk
        elif seen > limit + _DRAIN_SLACK:
            break
    if too_big:
        raise ApiError(413, f"the request body is larger than this server's {limit / 2**20:g} MiB limit",
                       code="body_too_large")
    return bytes(body)


def _json_object(data: bytes) -> dict:
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request(f"the body is not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise bad_request("the body must be a JSON object")
    return value


async def _cancel_on_disconnect(request: Request, job: Job) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass
    job.cancelled.set()


async def _api_error(request: Request, exc: ApiError) -> Response:
    body = exc.ollama_body() if request.url.path.startswith("/api/") else exc.openai_body()
    return JSONResponse(body, status_code=exc.status, headers=exc.headers)


async def _http_error(request: Request, exc: HTTPException) -> Response:
    message = {404: f"no such route: {request.method} {request.url.path}",
               405: f"{request.method} is not allowed on {request.url.path}"}.get(exc.status_code, str(exc.detail))
    return await _api_error(request, ApiError(exc.status_code, message, code=None))


async def _internal_error(request: Request, exc: Exception) -> Response:
    log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
    return await _api_error(request, ApiError(500, "internal server error; see the server log", kind="server_error"))


def create_app(engine, settings: ServeSettings) -> Starlette:
    """The application over an engine the caller owns (and closes): the engine's worker starts and stops with it."""
    handlers = _Handlers(engine, settings.checked())

    @asynccontextmanager
    async def lifespan(app: Starlette):
        handlers.scheduler.start()
        yield
        await asyncio.to_thread(handlers.scheduler.stop)  # uvicorn gets here once running requests are done

    routes = [Route("/v1/chat/completions", handlers.chat_completions, methods=["POST"]),
              Route("/v1/models", handlers.models, methods=["GET"]),
              Route("/health", handlers.health, methods=["GET"]),
              Route("/api/generate", handlers.generate, methods=["POST"]),
              Route("/api/tags", handlers.tags, methods=["GET"]),
              Route("/api/version", handlers.version, methods=["GET"])]
    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={ApiError: _api_error, HTTPException: _http_error, Exception: _internal_error})
    app.state.scheduler = handlers.scheduler
    return app
