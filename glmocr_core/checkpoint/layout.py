"""The model folder's layout: which files a GLM-OCR checkpoint holds, the one reader of its shard index, and the
marker a verified download leaves. Plain files and JSON only (no torch, no Qt): the GUI calls this from any thread."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

CONFIG_FILE = "config.json"
PREPROCESSOR_FILE = "preprocessor_config.json"
GENERATION_FILE = "generation_config.json"
WEIGHTS_FILE = "model.safetensors"
WEIGHTS_INDEX_FILE = "model.safetensors.index.json"
VERIFIED_MARKER = ".glmocr-verified.json"
INCOMPLETE_SUFFIX = ".incomplete"
SHARD_NAME = re.compile(r"model-\d+-of-\d+\.safetensors")


@dataclass(frozen=True)
class ModelFile:
    name: str
    purpose: str
    # What may stand in for this file: another file name, or "file.json:key" for a key inside a JSON file.
    alternative: str | None = None


REQUIRED_FILES: tuple[ModelFile, ...] = (
    ModelFile("config.json", "model configuration"),
    ModelFile(WEIGHTS_FILE, "weights", alternative=WEIGHTS_INDEX_FILE),
    ModelFile("tokenizer.json", "tokenizer"),
    ModelFile("tokenizer_config.json", "tokenizer settings"),
    ModelFile("chat_template.jinja", "chat template", alternative="tokenizer_config.json:chat_template"),
    ModelFile(PREPROCESSOR_FILE, "image preprocessing settings"),
)
# Small files worth keeping next to the weights when the repo has them (the licence travels with the model).
# generation_config.json is optional in the wild (without it the model's own eos ids apply), but fetched when there.
OPTIONAL_DOWNLOADS = (GENERATION_FILE, "LICENSE", "README.md")
SMALL_JSON_FILES = ("tokenizer_config.json", PREPROCESSOR_FILE, GENERATION_FILE)


@dataclass(frozen=True)
class Problem:
    file: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.message}"


# ---------------------------------------------------------------------------------------------------------------
# Presence of files


def _alternative_present(folder: Path, alternative: str) -> bool:
    if ":" not in alternative:
        return (folder / alternative).is_file()
    file_name, key = alternative.split(":", 1)
    try:
        data = json.loads((folder / file_name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and bool(data.get(key))


def missing_files(folder: Path) -> list[Problem]:
    problems = []
    for item in REQUIRED_FILES:
        if (folder / item.name).is_file():
            continue
        if item.alternative and _alternative_present(folder, item.alternative):
            continue
        instead = f" (or {item.alternative.replace(':', ' with key ')})" if item.alternative else ""
        problems.append(Problem(item.name, f"missing: the {item.purpose} file{instead} is not in the folder"))
    return problems



def looks_like_checkpoint(folder: str | Path) -> bool:
    """Whether every required file (or its stand-in) is present: a quick check by file names only."""
    path = Path(folder)
    return path.is_dir() and not missing_files(path)


def read_weight_map(folder: Path) -> dict[str, str]:
    """Tensor name -> shard file name, from the sharded checkpoint's index. Raises ValueError (with the reason) when
    the index cannot be read or has no usable weight_map."""
    try:
        weight_map = json.loads((folder / WEIGHTS_INDEX_FILE).read_text(encoding="utf-8"))["weight_map"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"cannot read its weight_map ({exc})") from None
    if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
        raise ValueError("its weight_map is not an object of tensor names to file names")
    outside = sorted({v for v in weight_map.values() if not _plain_file_name(v)})
    if outside:
        raise ValueError(f"its weight_map names files outside the model folder: {', '.join(outside[:3])}")
    return weight_map


def _plain_file_name(name: str) -> bool:
    """A shard must be a file of the model folder itself: no folders, no "..", no absolute or drive paths."""
    return bool(name) and name not in (".", "..") and Path(name).name == name and "\\" not in name and ":" not in name


# Verified marker: what a finished download recorded about each file


def read_marker(folder: Path) -> dict | None:
    try:
        data = json.loads((folder / VERIFIED_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("files"), dict) else None

