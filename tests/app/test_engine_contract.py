"""The GUI tests' fake engine keeps the engine contract (``glmocr_core.api``): what the app is written against, so
a test that passes with the fake says something about the real engine too."""

import inspect

from glmocr_core.api import EngineLoader, OcrEngine
from glmocr_core.loader import load_engine

from fake_engine import FakeEngine, FakeFactory


def parameters(function) -> list[str]:
    return [name for name in inspect.signature(function).parameters if name != "self"]


def test_the_fake_engine_is_an_ocr_engine():
    assert isinstance(FakeEngine(), OcrEngine)


def test_the_fake_engine_takes_the_protocols_parameters_by_name():
    for method in ("recognize", "recognize_batch", "close"):
        assert parameters(getattr(FakeEngine, method)) == parameters(getattr(OcrEngine, method)), method


def call_shape(function) -> list[tuple[str, object]]:
    """(name, kind) of each parameter; a ``**options`` catch-all counts by its kind only."""
    shape = []
    for parameter in inspect.signature(function).parameters.values():
        if parameter.name != "self":
            name = "**" if parameter.kind is parameter.VAR_KEYWORD else parameter.name
            shape.append((name, parameter.kind))
    return shape


def test_the_fake_loader_is_called_like_the_real_one():
    expected = call_shape(EngineLoader.__call__)
    assert call_shape(FakeFactory.__call__) == expected == call_shape(load_engine)
