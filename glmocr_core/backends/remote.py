"""``RemoteEngine``: the ``api.OcrEngine`` contract over HTTP.

``recognize`` sends one streaming request and yields its text as it arrives, then one ``OcrResult``;
``recognize_batch`` sends one request per region over a bounded pool and yields ``RegionItem``s as they arrive.
Setting ``cancel`` (or ``stop_region``) closes the stream at the next piece, which tells the server to stop.
When the server is ``glmocr-studio serve``, results carry the same token ids, text and stop reason as the
in-process engine; from other servers token ids are filled in when they return them (vLLM does) and the repetition
guard is theirs to apply (they have none).
"""

from __future__ import annotations

import base64
import io
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from PIL import Image

from ..api import STOP_CANCELLED, STOP_EOS, EngineInfo, OcrResult, Progress, RecognizeOptions, RegionItem, TextDelta, \
    Timings
from ..documents.pages import crop_region
from ..errors import UsageError
from ..processing.images import check_aspect_ratio, to_rgb
from ..tasks.parsing import parse_output
from ..tasks.specs import default_max_new_tokens, task_prompt
from . import ollama_generate, openai_chat
from .replies import FINISH_REASONS, ReplyPiece, RequestSpec, ServerReportedError, int_list
from .settings import RemoteSettings
from .transport import RemoteError, Transport

PROTOCOLS = {"openai": openai_chat, "ollama": ollama_generate}
_PNG_COMPRESSION = 1  # the pixels are what matter; a light level keeps encoding a big page fast


@dataclass
class Health:
    ok: bool
    message: str
    models: list[str] = field(default_factory=list)  # what the endpoints serve
    status: int | None = None  # the HTTP status of a refusing endpoint (401/403: the API key)


@dataclass
class _Job:
    task: str
    spec: RequestSpec
    preprocess_s: float


class _Collected:
    """A reply's pieces, summed up into the final OcrResult."""

    def __init__(self):
        self.texts: list[str] = []
        self.token_ids: list[int] = []
        self.finish_reason: str | None = None
        self.complete = self.cancelled = False
        self.prompt_tokens = self.completion_tokens = None
        self.extension: dict[str, Any] = {}
        self.first_s: float | None = None
        self.last_s = 0.0

    def add(self, piece: ReplyPiece, elapsed_s: float) -> None:
        if piece.text:
            self.texts.append(piece.text)
            self.first_s = elapsed_s if self.first_s is None else self.first_s
            self.last_s = elapsed_s
        self.token_ids += piece.token_ids
        self.finish_reason = piece.finish_reason or self.finish_reason
        self.complete = self.complete or piece.done or piece.finish_reason is not None
        self.prompt_tokens = piece.prompt_tokens if piece.prompt_tokens is not None else self.prompt_tokens
        self.completion_tokens = piece.completion_tokens if piece.completion_tokens is not None \
            else self.completion_tokens
        self.extension.update(piece.extension or {})

    def result(self, job: _Job) -> OcrResult:
        ext = self.extension
        text = ext["text"] if isinstance(ext.get("text"), str) else "".join(self.texts).strip()
        token_ids = int_list(ext.get("token_ids")) or self.token_ids
        parsed, error = parse_output(job.task, text)
        first = self.first_s or 0.0
        timings = Timings(preprocess_s=job.preprocess_s, first_token_s=first, decode_s=self.last_s - first,
                          new_tokens=len(token_ids) or self.completion_tokens or 0)
        return OcrResult(task=job.task, text=text, parsed=parsed, parse_error=error, token_ids=token_ids,
                         stop_reason=self._stop_reason(), prompt_tokens=self.prompt_tokens or 0,
                         image_grid_thw=int_list(ext.get("image_grid_thw")), timings=timings)

    def _stop_reason(self) -> str:
        if self.cancelled:
            return STOP_CANCELLED
        told = self.extension.get("stop_reason")
        return told if isinstance(told, str) else FINISH_REASONS.get(self.finish_reason or "", STOP_EOS)


class RemoteEngine:
    """An ``OcrEngine`` whose model runs on a server. Thread-safe: several threads may recognize at once; at most
    ``settings.concurrency`` requests are in flight."""

    def __init__(self, settings: RemoteSettings, transport: Transport | None = None):
        self.settings = settings.checked()
        self.protocol = PROTOCOLS[self.settings.kind]
        self.transport = transport or Transport(self.settings)
        self._slots = threading.BoundedSemaphore(self.settings.concurrency)
        self._pool = ThreadPoolExecutor(max_workers=self.settings.concurrency, thread_name_prefix="glmocr-remote")
        self.info = EngineInfo(model_dir=f"{self.settings.model_name} at {', '.join(self.settings.urls)}",
                               device="remote", dtype="unknown", backend=self.settings.kind,
                               threads=self.settings.concurrency, precision="remote")
        self.load_s = 0.0

    @classmethod
    def load(cls, url: str, *, progress: Progress | None = None, **settings: Any) -> "RemoteEngine":
        """The ``api.EngineLoader`` shape: ``url`` (comma-separated for several endpoints) and RemoteSettings
        fields. Nothing is sent: ``health()`` checks the connection."""
        urls = tuple(part for part in url.split(",") if part.strip())
        engine = cls(RemoteSettings(urls=urls, **settings))
        if progress is not None:
            progress("Ready", 1.0)
        return engine

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.transport.close()

    # ------------------------------------------------------------------------------------------------ recognize

    def recognize(self, image: Image.Image, task: str = "text", region=None, options: RecognizeOptions | None = None,
                  cancel: threading.Event | None = None) -> Iterator[TextDelta | OcrResult]:
        job = self._job(to_rgb(image), task, region, options or RecognizeOptions())
        yield from self._run(job, cancel.is_set if cancel is not None else None)

    def recognize_batch(self, image: Image.Image, regions: list, task: str = "text",
                        options: RecognizeOptions | None = None, cancel: threading.Event | None = None,
                        stop_region: Callable[[int], bool] | None = None) -> Iterator[RegionItem]:
        options, image = options or RecognizeOptions(), to_rgb(image)
        jobs = [self._job(image, task, region, options) for region in regions]  # every region checked first
        yield from self._fan_out(jobs, cancel, stop_region)

    def health(self) -> Health:
        """Ask every endpoint which models it serves (one try each; this also checks the API key)."""
        served: list[str] = []
        for base in self.settings.urls:
            status, body = self.transport.get_json(base, self.protocol.MODELS_PATH)
            if status in (401, 403):
                return Health(False, f"{base} refused the API key ({status}): check it", served, status)
            if status != 200:
                detail = body if body is not None else "(no details)"
                return Health(False, f"{base} answered {status}: {detail}", served, status)
            served += self.protocol.model_names(body)
        wanted = {self.settings.model_name, f"{self.settings.model_name}:latest"}
        if served and not wanted & set(served):
            return Health(False, f"the server does not serve {self.settings.model_name!r}; it serves: "
                                 + ", ".join(sorted(set(served))), served)
        return Health(True, f"{len(self.settings.urls)} endpoint(s) ready", served)

    # ------------------------------------------------------------------------------------------------ requests

    def _job(self, image: Image.Image, task: str, region, options: RecognizeOptions) -> _Job:
        """Everything checked and encoded before anything is sent, so bad input fails fast and locally."""
        started = time.perf_counter()
        prompt = task_prompt(task, options.schema)
        budget = options.max_new_tokens if options.max_new_tokens is not None else default_max_new_tokens(task)
        if budget < 1:
            raise UsageError(f"max_new_tokens must be at least 1, got {budget}")
        crop = crop_region(image, region) if region is not None else image
        check_aspect_ratio(crop.width, crop.height)
        mime, data = encode_image(crop, self.settings.image_format, self.settings.jpeg_quality)
        spec = RequestSpec(prompt, budget, options, data, mime, self.settings.model_name, options.repeat_guard)
        return _Job(task, spec, time.perf_counter() - started)

    def _run(self, job: _Job, should_stop: Callable[[], bool] | None) -> Iterator[TextDelta | OcrResult]:
        with self._slots:
            collected = _Collected()
            if should_stop is None or not should_stop():
                yield from self._stream(job, should_stop, collected)
            else:
                collected.cancelled = True
        yield collected.result(job)

    def _stream(self, job: _Job, should_stop, collected: _Collected) -> Iterator[TextDelta]:
        started = time.perf_counter()
        body = self.protocol.build_request(job.spec, stream=True)
        with self.transport.post_stream(self.protocol.PATH, body) as reply:
            for piece in self._pieces(reply):
                collected.add(piece, time.perf_counter() - started)
                if piece.text:
                    yield TextDelta(piece.text)
                if should_stop is not None and should_stop():
                    collected.cancelled = True
                    return
        if not collected.complete:
            raise RemoteError("the reply ended before it was complete; run the request again", reply.url)

    def _pieces(self, reply) -> Iterator[ReplyPiece]:
        try:
            if reply.is_json:  # a server that ignored "stream": one whole JSON reply
                reply.response.read()
                yield _whole_reply(self.protocol, reply.response.json())
                return
            yield from self.protocol.parse_stream(reply.lines())
        except ServerReportedError as exc:
            raise RemoteError(f"the server reported an error: {exc}", reply.url) from None
        except ValueError as exc:
            raise RemoteError(f"the reply is not valid JSON ({exc})", reply.url) from None

    def _fan_out(self, jobs: list[_Job], cancel: threading.Event | None,
                 stop_region: Callable[[int], bool] | None) -> Iterator[RegionItem]:
        events: queue.Queue = queue.Queue()
        stops = [threading.Event() for _ in jobs]
        for index, job in enumerate(jobs):
            self._pool.submit(self._pump, index, job, _either(cancel, stops[index]), events)
        try:
            remaining = len(jobs)
            while remaining:
                index, item = events.get()
                if isinstance(item, BaseException):
                    raise item
                remaining -= isinstance(item, OcrResult)
                if isinstance(item, TextDelta) and stop_region is not None and stop_region(index):
                    stops[index].set()
                yield RegionItem(index, item)
        finally:
            for stop in stops:  # finished, failed or abandoned: every open stream closes at its next piece
                stop.set()

    def _pump(self, index: int, job: _Job, should_stop: Callable[[], bool], events: queue.Queue) -> None:
        try:
            for item in self._run(job, should_stop):
                events.put((index, item))
        except BaseException as exc:  # handed to the consuming thread, which raises it
            events.put((index, exc))


def encode_image(image: Image.Image, image_format: str, jpeg_quality: int = 95) -> tuple[str, str]:
    """(MIME type, base64) of an RGB image: PNG keeps every pixel, JPEG is smaller."""
    buffer = io.BytesIO()
    if image_format == "jpeg":
        image.save(buffer, "JPEG", quality=jpeg_quality)
    else:
        image.save(buffer, "PNG", compress_level=_PNG_COMPRESSION)
    return f"image/{image_format}", base64.b64encode(buffer.getvalue()).decode("ascii")


def _whole_reply(protocol, body: Any) -> ReplyPiece:
    if not isinstance(body, dict):
        raise ServerReportedError("the reply is not a JSON object")
    return protocol.parse_completion(body) if protocol is openai_chat else protocol.parse_line(body)


def _either(cancel: threading.Event | None, stop: threading.Event) -> Callable[[], bool]:
    return lambda: stop.is_set() or (cancel is not None and cancel.is_set())
