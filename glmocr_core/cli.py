"""The ``glmocr-studio`` command line: ``ocr`` (batch OCR of images and PDF pages, plain text or JSON lines, with
the in-process engine or a remote server), ``convert`` (whole documents to Markdown and JSON: layout, then every
region with its task), ``layout`` (a page's regions as the layout model finds them), ``info``, and ``serve`` (the
model over HTTP for other machines).

``glmocr-studio`` without a subcommand opens the desktop window (``app.main``); the subcommands land here, and
``python -m glmocr_core`` runs them without the app installed. (``glmocr`` is the official SDK's command.)

Exit codes are a contract: 0 ok, 2 usage, 3 model error, 4 input error, 5 remote server error (130 when
interrupted). User errors print one clear line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

from . import __version__
from .api import TASKS, OcrResult, RecognizeOptions
from .backends.settings import BACKENDS, DEFAULT_MODEL_NAME, IMAGE_FORMATS
from .documents.pages import DEFAULT_DPI, MAX_DPI, MIN_DPI
from .errors import GlmOcrError, InputError, ModelError, UsageError
from .paths import (LAYOUT_MODEL_DIR_ENV, MODEL_DIR_ENV, default_layout_model_dir, default_model_dir,
                    layout_model_dir_from_env, model_dir_from_env)
from .runtime.devices import DEVICES, DTYPES, PRECISIONS

PROG = "glmocr-studio"
COMMANDS = ("ocr", "convert", "layout", "info", "serve")
EXIT_OK, EXIT_USAGE, EXIT_MODEL, EXIT_INPUT, EXIT_REMOTE, EXIT_OUTPUT, EXIT_INTERRUPTED = 0, 2, 3, 4, 5, 6, 130
MAX_SCHEMA_BYTES = 1 << 20  # a JSON template is a few hundred bytes; a megabyte is already absurd


class OutputError(Exception):
    """stdout refused a write: a full disk, or a reader that went away (``| head``)."""
API_KEY_ENV = "GLMOCR_STUDIO_API_KEY"  # the key for --backend openai/ollama and for serve, kept out of `ps`


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Local OCR with GLM-OCR: text, formulas, tables. "
                                     f"Without a command, {PROG} opens the desktop window.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    _add_ocr_command(commands)
    _add_convert_command(commands)
    _add_layout_command(commands)
    info = commands.add_parser("info", help="show the device, dtype, attention backend and threads that would be "
                                            "used, or check a remote server (--backend)")
    _add_device_options(info)
    info.add_argument("--model", help="model folder to check (default: the app's model folder)")
    info.add_argument("--layout-model", help="layout model folder to check (default: the app's layout model folder)")
    _add_remote_options(info)
    _add_serve_command(commands)
    return parser


def _add_ocr_command(commands) -> None:
    ocr = commands.add_parser("ocr", help="recognize images or PDF pages")
    ocr.add_argument("inputs", nargs="+", metavar="INPUT", help="image files and PDFs")
    ocr.add_argument("--model", help=f"model folder (default: ${MODEL_DIR_ENV} or the app's model folder)")
    ocr.add_argument("--task", choices=TASKS, default="text")
    ocr.add_argument("--schema", metavar="FILE", help="JSON template for --task extract")
    ocr.add_argument("--pages", metavar="RANGE", help="PDF/TIFF pages, e.g. 1-3,5 (default: all)")
    ocr.add_argument("--region", metavar="X0,Y0,X1,Y1", action="append",
                     help="crop box in page pixels (at --dpi for PDFs); repeat it to decode several regions of a "
                          "page as one batch")
    ocr.add_argument("--dpi", type=int, default=DEFAULT_DPI, help=f"PDF rendering resolution (default {DEFAULT_DPI})")
    ocr.add_argument("--max-new-tokens", type=int, metavar="N", help="token budget (default: per task)")
    _add_device_options(ocr)
    ocr.add_argument("--no-repeat-guard", action="store_true", help="do not stop generation on repetition loops")
    ocr.add_argument("--json", action="store_true", help="one JSON object per line and page")
    _add_remote_options(ocr)


def _add_convert_command(commands) -> None:
    convert = commands.add_parser("convert", help="convert whole documents to Markdown and JSON (the layout model "
                                                  "finds every region, GLM-OCR reads each with its task)")
    convert.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, PDFs and folders (searched "
                                                                    "recursively)")
    convert.add_argument("--out", metavar="DIR", default=".",
                         help="output folder: <name>.md, <name>.json, <name>_pictures/ per input, folders mirrored "
                              "(default: the current folder)")
    convert.add_argument("--pages", metavar="RANGE", help="pages, e.g. 1-3,5 (default: all)")
    convert.add_argument("--format", default="md,json", metavar="md,json",
                         help="outputs to write: md, json or both (default md,json)")
    convert.add_argument("--model", help=f"GLM-OCR model folder (default: ${MODEL_DIR_ENV} or the app's)")
    _add_layout_model_option(convert)
    convert.add_argument("--include-abandoned", action="store_true",
                         help="keep headers, footers, page numbers, footnotes and side notes (recognized as text)")
    convert.add_argument("--dpi", type=int, default=DEFAULT_DPI, help=f"PDF rendering resolution (default {DEFAULT_DPI})")
    convert.add_argument("--max-new-tokens", type=int, metavar="N", help="token budget per region (default: per task)")
    convert.add_argument("--max-batch", type=int, default=8, metavar="N",
                         help="regions of one task decoded together at most (default 8)")
    convert.add_argument("--html-tables", action="store_true",
                         help="keep every table as HTML (default: tables without merged cells become Markdown)")
    convert.add_argument("--no-resume", dest="resume", action="store_false",
                         help="convert every page again, even those an earlier run finished")
    convert.add_argument("--no-repeat-guard", action="store_true", help="do not stop generation on repetition loops")
    _add_device_options(convert)
    convert.add_argument("--fast-layout", action="store_true",
                         help="fold the layout model's batch norms (about 1.5x faster on CPU, not bit-exact)")


def _add_layout_command(commands) -> None:
    layout = commands.add_parser("layout", help="show the regions the layout model finds on images or PDF pages")
    layout.add_argument("inputs", nargs="+", metavar="IMAGE", help="image files and PDFs")
    _add_layout_model_option(layout)
    layout.add_argument("--pages", metavar="RANGE", help="PDF/TIFF pages, e.g. 1-3,5 (default: all)")
    layout.add_argument("--dpi", type=int, default=DEFAULT_DPI, help=f"PDF rendering resolution (default {DEFAULT_DPI})")
    layout.add_argument("--threshold", type=float, metavar="T",
                        help="score threshold (default: the SDK's 0.3; with --raw transformers' default 0.5)")
    layout.add_argument("--raw", action="store_true",
                        help="the detections as transformers' post_process_object_detection returns them "
                             "(no SDK merging, every label)")
    layout.add_argument("--include-abandoned", action="store_true",
                        help="keep headers, footers, page numbers ... (task \"abandon\")")
    layout.add_argument("--json", action="store_true", help="one JSON object per line and page")
    layout.add_argument("--device", choices=DEVICES, default="auto")
    layout.add_argument("--fast-layout", action="store_true", help="folded batch norms (faster, not bit-exact)")


def _add_layout_model_option(parser) -> None:
    parser.add_argument("--layout-model", metavar="DIR",
                        help=f"PP-DocLayoutV3 folder (default: ${LAYOUT_MODEL_DIR_ENV} or the app's layout model "
                             "folder)")


def _add_remote_options(parser) -> None:
    remote = parser.add_argument_group("remote server (see docs/remote-backends.md)")
    remote.add_argument("--backend", choices=BACKENDS, default="local",
                        help="local: the model on this machine; openai: an OpenAI-compatible server (vLLM, SGLang, "
                             "llama-server, glmocr-studio serve); ollama: Ollama's /api/generate")
    remote.add_argument("--url", action="append", metavar="URL",
                        help="the server's base URL; repeat it to use several servers in rotation (default "
                             "http://127.0.0.1:8080, for Ollama http://127.0.0.1:11434)")
    remote.add_argument("--api-key", metavar="KEY", help=f"sent as a Bearer token (default: ${API_KEY_ENV})")
    remote.add_argument("--model-name", default=DEFAULT_MODEL_NAME, metavar="NAME",
                        help=f"the name the server knows the model by (default {DEFAULT_MODEL_NAME})")
    remote.add_argument("--concurrency", type=int, default=4, metavar="N",
                        help="requests in flight at once; regions and pages fan out over them (default 4)")
    remote.add_argument("--image-format", choices=IMAGE_FORMATS, default="png",
                        help="png sends every pixel as is (default); jpeg is smaller and lossy")
    remote.add_argument("--timeout", type=float, default=120.0, metavar="S",
                        help="the longest silence allowed from the server (default 120)")
    remote.add_argument("--no-verify-tls", dest="verify_tls", action="store_false",
                        help="accept any TLS certificate (a self-signed one on your own network)")


def _add_serve_command(commands) -> None:
    serve = commands.add_parser("serve", help="serve the model over HTTP: OpenAI's /v1/chat/completions, "
                                              "/v1/models, /health and Ollama's /api/generate")
    serve.add_argument("--model", help=f"model folder (default: ${MODEL_DIR_ENV} or the app's model folder)")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1, this machine only; any other needs an API key)")
    serve.add_argument("--port", type=int, default=8080, help="port (default 8080, where the official SDK looks)")
    serve.add_argument("--api-key", metavar="KEY",
                       help=f"require the header 'Authorization: Bearer KEY' (default: ${API_KEY_ENV})")
    serve.add_argument("--served-model-name", default=DEFAULT_MODEL_NAME, metavar="NAME",
                       help=f"the model name clients send (default {DEFAULT_MODEL_NAME})")
    serve.add_argument("--max-batch", type=int, default=8, metavar="N",
                       help="concurrent requests decoded together as one batch (default 8)")
    serve.add_argument("--max-tokens", type=int, default=16384, metavar="N",
                       help="the largest max_tokens a request may ask for (default 16384)")
    _add_device_options(serve)


def _add_device_options(parser) -> None:
    parser.add_argument("--device", choices=DEVICES, default="auto")
    parser.add_argument("--dtype", choices=DTYPES, default="auto")
    parser.add_argument("--precision", choices=PRECISIONS, default="auto",
                        help="auto: fast on x86 CPUs where it meets the accuracy bar, else exact; bf16/fp16 on "
                             "GPUs (info says what it picks here); exact: fp32 everywhere (identical to the "
                             "reference); fast: int8 decoder weights in groups of 32 on CPUs (about 2x the decode "
                             "rate of exact, as accurate as the model authors' bf16)")
    parser.add_argument("--mtp", action="store_true",
                        help="speculative decoding with the model's MTP layer (same output, fewer passes)")
    parser.add_argument("--no-cuda-graphs", dest="cuda_graphs", action="store_false",
                        help="on CUDA, run every decode step eagerly instead of replaying a captured graph")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return {"ocr": run_ocr, "convert": run_convert, "layout": run_layout, "info": run_info,
                "serve": run_serve}[args.command](args)
    except GlmOcrError as exc:
        return _fail(exc, exit_code(exc))
    except OutputError as exc:
        return _output_failed(exc.__cause__)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def exit_code(exc: GlmOcrError) -> int:
    for kind, code in ((UsageError, EXIT_USAGE), (ModelError, EXIT_MODEL), (InputError, EXIT_INPUT)):
        if isinstance(exc, kind):
            return code
    return EXIT_REMOTE  # backends.transport.RemoteError, the only other kind


def _output_failed(cause: BaseException | None) -> int:
    """A reader that closed the pipe wanted no more (quietly); anything else is said once on stderr."""
    _silence_stdout()
    if not isinstance(cause, BrokenPipeError):
        print(f"{PROG}: error: cannot write the output ({getattr(cause, 'strerror', None) or cause})", file=sys.stderr)
    return EXIT_OUTPUT


def _silence_stdout() -> None:
    # Python flushes stdout again at exit; pointing it at devnull keeps that flush from raising a second time.
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def emit_line(text: str) -> None:
    """One line of results on stdout, flushed, so a consumer sees each result as it is ready."""
    try:
        print(text, flush=True)
    except OSError as exc:
        raise OutputError() from exc


def _fail(exc: GlmOcrError, code: int) -> int:
    print(f"{PROG}: error: {exc}", file=sys.stderr)
    return code


def _model_dir(arg: str | None) -> Path:
    return Path(arg) if arg else model_dir_from_env() or default_model_dir()


def _layout_model_dir(arg: str | None) -> Path:
    return Path(arg) if arg else layout_model_dir_from_env() or default_layout_model_dir()


def _check_dpi(dpi: int) -> None:
    if dpi < MIN_DPI or dpi > MAX_DPI:
        raise UsageError(f"--dpi must be between {MIN_DPI} and {MAX_DPI}, got {dpi}")


# ------------------------------------------------------------------------------------------------------------ ocr


def run_ocr(args) -> int:
    from .documents.pages import parse_region_arg

    _check_dpi(args.dpi)
    regions = [parse_region_arg(text) for text in args.region] if args.region else [None]
    options = RecognizeOptions(max_new_tokens=args.max_new_tokens, repeat_guard=not args.no_repeat_guard,
                               schema=_read_schema(args))
    engine = _open_engine(args)
    failed = False
    try:
        for source in args.inputs:
            try:
                _ocr_document(engine, source, regions, options, args)
            except InputError as exc:
                _fail(exc, EXIT_INPUT)
                failed = True  # go on with the other inputs; the exit code still reports the failure
    finally:
        engine.close()
    return EXIT_INPUT if failed else EXIT_OK


def _read_schema(args) -> str | None:
    if args.task == "extract" and not args.schema:
        raise UsageError("--task extract needs --schema FILE (a JSON template of the fields to fill in)")
    if not args.schema:
        return None
    return read_schema(Path(args.schema))


def read_schema(path: Path) -> str:
    """The JSON template's text: a regular file (a FIFO or a device could block or never end) of bounded size."""
    if not path.is_file():
        raise InputError("the schema is not a regular file" if path.exists() else "no such file", path)
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_SCHEMA_BYTES + 1)
    except OSError as exc:
        raise InputError(f"cannot read the schema: {exc.strerror or exc}", path) from None
    if len(data) > MAX_SCHEMA_BYTES:
        raise InputError(f"the schema is larger than {MAX_SCHEMA_BYTES // 1024} KiB; a JSON template is a few lines",
                         path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"the schema is not UTF-8 text ({exc.reason} at byte {exc.start})", path) from None


def _open_engine(args):
    return _load_engine(args) if args.backend == "local" else _remote_engine(args)


def _remote_engine(args):
    from .backends.remote import RemoteEngine
    from .backends.settings import RemoteSettings

    settings = RemoteSettings(kind=args.backend, urls=tuple(args.url or ()), api_key=_api_key(args),
                              model_name=args.model_name, image_format=args.image_format,
                              concurrency=args.concurrency, read_timeout_s=args.timeout, verify_tls=args.verify_tls)
    return RemoteEngine(settings)


def _api_key(args) -> str | None:
    return args.api_key or os.environ.get(API_KEY_ENV) or None


def _load_engine(args):
    from .engine import Engine

    def progress(stage: str, fraction: float) -> None:
        print(f"{PROG}: {stage} ({fraction:.0%})", file=sys.stderr)

    return Engine.load(_model_dir(args.model), device=args.device, dtype=args.dtype, precision=args.precision,
                       mtp=args.mtp, cuda_graphs=args.cuda_graphs, progress=progress)


def _ocr_document(engine, source: str, regions: list, options: RecognizeOptions, args) -> None:
    from .documents.document import open_document
    from .documents.pages import parse_page_range

    with open_document(source) as document:
        pages = parse_page_range(args.pages, document.page_count, source)
        images = ((index, render_page(document, index, args.dpi, source)) for index in pages)
        workers = 1 if args.backend == "local" else args.concurrency
        for index, results in _in_page_order(images, lambda image: _recognize(engine, image, args.task, regions,
                                                                               options), workers):
            for region, result in zip(regions, results):
                _emit(result, source, index + 1, region, args.json, document.page_count)


SLOW_PAGE_NOTICE_S = 2.0  # a page that takes longer to render is announced, so a long wait is never silent


def render_page(document, index: int, dpi: int, source: str):
    """The page's OCR image, rendered on a helper thread (see ``render_for_ocr``)."""
    return render_for_ocr(document, index, dpi, source)[0]


def render_for_ocr(document, index: int, dpi: int, source: str | None = None):
    """``document.ocr_image(index, dpi)`` (image, scale) on a helper thread: MuPDF cannot be interrupted inside a
    page, but the main thread waits in short steps, so Ctrl-C ends the run within a fraction of a second even on a
    page of millions of vector operations (the render thread is a daemon and goes with the process)."""
    source = source or document.source
    outcome: dict = {}

    def work() -> None:
        try:
            outcome["image"] = document.ocr_image(index, dpi=dpi)
        except BaseException as exc:  # handed to the main thread as it is
            outcome["error"] = exc

    worker = threading.Thread(target=work, name="render-page", daemon=True)
    worker.start()
    worker.join(SLOW_PAGE_NOTICE_S)
    if worker.is_alive():
        print(f"{PROG}: {source} page {index + 1} is slow to render (a very complex page); Ctrl-C stops",
              file=sys.stderr, flush=True)
    while worker.is_alive():
        worker.join(0.2)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["image"]


def _in_page_order(images, recognize, workers: int):
    """(page index, results) in page order. With workers > 1 (a remote server) that many pages are in flight at
    once; pages are rendered only as they are sent, so a long PDF never sits in memory whole."""
    if workers <= 1:
        for index, image in images:
            yield index, recognize(image)
        return
    pool, window = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="glmocr-pages"), deque()
    try:
        for index, image in images:
            window.append((index, pool.submit(recognize, image)))
            if len(window) >= workers:
                done, future = window.popleft()
                yield done, future.result()
        while window:
            done, future = window.popleft()
            yield done, future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _recognize(engine, image, task, regions: list, options) -> list[OcrResult]:
    """Final results in region order: one region streams through ``recognize``, several decode as a batch."""
    if len(regions) == 1:
        return [item for item in engine.recognize(image, task, region=regions[0], options=options)
                if isinstance(item, OcrResult)]
    results = {}
    for entry in engine.recognize_batch(image, regions, task, options):
        if isinstance(entry.item, OcrResult):
            results[entry.index] = entry.item
    return [results[index] for index in range(len(regions))]


def _emit(result: OcrResult, source: str, page: int, region, as_json: bool, page_count: int) -> None:
    t = result.timings
    print(f"{PROG}: {source} page {page}/{page_count}: {t.new_tokens} tokens, {t.tokens_per_s:.1f} tok/s, "
          f"stop: {result.stop_reason}", file=sys.stderr)
    if result.parse_error:
        print(f"{PROG}: warning: {source} page {page}: {result.parse_error}", file=sys.stderr)
    if as_json:
        emit_line(json.dumps(result_record(result, source, page, region), ensure_ascii=False))
    else:
        emit_line(result.text)


def result_record(result: OcrResult, source: str, page: int, region) -> dict:
    parsed = result.parsed.to_dict() if hasattr(result.parsed, "to_dict") else result.parsed
    return {"source": source, "page": page, "region": list(region) if region else None, "task": result.task,
            "text": result.text, "parsed": parsed, "parse_error": result.parse_error,
            "token_ids": result.token_ids, "stop_reason": result.stop_reason,
            "prompt_tokens": result.prompt_tokens, "image_grid_thw": result.image_grid_thw,
            "timings": asdict(result.timings)}


# -------------------------------------------------------------------------------------------------------- convert


def run_convert(args) -> int:
    from .convert.converter import ConvertSettings

    _check_dpi(args.dpi)
    settings = ConvertSettings(dpi=args.dpi, include_abandoned=args.include_abandoned, formats=_formats(args.format),
                               options=RecognizeOptions(max_new_tokens=args.max_new_tokens,
                                                        repeat_guard=not args.no_repeat_guard),
                               max_batch=args.max_batch, tables_as_markdown=not args.html_tables,
                               resume=args.resume).checked()
    jobs, failed = conversion_jobs(args.inputs, Path(args.out))
    if not jobs:
        return EXIT_INPUT
    converter = _open_converter(args, settings)
    try:
        for job in jobs:
            try:
                _convert_one(converter, job, args.pages)
            except InputError as exc:
                _fail(exc, EXIT_INPUT)
                failed = True  # the other inputs go on; the exit code still says one failed
            except KeyboardInterrupt:
                print(f"{PROG}: stopped; the finished pages are kept in {job.out_dir}: run the same command again to "
                      "go on from there", file=sys.stderr, flush=True)
                raise
    finally:
        converter.engine.close()
    return EXIT_INPUT if failed else EXIT_OK


def _formats(text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(part.strip().lower() for part in text.split(",") if part.strip()))


class ConversionJob:
    """One input document and where its outputs go."""

    def __init__(self, path: Path, out_dir: Path, name: str):
        self.path, self.out_dir, self.name = path, out_dir, name


def conversion_jobs(inputs: list[str], out: Path) -> tuple[list[ConversionJob], bool]:
    """(documents to convert, whether an input was unusable). Folders are searched recursively for the formats the
    app opens; their documents' outputs mirror the folder's layout under ``out``. Two inputs that would write the
    same output name get -2, -3 ... appended."""
    from .documents.formats import SUPPORTED_SUFFIXES

    jobs, failed, taken = [], False, set()
    for text in inputs:
        path = Path(text)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES
                           and not _hidden_or_ours(p.relative_to(path), path))
            if not found:
                _fail(InputError("the folder holds no image or PDF", path), EXIT_INPUT)
                failed = True
            pairs = [(p, out / p.relative_to(path).parent) for p in found]
        elif path.is_file():
            pairs = [(path, out)]
        else:
            _fail(InputError("no such file or folder", path), EXIT_INPUT)
            failed, pairs = True, []
        for document, folder in pairs:
            name = _free_name(folder, document.stem, taken)
            jobs.append(ConversionJob(document, folder, name))
    return jobs, failed


def _hidden_or_ours(relative: Path, root: Path) -> bool:
    """Hidden files and folders, and what a conversion wrote (its resume folder, and a ``<name>_pictures`` folder
    beside a ``.glmocr-convert/<name>`` one), so converting a folder into itself never converts its own pictures."""
    from .convert.converter import PICTURES_SUFFIX
    from .convert.state import WORK_FOLDER

    folder = root
    for part in relative.parts:
        if part.startswith(".") or (part.endswith(PICTURES_SUFFIX) and
                                    (folder / WORK_FOLDER / part[: -len(PICTURES_SUFFIX)]).is_dir()):
            return True
        folder = folder / part
    return False


def _free_name(folder: Path, stem: str, taken: set) -> str:
    name, number = stem, 1
    while (folder, name) in taken:
        number += 1
        name = f"{stem}-{number}"
    taken.add((folder, name))
    return name


def _open_converter(args, settings):
    """The layout model first: a missing one fails at once, before the much larger GLM-OCR model loads."""
    from .convert.converter import DocumentConverter
    from .convert.loading import open_layout_detector

    detector = open_layout_detector(_layout_model_dir(args.layout_model), args.device, args.fast_layout)
    return DocumentConverter(_load_engine(args), detector, settings,
                             renderer=lambda document, index, dpi: render_for_ocr(document, index, dpi))


def _convert_one(converter, job: ConversionJob, pages: str | None) -> None:
    result = converter.convert(job.path, job.out_dir, pages=pages, name=job.name, progress=_print_progress)
    done = len(result.converted) + len(result.resumed)
    kept = f", {len(result.resumed)} from an earlier run" if result.resumed else ""
    written = ", ".join(str(path) for path in result.outputs.values())
    print(f"{PROG}: {job.path}: {done}/{len(result.pages)} pages{kept}; wrote {written}", file=sys.stderr, flush=True)


def _print_progress(event) -> None:
    where = f"{PROG}: {event.source} page {event.page} ({event.position}/{event.pages})"
    if event.kind == "layout":
        print(f"{where}: {event.regions} regions found", file=sys.stderr, flush=True)
    elif event.kind == "page_done":
        print(f"{where}: done", file=sys.stderr, flush=True)
    elif event.kind == "page_resumed":
        print(f"{where}: done in an earlier run, kept", file=sys.stderr, flush=True)
    elif event.kind == "region" and event.block is not None and event.block.error:
        print(f"{PROG}: warning: {event.source} page {event.page}: {event.block.label} region "
              f"{event.block.order}: {event.block.error}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------------------- layout


def run_layout(args) -> int:
    import dataclasses

    from .convert.loading import open_layout_detector

    _check_dpi(args.dpi)
    if args.threshold is not None and not 0.0 <= args.threshold <= 1.0:
        raise UsageError(f"--threshold must be between 0 and 1, got {args.threshold}")
    detector = open_layout_detector(_layout_model_dir(args.layout_model), args.device, args.fast_layout)
    if args.threshold is not None and not args.raw:
        detector.rules = dataclasses.replace(detector.rules, threshold=args.threshold)
    failed = False
    for source in args.inputs:
        try:
            _layout_document(detector, source, args)
        except InputError as exc:
            _fail(exc, EXIT_INPUT)
            failed = True
    return EXIT_INPUT if failed else EXIT_OK


def _layout_document(detector, source: str, args) -> None:
    from .documents.document import open_document
    from .documents.pages import parse_page_range

    with open_document(source) as document:
        for index in parse_page_range(args.pages, document.page_count, source):
            image = render_page(document, index, args.dpi, source)
            regions = _raw_regions(detector, image, args) if args.raw else _sdk_regions(detector, image, args)
            record = {"source": source, "page": index + 1, "width": image.width, "height": image.height,
                      "regions": regions}
            emit_line(json.dumps(record, ensure_ascii=False) if args.json else _layout_text(record))


def _sdk_regions(detector, image, args) -> list[dict]:
    from .convert.converter import detect_page

    return [{"label": r.label, "task": r.task, "score": r.score, "bbox": list(r.bbox), "order": r.order}
            for r in detect_page(detector, image, include_abandoned=args.include_abandoned)]


def _raw_regions(detector, image, args) -> list[dict]:
    """transformers' detections as they are: float boxes, every label, order_seq as the order."""
    from .layout.postprocess import task_of

    raw = detector.detect_raw(image, 0.5 if args.threshold is None else args.threshold)
    rows = zip(raw["labels"].tolist(), raw["scores"].tolist(), raw["boxes"].tolist(), raw["order_seq"].tolist())
    labels = detector.labels
    return [{"label": labels[cls] if cls < len(labels) else f"class_{cls}",
             "task": task_of(labels[cls], detector.rules) if cls < len(labels) else None,
             "score": score, "bbox": box, "order": order} for cls, score, box, order in rows]


def _layout_text(record: dict) -> str:
    lines = [f"{record['source']} page {record['page']} ({record['width']}x{record['height']} px): "
             f"{len(record['regions'])} regions"]
    for region in record["regions"]:
        box = ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in region["bbox"])
        lines.append(f"  {region['order']:>3}  {region['label']:<18} {region['task'] or '-':<8} "
                     f"{region['score']:.3f}  [{box}]")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------------------- info


def run_info(args) -> int:
    if args.backend != "local":
        return _remote_info(args)
    import torch

    from .checkpoint.check import check_model_dir
    from .model.attention import resolve_backend
    from .runtime.devices import list_devices, resolve_device, resolve_dtype, resolve_precision
    from .runtime.graphs import decode_step_mode

    device = resolve_device(args.device)
    precision = resolve_precision(args.precision, device)
    dtype = resolve_dtype(args.dtype, device, precision)
    folder = _model_dir(args.model)
    problems = check_model_dir(folder) if folder.exists() else None
    lines = [f"{PROG} {__version__}, torch {torch.__version__}",
             f"device: {device}", f"dtype: {str(dtype).replace('torch.', '')}",
             f"precision: {_precision_words(args.precision, precision)}",
             f"attention backend: {resolve_backend('auto', device)}",
             f"decode step: {decode_step_mode(device, args.cuda_graphs)}", f"threads: {torch.get_num_threads()}",
             f"model folder: {folder} ({_folder_status(problems)})", _layout_folder_line(args)]
    if device == "cpu":
        lines += _kernel_lines(folder if problems == [] else None, precision)
    lines.append("devices:")
    lines += [f"  {d.name}: {d.description}" + (f", {d.memory_bytes / 2**30:.1f} GiB" if d.memory_bytes else "")
              for d in list_devices()]
    emit_line("\n".join(lines))
    return EXIT_OK


def _precision_words(requested: str, resolved: str) -> str:
    """"auto → fast (why)" where auto chose on this device, else the precision and what it does."""
    from .runtime.devices import precision_summary

    if requested == "auto" and resolved != "auto":
        from .runtime.devices import auto_reason

        return f"auto → {resolved} ({auto_reason()}): {precision_summary(resolved)}"
    return f"{requested} ({precision_summary(requested)})"


def _kernel_lines(folder: Path | None, precision: str) -> list[str]:
    """The CPU kernels a model load runs (the cached measurements for this model and CPU, else the defaults)."""
    from .model.config import load_model_config
    from .runtime import kernel_choice, plane_rows
    from .runtime.quantize import fast_gemm_dtype

    cfg = load_model_config(folder) if folder is not None else None
    lines = kernel_choice.describe(cfg).summary_lines()
    if precision == "fast":
        lines.append(plane_rows.describe(cfg, fast_gemm_dtype()).summary_line())
    return lines


def _remote_info(args) -> int:
    engine = _remote_engine(args)
    try:
        health = engine.health()
    finally:
        engine.close()
    emit_line(f"{PROG} {__version__}\nbackend: {args.backend}\nservers: {', '.join(engine.settings.urls)}\n"
              f"model name: {args.model_name}\nserved models: {', '.join(health.models) or '(none listed)'}\n"
              f"status: {'ready' if health.ok else 'not ready'}: {health.message}")
    return EXIT_OK if health.ok else EXIT_REMOTE


def _layout_folder_line(args) -> str:
    from .layout.folder import layout_folder_state

    folder = _layout_model_dir(args.layout_model)
    state, problems = layout_folder_state(folder)
    return f"layout model folder: {folder} ({_folder_status(None if state == 'missing' else problems)})"


def _folder_status(problems) -> str:
    if problems is None:
        return "missing"
    return "ready" if not problems else f"{len(problems)} problem(s): " + "; ".join(str(p) for p in problems)


# ---------------------------------------------------------------------------------------------------------- serve


def run_serve(args) -> int:
    from .server.runner import serve_forever
    from .server.settings import ServeSettings, ServerLimits

    limits = ServerLimits(max_batch=args.max_batch, max_tokens=args.max_tokens,
                          max_batch_tokens=max(ServerLimits.max_batch_tokens, args.max_tokens))
    settings = ServeSettings(host=args.host, port=args.port, api_key=_api_key(args),
                             served_model_name=args.served_model_name, limits=limits).checked()  # before loading
    engine = _load_engine(args)
    print(f"{PROG}: serving {settings.served_model_name} at http://{args.host}:{args.port} "
          f"(/v1/chat/completions, /api/generate{', API key required' if settings.api_key else ''}); "
          "Ctrl+C stops after the running requests", file=sys.stderr, flush=True)
    try:
        serve_forever(engine, settings)
    finally:
        engine.close()
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
