"""A stand-in for glmocr_core.engine.Engine with exactly the contract's shape, for GUI tests.

It "recognizes" by streaming a scripted list of tokens (the same for every region, or per region through
``tokens_for``). ``recognize_batch`` follows the batch contract: every region is checked before anything is
yielded, deltas of all rows are interleaved step by step, and each row ends with exactly one OcrResult, equal to
what ``recognize`` gives for that region alone. Knobs let a test pause mid-stream (until cancelled or released),
raise, refuse chosen regions, or fail to load, so every worker path can be driven deterministically without torch.
"""

from __future__ import annotations

import threading

from glmocr_core.api import STOP_CANCELLED, STOP_EOS, EngineInfo, OcrResult, RegionItem, TextDelta, Timings
from glmocr_core.errors import InputError, ModelError

PAUSE_LIMIT_S = 20  # a paused fake never blocks a test run forever


class FakeEngine:
    def __init__(self, model_dir="fake-model", tokens=None, pause_after=None, error=None, token_delay_s=0.0,
                 tokens_for=None, refuse=None, results_at_end=True):
        self.info = EngineInfo(model_dir=str(model_dir), device="cpu", dtype="float32", parameters=1234)
        self.tokens = list(tokens) if tokens is not None else [f"tok{i} " for i in range(40)]
        self.pause_after = pause_after  # stop after this many tokens until cancelled or released
        self.release = threading.Event()
        self.paused = threading.Event()  # set while the stream waits at pause_after
        self.error = error  # an exception instance to raise from recognize
        self.token_delay_s = token_delay_s  # only for demos/screenshots; tests never depend on timing
        self.tokens_for = tokens_for  # region -> its token list (default: ``tokens`` for every region)
        self.refuse = refuse  # region -> True to raise InputError for it (a check only the engine knows)
        # Batch results: all after the last token (as glmocr_core's engine does today), or each as its row ends.
        self.results_at_end = results_at_end
        self.calls = []  # (image size, task, region) per recognize call
        self.batch_calls = []  # (image size, task, [regions]) per recognize_batch call
        self.ended = []  # how each stream that ran ended: "eos" or "cancelled"
        self.rows_stopped = []  # batch rows ended early through stop_region
        self.closed = False

    @classmethod
    def load(cls, model_dir, *, device="auto", dtype="auto", precision="exact", progress=None, **kwargs):
        if progress is not None:
            progress("Reading weights", 0.5)
            progress("Ready", 1.0)
        return cls(model_dir, **kwargs)

    def recognize(self, image, task="text", region=None, options=None, cancel=None):
        self.calls.append((image.size, task, region))
        if self.error is not None:
            raise self.error
        self._check(region)
        return self._stream(task, self._script(region), cancel or threading.Event())

    def recognize_batch(self, image, regions, task="text", options=None, cancel=None, stop_region=None):
        """A generator like the real one: the checks run on the first ``next()``, before any item."""
        regions = list(regions)
        self.batch_calls.append((image.size, task, regions))
        if self.error is not None:
            raise self.error
        for region in regions:
            self._check(region)
        yield from self._batch_stream(task, [self._script(r) for r in regions], cancel or threading.Event(),
                                      stop_region or (lambda index: False))

    def _check(self, region):
        if region is not None and (region[2] <= region[0] or region[3] <= region[1]):
            raise InputError(f"region {region} has no area")
        if self.refuse is not None and self.refuse(region):
            raise InputError(f"region {region} is refused by the fake engine")

    def _script(self, region):
        return list(self.tokens_for(region)) if self.tokens_for is not None else self.tokens

    def _stream(self, task, script, cancel):
        emitted = []
        for index, token in enumerate(script):
            if not self._step(index, cancel):
                self.ended.append(STOP_CANCELLED)
                return (yield self._result(task, emitted, STOP_CANCELLED))
            emitted.append(token)
            yield TextDelta(token)
        self.ended.append(STOP_EOS)
        yield self._result(task, emitted, STOP_EOS)

    def _batch_stream(self, task, scripts, cancel, stop_region):
        emitted = [[] for _ in scripts]
        ended = set()
        for index in range(max(map(len, scripts), default=0)):
            if not self._step(index, cancel):
                break
            for row, script in enumerate(scripts):
                if index < len(script) and row not in ended:
                    emitted[row].append(script[index])
                    yield RegionItem(row, TextDelta(script[index]))
                    if stop_region(row):  # like the real engine: the row leaves the batch with a cancelled result
                        ended.add(row)
                        self.rows_stopped.append(row)
                        yield RegionItem(row, self._result(task, emitted[row], STOP_CANCELLED))
            if not self.results_at_end:
                done_now = [row for row, script in enumerate(scripts)
                            if row not in ended and len(emitted[row]) == len(script)]
                ended.update(done_now)
                if len(ended) == len(scripts):
                    self.ended.append(STOP_EOS)
                for row in done_now:  # these rows are done; the others go on
                    yield RegionItem(row, self._result(task, emitted[row], STOP_EOS))
        if len(ended) == len(scripts):
            return
        self.ended.append(STOP_CANCELLED if cancel.is_set() else STOP_EOS)
        for row, script in enumerate(scripts):
            if row not in ended:
                finished = len(emitted[row]) == len(script)
                yield RegionItem(row, self._result(task, emitted[row], STOP_EOS if finished else STOP_CANCELLED))

    def _step(self, index, cancel) -> bool:
        """Pause or wait where the knobs say; False when the run is cancelled."""
        if index == self.pause_after:
            self.paused.set()
            self._wait_for(cancel)
        if self.token_delay_s:
            cancel.wait(self.token_delay_s)
        return not cancel.is_set()

    def _wait_for(self, cancel):
        for _ in range(PAUSE_LIMIT_S * 100):
            if cancel.wait(0.01) or self.release.is_set():
                return

    def _result(self, task, emitted, stop_reason):
        parsed = "".join(emitted) if task == "formula" else None
        timings = Timings(first_token_s=0.1, decode_s=max(len(emitted) - 1, 0) / 50.0, new_tokens=len(emitted))
        return OcrResult(task=task, text="".join(emitted), parsed=parsed, token_ids=list(range(len(emitted))),
                         stop_reason=stop_reason, timings=timings)

    def close(self):
        self.closed = True


class FakeFactory:
    """An engine factory for EngineHost that remembers the engine it made; can be told to fail loading."""

    def __init__(self, fail_with: str | None = None, **engine_kwargs):
        self.fail_with = fail_with
        self.engine_kwargs = engine_kwargs
        self.engine: FakeEngine | None = None

    def __call__(self, model_dir, *, progress=None, **load_options):
        if self.fail_with:
            raise ModelError(self.fail_with, model_dir)
        self.engine = FakeEngine.load(model_dir, progress=progress, **self.engine_kwargs)
        return self.engine
