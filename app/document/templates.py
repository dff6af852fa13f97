"""Extraction templates: named JSON skeletons the user saves once and reuses for the Extract task.

Stored one per file as ``<user data dir>/templates/<name>.json``. Pure Python (no Qt).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from app.document.atomic import atomic_write_text
from app.paths import templates_dir

_UNSAFE = re.compile(r"[^\w .()-]+", re.UNICODE)


def template_from_data(data):
    """The JSON skeleton of a result: same keys and nesting, every value emptied (lists keep one example item)."""
    if isinstance(data, dict):
        return {key: template_from_data(value) for key, value in data.items()}
    if isinstance(data, list):
        return [template_from_data(data[0])] if data else []
    return ""


def _file_for(name: str, folder: Path) -> Path:
    clean = _UNSAFE.sub("_", name).strip(" ._")
    if not clean:
        raise ValueError(f"{name!r} cannot be used as a template name")
    return folder / f"{clean}.json"


def save_template(name: str, template_text: str, folder: Path | None = None, overwrite: bool = False) -> Path:
    """Save ``template_text`` (must be valid JSON) under ``name``; FileExistsError unless ``overwrite``."""
    data = json.loads(template_text)  # refuse to store something the model prompt cannot use
    folder = folder or templates_dir()
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    return atomic_write_text(_file_for(name, folder), text, overwrite=overwrite)


def list_templates(folder: Path | None = None) -> list[str]:
    folder = folder or templates_dir()
    return sorted((p.stem for p in folder.glob("*.json")), key=str.lower) if folder.is_dir() else []


def load_template(name: str, folder: Path | None = None) -> str:
    """The template's JSON text; raises FileNotFoundError or ValueError (not JSON) with the path."""
    path = _file_for(name, folder or templates_dir())
    text = path.read_text(encoding="utf-8")
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc.msg})") from exc
    return text


def delete_template(name: str, folder: Path | None = None) -> None:
    _file_for(name, folder or templates_dir()).unlink(missing_ok=True)
