"""A fuzzing suite for the input paths: images, PDFs, model folders, session files, chat templates.

Each target mutates valid seeds with a fixed seed for a fixed time and checks that bad input only ever ends in the
project's own readable errors (InputError, ModelError, SessionError), never another exception. CI runs a short
budget; a longer run by hand: ``FUZZ_SECONDS=120 FUZZ_SEED=7 python -m pytest -q -s tests/fuzz``.
"""

from __future__ import annotations

import io
import json
import os
import random
import shutil
import time

import pymupdf
import pytest
from PIL import Image

from glmocr_core.checkpoint.check import check_model_dir
from glmocr_core.documents.document import document_from_bytes
from glmocr_core.errors import InputError, ModelError, UsageError
from glmocr_core.model.config import load_model_config, load_preprocessor_config
from glmocr_core.processing.tokenizer import GlmTokenizer
from glmocr_core.testing.images import drawn_image

from .mutations import json_text, mutate_bytes, mutate_json

SECONDS = float(os.environ.get("FUZZ_SECONDS", "3"))  # per target
SEED = int(os.environ.get("FUZZ_SEED", "20261201"))


def _fuzz(name: str, seeds: list, mutate, check) -> int:
    """Mutate seeds until the time is up; ``check`` must end in our errors only. Returns the inputs tried."""
    rng, tried, deadline = random.Random(f"{SEED}-{name}"), 0, time.monotonic() + SECONDS
    while time.monotonic() < deadline:
        sample = mutate(rng.choice(seeds), rng)
        try:
            check(sample)
        except (InputError, ModelError, UsageError):
            pass
        except Exception as exc:  # the finding: keep the input so it can be replayed
            pytest.fail(f"{name}: {type(exc).__name__}: {exc} on input {sample[:200]!r}")
        tried += 1
    print(f"fuzz {name}: {tried} inputs in {SECONDS:.0f} s, seed {SEED}")
    return tried


def _encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _image_seeds() -> list[bytes]:
    picture = drawn_image(64, 40, 1)
    frames = [drawn_image(48, 32, seed) for seed in range(3)]
    return [_encoded(picture, "PNG"), _encoded(picture, "JPEG"), _encoded(picture, "BMP"), _encoded(picture, "GIF"),
            _encoded(picture, "WEBP"), _encoded(frames[0], "TIFF", save_all=True, append_images=frames[1:]),
            _encoded(picture.convert("RGBA"), "PNG"), _encoded(picture.convert("I;16"), "TIFF")]


def _pdf_seed() -> bytes:
    document = pymupdf.open()
    page = document.new_page(width=160, height=120)
    page.insert_text((12, 40), "Invoice 2024-0117  x^2 + y^2", fontsize=9)
    page.insert_image(pymupdf.Rect(12, 60, 60, 100), stream=_encoded(drawn_image(32, 24, 2), "PNG"))
    page.draw_line((10, 110), (150, 110))
    return document.tobytes()


def _open_and_render(data: bytes) -> None:
    with document_from_bytes(data, "fuzzed") as document:
        for index in range(min(document.page_count, 3)):
            document.page_size(index)
            document.render(index, 0.25)


def test_images_and_pdfs_fail_only_with_input_errors():
    seeds = _image_seeds() + [_pdf_seed()]
    assert _fuzz("documents", seeds, mutate_bytes, _open_and_render) > 0


def _config_check(folder):
    def check(pair) -> None:
        name, text = pair
        (folder / name).write_text(text, encoding="utf-8")
        problems = check_model_dir(folder)  # never raises: it lists
        assert isinstance(problems, list)
        if name == "config.json":
            load_model_config(folder)
        else:
            load_preprocessor_config(folder)
    return check


def test_model_folder_files_fail_only_with_model_errors(tiny_checkpoint, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(tiny_checkpoint, folder)
    seeds = [(name, json.loads((folder / name).read_text())) for name in ("config.json", "preprocessor_config.json")]
    originals = {name: (folder / name).read_text() for name, _ in seeds}

    def mutate(seed, rng):
        name, value = seed
        for other, text in originals.items():  # one damaged file at a time
            (folder / other).write_text(text)
        return name, json_text(mutate_json(value, rng))

    assert _fuzz("model-folder", seeds, mutate, _config_check(folder)) > 0


def test_weight_headers_are_listed_as_problems_never_raised(tiny_checkpoint, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(tiny_checkpoint, folder)
    weights = (folder / "model.safetensors").read_bytes()
    head = weights[: 8 + int.from_bytes(weights[:8], "little") + 64]  # the header and the first tensor bytes

    def check(sample: bytes) -> None:
        (folder / "model.safetensors").write_bytes(sample + weights[len(head):])
        assert isinstance(check_model_dir(folder), list)

    assert _fuzz("weight-headers", [head], mutate_bytes, check) > 0


def test_session_files_fail_only_with_session_errors(tmp_path):
    from app.document.model import DocumentSession, Region
    from app.document.session_file import SessionError, load_session, session_text

    session = DocumentSession(path=str(tmp_path / "page.png"), content_hash="ab" * 32, kind="image", page_count=1,
                              name="page.png", regions=[Region(id="r1", page=0, box=(1.0, 2.0, 30.0, 40.0))])
    valid = session_text(session)
    target = tmp_path / "fuzzed.glmocr-session"

    def mutate(seed, rng):
        if rng.random() < 0.5:
            return json_text(mutate_json(json.loads(seed), rng)).encode()
        return mutate_bytes(seed.encode(), rng)

    def check(sample: bytes) -> None:
        target.write_bytes(sample)
        try:
            load_session(target)
        except SessionError:
            pass

    assert _fuzz("session-files", [valid], mutate, check) > 0


def test_chat_templates_fail_only_with_model_errors(synthetic_tokenizer_dir):
    from tokenizers import Tokenizer

    from glmocr_core.processing.chat_template import bundled_chat_template

    tokenizer = Tokenizer.from_file(str(synthetic_tokenizer_dir / "tokenizer.json"))
    template = bundled_chat_template()

    def mutate(seed: str, rng) -> str:
        return mutate_bytes(seed.encode(), rng).decode("utf-8", errors="replace")

    def check(sample: str) -> None:
        GlmTokenizer(tokenizer, sample, template_source="fuzzed template").encode_prompt("Text Recognition:", [4])

    assert _fuzz("chat-templates", [template], mutate, check) > 0
