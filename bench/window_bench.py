"""The window against the command line: decode rate and first-token time of one region, same checkpoint, same machine.

    python -m bench.window_bench [--size real|tiny] [--tokens 64] [--pairs 2] [--rounds 2] [--ui studio|text]

Each path runs in processes of its own, as it does for a user, taking turns (cli, window, window, cli, ...: ``--pairs``
of each) so that a neighbour's load on a shared machine falls on both alike:

- ``cli``: what ``glmocr-studio ocr`` does: the engine loaded and ``Engine.recognize`` iterated on the main thread of
  a process without Qt.
- ``window``: what a drawn region does: the real ``EngineHost``, whose ``EngineWorker`` loads the engine in its
  QThread, the queued signals, and the GUI's work per delta. ``--ui studio`` (default) is the whole window as
  ``app.main.build`` composes it (region controller, cards with finished results in their web views, page view;
  offscreen, or under Xvfb with ``QT_QPA_PLATFORM=xcb``), a request being a region added on an open image;
  ``--ui text`` is only the host with a shown text widget that takes each delta, as a card's stream view does.

Times are taken where a user sees them: from the request (``recognize`` called; the region added) to the first text
that arrives, then to the result; decode rate = tokens after the first / (result - first text). The engine's own
timings and the CPU each round cost (GUI thread, process, QtWebEngine's processes, the X server) are kept beside
them. Each process makes one warm-up request first (a process's first request pays for kernel choice and
allocation), reported apart. The random-weight checkpoint never picks a stop token, so every round decodes exactly
``--tokens`` tokens.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from . import checkpoint as ckpt
from . import inputs, machine

REPO = Path(__file__).resolve().parents[1]
PATHS = ("cli", "window")
UIS = ("studio", "text")
TASK = "text"
ANSWER_WAIT_S = 900.0
CARDS_SETTLE_S = 3.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.window_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=ckpt.SIZES, default="real")
    parser.add_argument("--tokens", type=int, default=64, help="tokens decoded per round (default 64)")
    parser.add_argument("--pairs", type=int, default=2, help="processes per path, taking turns (default 2)")
    parser.add_argument("--rounds", type=int, default=2, help="measured requests per process (default 2)")
    parser.add_argument("--ui", choices=UIS, default=UIS[0], help="the window's GUI side (default studio)")
    parser.add_argument("--cards", type=int, default=4,
                        help="finished Text results already on screen in --ui studio, each in its web view (default 4)")
    parser.add_argument("--delta-interval", type=float, default=None, metavar="S",
                        help="try another pace of the worker's text updates (default: the app's)")
    parser.add_argument("--gui-work-ms", type=float, default=0.0, metavar="MS",
                        help="extra Python work of the GUI thread per text update, as a heavier window does (painting "
                             "under Xvfb, many cards): shows what the pace and the switch interval protect against")
    parser.add_argument("--switch-interval", type=float, default=None, metavar="S",
                        help="try another interpreter switch interval in the window (default: the host's)")
    parser.add_argument("--precision", default="auto", help="the engine's precision, as the settings name it")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    parser.add_argument("--job", choices=PATHS, help=argparse.SUPPRESS)  # internal: one process of one path
    parser.add_argument("--checkpoint", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def options(tokens: int):
    from glmocr_core.api import RecognizeOptions

    # No repetition guard: random weights loop, and the guard would end a round before its token count.
    return RecognizeOptions(max_new_tokens=tokens, repeat_guard=False)


DISPLAY_SERVERS = ("Xvfb", "Xorg", "Xwayland")


ENGINE_THREAD = "glmocr-engine"  # the worker's QThread name (app.engine.host); its OpenMP helpers inherit it


class CpuMeter:
    """CPU seconds spent while a round ran: by the main thread (the GUI thread of the window; the decoding thread of
    the command line), by the window's engine threads (the worker and the OpenMP helpers it started), by the whole
    process, by its child processes (QtWebEngine's) and by a local X server (painting under Xvfb). They tell where
    the window's CPU goes, which wall times on a shared machine cannot."""

    def __init__(self):
        import psutil

        self.process = psutil.Process()
        self.display = display_server()
        self.start = self._read()

    def _read(self) -> tuple[float, ...]:
        threads = {t.id: t.user_time + t.system_time for t in self.process.threads()}
        engine = sum(cpu for tid, cpu in threads.items() if thread_name(tid) == ENGINE_THREAD)
        own = self.process.cpu_times()
        return (threads.get(self.process.pid, 0.0), engine, own.user + own.system,
                _cpu_of(self.process.children(recursive=True)), _cpu_of(self.display))

    def spent(self) -> dict:
        main, engine, process, children, display = (b - a for a, b in zip(self.start, self._read()))
        return {"main_thread_cpu_s": main, "engine_threads_cpu_s": engine, "process_cpu_s": process,
                "children_cpu_s": children, "display_cpu_s": display}


def thread_name(tid: int) -> str:
    """A thread's name as the OS keeps it (Linux); "" where it cannot be read."""
    try:
        return Path(f"/proc/self/task/{tid}/comm").read_text().strip()
    except OSError:
        return ""


def display_server() -> list:
    """The X server this window paints through, when it is a local one (Xvfb under xvfb-run); [] otherwise."""
    import psutil

    display = os.environ.get("DISPLAY", "")
    if os.environ.get("QT_QPA_PLATFORM", "xcb") != "xcb" or not display:
        return []
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        if process.info["name"] in DISPLAY_SERVERS and display in (process.info["cmdline"] or []):
            found.append(process)
    return found


def _cpu_of(processes) -> float:
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except Exception:  # noqa: BLE001 - a helper process that just ended
            pass
    return total


def round_record(path: str, requested: float, first_text: float | None, done: float, result, cpu: dict) -> dict:
    """One request as the caller saw it, with the engine's own timings and the CPU it cost beside them."""
    tokens = len(result.token_ids)
    first = first_text if first_text is not None else done
    decode_s = done - first
    return {"path": path, "first_token_s": first - requested,
            "decode_tok_s": (tokens - 1) / decode_s if decode_s > 0 else 0.0, "tokens": tokens,
            "engine_first_token_s": result.timings.preprocess_s + result.timings.first_token_s,
            "engine_decode_tok_s": result.timings.tokens_per_s, "token_ids": list(result.token_ids), **cpu}


# --- the command line's path -----------------------------------------------------------------------------------

def cli_round(engine, image, tokens: int) -> dict:
    """``glmocr-studio ocr``: the engine's stream read on the calling (main) thread."""
    from glmocr_core.api import OcrResult, TextDelta

    meter = CpuMeter()
    requested, first, result = time.perf_counter(), None, None
    for item in engine.recognize(image, TASK, options=options(tokens)):
        if isinstance(item, TextDelta) and first is None:
            first = time.perf_counter()
        elif isinstance(item, OcrResult):
            result = item
    return round_record("cli", requested, first, time.perf_counter(), result, meter.spent())


# --- the window's path -----------------------------------------------------------------------------------------

def busy_python(milliseconds: float) -> None:
    """Pure Python for a while, holding the GIL as a slot's layout code does."""
    until = time.perf_counter() + milliseconds / 1000
    while time.perf_counter() < until:
        sum(range(100))


class Stopwatch:
    """The GUI thread's view of the host's answers for one request: first delta, then the result."""

    def __init__(self, host, gui_work_ms: float = 0.0):
        self.gui_work_ms = gui_work_ms
        self.requested = self.first = self.done = None
        self.result = self.error = None
        host.text_delta.connect(self._on_delta)
        host.job_finished.connect(self._on_finished)
        host.job_failed.connect(self._on_failed)

    def start(self) -> None:
        self.requested, self.first, self.done, self.result, self.error = time.perf_counter(), None, None, None, None

    def _on_delta(self, region_id: str, text: str) -> None:
        if self.first is None:
            self.first = time.perf_counter()
        if self.gui_work_ms:
            busy_python(self.gui_work_ms)

    def _on_finished(self, region_id: str, result) -> None:
        self.done, self.result = time.perf_counter(), result

    def _on_failed(self, region_id: str, message: str) -> None:
        self.done, self.error = time.perf_counter(), message


class TextWindow:
    """``--ui text``: the host alone, its deltas appended to a shown text widget as a card's stream view does."""

    def __init__(self, loader, image_path: Path, tokens: int):
        from PySide6.QtWidgets import QPlainTextEdit

        from glmocr_core.documents.document import open_document

        from app.engine.host import EngineHost

        self.host, self.tokens = EngineHost(loader), tokens
        self.document, self.count = open_document(image_path), 0
        self.sink = QPlainTextEdit()
        self.sink.show()
        self.host.text_delta.connect(self._append)

    def load(self, folder: Path, load_options: dict) -> None:
        self.host.load_model(str(folder), **load_options)

    def request(self) -> None:
        from app.engine.worker import OcrJob

        self.count += 1
        self.host.submit(OcrJob(f"region-{self.count}", self.document, 0, None, task=TASK,
                                options=options(self.tokens)))

    def _append(self, region_id: str, text: str) -> None:
        cursor = self.sink.textCursor()
        cursor.movePosition(cursor.MoveOperation.End)
        cursor.insertText(text)
        self.sink.setTextCursor(cursor)
        self.sink.ensureCursorVisible()

    def close(self) -> None:
        self.host.shutdown()


class StudioWindow:
    """``--ui studio``: the whole window from ``app.main.build``; a request is a Text region over the open image."""

    def __init__(self, loader, image_path: Path, tokens: int, scratch: Path, cards: int):
        from app.main import boot, build
        from app.settings import Settings

        self.cards = cards
        settings = Settings(scratch / "settings.ini")
        for task in ("text", "formula", "table", "extract"):
            settings.set(f"max_new_tokens/{task}", tokens)
        settings.set("repeat_guard", False)
        settings.set("autosave_interval_s", 0)
        self.studio = build(settings, loader)
        self.host, self.image_path = self.studio.host, image_path
        self.boot = lambda: boot(self.studio, [])

    def load(self, folder: Path, load_options: dict) -> None:
        os.environ["GLMOCR_MODEL_DIR"] = str(folder)
        for name, value in load_options.items():
            self.studio.settings.set(name, value)
        self.boot()  # what a start does: the model loads, the window shows
        if not self.studio.documents.open_path(str(self.image_path)):
            raise RuntimeError(f"the window could not open {self.image_path}")
        self._finished_cards()

    def _finished_cards(self) -> None:
        """Results a user already has on screen: finished Text regions, each shown in its web view."""
        from app.document.model import DONE

        text = "A finished paragraph with a formula $E = mc^2$ and **bold** words. " * 4
        for number in range(self.cards):
            region = self.studio.regions.add_region(0, (0, 10 * number, 50, 10 * number + 8), task=TASK, run=False)
            region.state, region.text = DONE, text
            region.result = {"task": TASK, "text": text, "parsed": None, "parse_error": None, "stop_reason": "eos"}
        self.studio.regions.sync_views()
        settle(CARDS_SETTLE_S)  # their pages load and render before anything is measured

    def request(self) -> None:
        width, height = inputs.REGION_SIZE
        self.studio.regions.add_region(0, (0, 0, width, height), task=TASK, run=True)

    def close(self) -> None:
        self.studio.window.close()
        self.host.wait(10_000)


def start_qt(scratch: Path):
    """The QApplication as the app makes it (QtWebEngine first, the root sandbox rule, logs in ``scratch``)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["GLMOCR_DATA_DIR"] = str(scratch / "data")
    from app.webengine_env import prepare_webengine

    prepare_webengine()
    from app.main import create_application

    return create_application([sys.argv[0]])


def settle(seconds: float) -> None:
    """Run the event loop for a while."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def wait_for(signals, start) -> None:
    """Start something and run the event loop until one of ``signals`` comes: the GUI thread idles in the event
    loop exactly as the window's does. A signal that comes while ``start`` still runs (it may run a loop of its
    own) counts too."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop, heard = QEventLoop(), []

    def hear(*_) -> None:
        heard.append(True)
        loop.quit()

    for signal in signals:
        signal.connect(hear)
    QTimer.singleShot(int(ANSWER_WAIT_S * 1000), loop.quit)
    start()
    if not heard:
        loop.exec()
    for signal in signals:
        signal.disconnect(hear)


def window_round(window, watch: Stopwatch) -> dict:
    host, meter = window.host, CpuMeter()
    wait_for([host.job_finished, host.job_failed], lambda: (watch.start(), window.request()))
    if watch.result is None:
        raise RuntimeError(f"the window gave no result: {watch.error or 'timed out'}")
    return round_record("window", watch.requested, watch.first, watch.done, watch.result, meter.spent())


# --- one process of each path ---------------------------------------------------------------------------------

def load_options(args: argparse.Namespace) -> dict:
    return {} if args.precision == "auto" else {"precision": args.precision}


def run_cli(args: argparse.Namespace, folder: Path) -> dict:
    """A process like ``glmocr-studio ocr``: no Qt at all."""
    from PIL import Image

    from glmocr_core.loader import load_engine

    engine = load_engine(str(folder), **load_options(args))
    image = Image.open(image_file(args)).convert("RGB")
    warmup = cli_round(engine, image, args.tokens)
    rounds = [cli_round(engine, image, args.tokens) for _ in range(args.rounds)]
    return {"info": vars(engine.info), "warmup": warmup, "rounds": rounds}


def run_window(args: argparse.Namespace, folder: Path) -> dict:
    """A process like the window's: the host's worker loads the engine on its own thread."""
    from glmocr_core.loader import load_engine

    with tempfile.TemporaryDirectory(prefix="window-bench-", ignore_cleanup_errors=True) as scratch:
        application = start_qt(Path(scratch))
        window = (StudioWindow(load_engine, image_file(args), args.tokens, Path(scratch), args.cards)
                  if args.ui == "studio" else TextWindow(load_engine, image_file(args), args.tokens))
        if args.delta_interval is not None:
            window.host.worker.delta_interval_s = args.delta_interval
        if args.switch_interval is not None:
            sys.setswitchinterval(args.switch_interval)
        watch = Stopwatch(window.host, args.gui_work_ms)
        wait_for([window.host.model_ready, window.host.model_failed], lambda: window.load(folder, load_options(args)))
        if window.host.engine_info is None:
            raise RuntimeError("the window's engine did not load")
        warmup = window_round(window, watch)
        rounds = [window_round(window, watch) for _ in range(args.rounds)]
        info = vars(window.host.engine_info)
        window.close()
        application.processEvents()
    return {"info": info, "warmup": warmup, "rounds": rounds, "delta_interval_s": window.host.worker.delta_interval_s,
            "switch_interval_s": sys.getswitchinterval(), "qt_platform": application.platformName()}


def image_file(args: argparse.Namespace) -> Path:
    """The region both paths read, written once by the parent."""
    return args.out / "window-bench-region.png"


def run_job(args: argparse.Namespace) -> None:
    result = (run_cli if args.job == "cli" else run_window)(args, args.checkpoint)
    import torch

    result.update(path=args.job, torch_threads=torch.get_num_threads())
    args.result.write_text(json.dumps(result))


CHILD_FLAGS = ("tokens", "rounds", "ui", "cards", "delta_interval", "gui_work_ms", "switch_interval", "precision", "out")


def child_command(args: argparse.Namespace, path: str, folder: Path, result: Path) -> list[str]:
    command = [sys.executable, "-m", "bench.window_bench", "--job", path, "--checkpoint", str(folder),
               "--result", str(result)]
    for name in CHILD_FLAGS:
        value = getattr(args, name)
        if value is not None:
            command += [f"--{name.replace('_', '-')}", str(value)]
    return command


def measure(args: argparse.Namespace, folder: Path) -> dict:
    """``--pairs`` processes of each path, taking turns; every round of every process in one list."""
    import subprocess

    inputs.region_image().save(image_file(args))
    processes = []
    for pair in range(args.pairs):
        for path in (PATHS if pair % 2 == 0 else PATHS[::-1]):
            result = args.out / f"window-bench-{args.size}-{path}-{pair}.json"
            subprocess.run(child_command(args, path, folder, result), cwd=REPO, check=True)
            processes.append(json.loads(result.read_text()))
    window = next(p for p in processes if p["path"] == "window")
    return {"info": processes[0]["info"], "torch_threads": {p["path"]: p["torch_threads"] for p in processes},
            "rounds": [r for p in processes for r in p["rounds"]], "warmup": [p["warmup"] for p in processes],
            "delta_interval_s": window["delta_interval_s"], "switch_interval_s": window["switch_interval_s"],
            "qt_platform": window["qt_platform"], "processes": processes}


def summary(rounds: list[dict], warmup: list[dict]) -> dict:
    """Medians per path over its measured rounds, the warm-up apart, and the window-to-CLI figures the target is
    stated in."""
    rows = {}
    for path in PATHS:
        mine = [r for r in rounds if r["path"] == path]
        rows[path] = {"decode_tok_s": statistics.median(r["decode_tok_s"] for r in mine),
                      "first_token_s": statistics.median(r["first_token_s"] for r in mine),
                      "engine_decode_tok_s": statistics.median(r["engine_decode_tok_s"] for r in mine),
                      "engine_first_token_s": statistics.median(r["engine_first_token_s"] for r in mine),
                      "main_thread_ms_per_token": _per_token_ms(mine, "main_thread_cpu_s"),
                      "engine_threads_ms_per_token": _per_token_ms(mine, "engine_threads_cpu_s"),
                      "children_ms_per_token": _per_token_ms(mine, "children_cpu_s"),
                      "process_ms_per_token": _per_token_ms(mine, "process_cpu_s"),
                      "display_ms_per_token": _per_token_ms(mine, "display_cpu_s")}
    cli, window = rows["cli"], rows["window"]
    ids = {path: [r["token_ids"] for r in rounds if r["path"] == path] for path in PATHS}
    cold = {path: statistics.median(r["first_token_s"] for r in warmup if r["path"] == path) for path in PATHS}
    return {"rows": rows, "cold_first_token_s": cold,
            "decode_ratio": window["decode_tok_s"] / cli["decode_tok_s"] if cli["decode_tok_s"] else 0.0,
            "first_token_gap_s": window["first_token_s"] - cli["first_token_s"],
            "first_token_ratio": window["first_token_s"] / cli["first_token_s"] if cli["first_token_s"] else 0.0,
            "same_tokens": all(t == ids["cli"][0] for t in ids["cli"] + ids["window"])}


def _per_token_ms(rounds: list[dict], key: str) -> float:
    return 1000 * sum(r[key] for r in rounds) / max(1, sum(r["tokens"] for r in rounds))


def report(args: argparse.Namespace, described: dict, measured: dict, found: dict) -> str:
    info = measured["info"]
    flags = ", ".join(flag for flag, on in described["flags"].items() if on) or "none of " + \
        ", ".join(machine.RELEVANT_FLAGS)
    threads = ", ".join(f"{path} {count}" for path, count in measured["torch_threads"].items())
    lines = [f"machine: {described['cpu']}, {described['logical_cores']} logical cores ({flags}), "
             f"{described['memory_gib']} GiB; torch {described['torch']}, threads {threads}; "
             f"{described['git']}",
             f"engine: {info['device']} {info['dtype']} ({info['precision']}); {args.size} checkpoint, "
             f"{args.tokens} tokens, {args.pairs} processes x {args.rounds} rounds per path, window = --ui {args.ui}"
             f"{f' with {args.cards} finished cards' if args.ui == 'studio' else ''} on Qt's "
             f"{measured['qt_platform']}, text updates every {measured['delta_interval_s']} s, switch interval "
             f"{measured['switch_interval_s'] * 1000:g} ms, extra GUI work {args.gui_work_ms:g} ms per update",
             "", f"{'path':<8} {'decode tok/s':>13} {'first token s':>14} {'engine tok/s':>13} {'engine first s':>15} "
                 f"| CPU ms per token, prefill included: {'main thread':>11} {'engine':>7} {'process':>8} "
                 f"{'children':>9} {'X server':>9}"]
    for path, row in found["rows"].items():
        lines.append(f"{path:<8} {row['decode_tok_s']:>13.2f} {row['first_token_s']:>14.3f} "
                     f"{row['engine_decode_tok_s']:>13.2f} {row['engine_first_token_s']:>15.3f} "
                     f"| {'':36}{row['main_thread_ms_per_token']:>11.2f} {row['engine_threads_ms_per_token']:>7.2f} "
                     f"{row['process_ms_per_token']:>8.2f} {row['children_ms_per_token']:>9.2f} "
                     f"{row['display_ms_per_token']:>9.2f}")
    lines += ["", f"window / CLI decode: {found['decode_ratio']:.2f}x (target >= 0.90)",
              f"window - CLI first token: {found['first_token_gap_s']:+.3f} s, {found['first_token_ratio']:.2f}x "
              "(target <= +0.100 s)",
              "each process's first request (warm-up, not above): first token " + ", ".join(
                  f"{path} {seconds:.3f} s" for path, seconds in found["cold_first_token_s"].items()),
              f"same tokens on every round of both paths: {'yes' if found['same_tokens'] else 'NO'}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.job:
        run_job(args)
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    folder = ckpt.ensure_checkpoint(args.size, args.out / f"ckpt-{args.size}")
    ckpt.warm_page_cache(folder)
    measured = measure(args, folder)
    found = summary(measured["rounds"], measured["warmup"])
    described = machine.describe(REPO)
    text = report(args, described, measured, found)
    result = {"machine": described, "args": {k: str(v) for k, v in vars(args).items()}, "summary": found,
              "measured": measured}
    (args.out / f"window-bench-{args.size}-{args.ui}.json").write_text(json.dumps(result, indent=1))
    print(text, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
