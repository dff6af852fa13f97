"""Fixtures for the server and remote-backend tests: tiny checkpoints, engines, and our own serve running on a free
port of 127.0.0.1 (stopped at the end). No test talks to any other address."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from glmocr_core.engine import Engine
from glmocr_core.server.runner import ServerThread
from glmocr_core.server.settings import ServerLimits, ServeSettings
from glmocr_core.testing.checkpoints import (
    EOS_IDS,
    build_tiny_checkpoint,
    random_model,
    tiny_config,
    write_checkpoint,
)
from glmocr_core.testing.images import drawn_image

API_KEY = "team-key"
# The strict server's limits: small enough that a test can go over each of them cheaply.
STRICT_LIMITS = ServerLimits(max_body_bytes=256 * 1024, max_tokens=64, max_batch_tokens=512)


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory) -> Path:
    return build_tiny_checkpoint(tmp_path_factory.mktemp("serve-ckpt"), seed=0)


@pytest.fixture(scope="session")
def endless_checkpoint(tmp_path_factory) -> Path:
    """A tiny checkpoint that never picks a stop token, so a stream lasts exactly as many tokens as asked."""
    model = random_model(tiny_config(), seed=3)
    with torch.no_grad():
        model.lm_head.weight[EOS_IDS] = 0.0  # every other reachable row has a positive logit somewhere
    return write_checkpoint(model, tmp_path_factory.mktemp("endless-ckpt"))


@pytest.fixture(scope="session")
def local_engine(checkpoint) -> Engine:
    """The in-process reference; the servers have engines of their own (an engine serves one thread at a time)."""
    return Engine.load(checkpoint, device="cpu")


def start_server(checkpoint: Path, **settings) -> ServerThread:
    engine = Engine.load(checkpoint, device="cpu")
    return ServerThread(engine, ServeSettings(log_level="warning", **settings)).start()


@pytest.fixture(scope="session")
def server(checkpoint):
    """glmocr-studio serve with its default limits and no key."""
    running = start_server(checkpoint)
    yield running
    running.stop()


@pytest.fixture(scope="session")
def strict_server(checkpoint):
    """glmocr-studio serve with an API key and small limits."""
    running = start_server(checkpoint, api_key=API_KEY, limits=STRICT_LIMITS)
    yield running
    running.stop()


@pytest.fixture(scope="session")
def image() -> Image.Image:
    return drawn_image(300, 120, 0)
