"""The engine contract: the ``OcrEngine`` protocol and the plain data types that cross it.

The in-process engine (``glmocr_core.engine.Engine``), the GUI tests' fake and any remote backend satisfy
``OcrEngine``; the CLI and the GUI depend on it only. This module imports neither torch nor Qt, so the GUI can use it
without loading the model stack.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator, Protocol, runtime_checkable

if TYPE_CHECKING:
    from PIL import Image

TASKS = ("text", "formula", "table", "extract")

# Why a generation stopped.
STOP_EOS = "eos"
STOP_MAX_TOKENS = "max_tokens"
STOP_REPETITION = "repetition"
STOP_CANCELLED = "cancelled"


@dataclass
class SamplingOptions:
    """How the next token is chosen. The defaults are the official greedy decoding."""

    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    repetition_penalty: float = 1.0
    seed: int | None = None

    @property
    def plain_greedy(self) -> bool:
        return not self.do_sample and self.repetition_penalty == 1.0


@dataclass
class RecognizeOptions(SamplingOptions):
    """Per-request options. ``None`` means the task's default."""

    max_new_tokens: int | None = None
    repeat_guard: bool = True
    schema: str | None = None  # JSON template text for the "extract" task


@dataclass
class Timings:
    load_s: float = 0.0
    preprocess_s: float = 0.0
    first_token_s: float = 0.0  # preprocessed inputs -> first generated token
    decode_s: float = 0.0  # first token -> last token
    new_tokens: int = 0
    mtp_drafts: int = 0  # speculative decoding: drafts checked and drafts accepted
    mtp_accepted: int = 0

    @property
    def tokens_per_s(self) -> float:
        steps = self.new_tokens - 1
        return steps / self.decode_s if steps > 0 and self.decode_s > 0 else 0.0

    @property
    def mtp_acceptance(self) -> float:
        return self.mtp_accepted / self.mtp_drafts if self.mtp_drafts else 0.0


@dataclass
class TextDelta:
    """A piece of newly decoded text, streamed while the model generates."""

    text: str
    tokens: int = 0  # tokens generated so far for this region, this piece included; 0 where a backend cannot say


@dataclass
class OcrResult:
    task: str
    text: str
    parsed: Any = None  # task-specific: LaTeX string, TableGrid, dict from JSON, or None
    parse_error: str | None = None
    token_ids: list[int] = field(default_factory=list)
    stop_reason: str = STOP_EOS
    prompt_tokens: int = 0
    image_grid_thw: list[int] = field(default_factory=list)
    timings: Timings = field(default_factory=Timings)


@dataclass
class RegionItem:
    """One region's streamed piece or final result in a batched recognition: ``item`` is a TextDelta or OcrResult."""

    index: int
    item: "TextDelta | OcrResult"


@dataclass
class EngineInfo:
    model_dir: str
    device: str
    dtype: str
    backend: str = "eager"
    threads: int = 1
    precision: str = "exact"
    parameters: int = 0
    mtp: bool = False  # speculative decoding with the checkpoint's MTP layer
    decode_step: str = "dynamic"  # "cuda-graph" when one-token steps replay a captured CUDA graph


Progress = Callable[[str, float], None]  # (stage shown to the user, fraction done 0..1)
Region = tuple[float, float, float, float]  # (x0, y0, x1, y1) in the image's pixels; None means the whole image


@runtime_checkable
class OcrEngine(Protocol):
    """What every engine offers. Load it with the implementation's ``load(model_dir, ..., progress=...)``; drive it
    from one worker thread at a time. Bad input raises ``errors.GlmOcrError`` subclasses with readable messages."""

    info: EngineInfo

    def recognize(self, image: Image.Image, task: str = "text", region: Region | None = None,
                  options: RecognizeOptions | None = None,
                  cancel: threading.Event | None = None) -> Iterator[TextDelta | OcrResult]:
        """Stream ``TextDelta`` pieces as the model writes, then exactly one ``OcrResult``. Setting ``cancel``
        ends the stream early with ``stop_reason == STOP_CANCELLED``."""
        ...

    def recognize_batch(self, image: Image.Image, regions: list[Region | None], task: str = "text",
                        options: RecognizeOptions | None = None, cancel: threading.Event | None = None,
                        stop_region: Callable[[int], bool] | None = None) -> Iterator[RegionItem]:
        """Several regions of one image at once: ``RegionItem``s with each region's deltas and, as soon as that
        region ends, its one ``OcrResult`` (greedy results equal one-by-one ``recognize`` runs). Every region is
        checked before anything is yielded. ``stop_region(index)`` returning True ends just that region."""
        ...

    def close(self) -> None:
        """Free the model; the engine cannot be used afterwards."""
        ...


class EngineLoader(Protocol):
    """How callers get an engine without naming its implementation (the GUI's worker thread calls it)."""

    def __call__(self, model_dir: str, *, progress: Progress | None = None, **options: Any) -> OcrEngine: ...
