"""Extraction templates: named JSON skeletons for the Extract task, built in or saved by the user.

The user's are stored one per file as ``<user data dir>/templates/<name>.json``. The built-in ones (invoice,
receipt, ID card, business card) ship with the app in ``resources/templates/<name>.json``; they are read-only: a save
never writes there (a user template of the same name is listed as the user's own). Pure Python (no Qt).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from app.document.atomic import atomic_write_text
from app.paths import templates_dir
from app.resources_setup import builtin_templates_dir

_UNSAFE = re.compile(r"[^\w .()-]+", re.UNICODE)


@dataclass(frozen=True)
class TemplateEntry:
    """One template a menu lists: its name and whether it is one of the app's own (read-only) templates."""

    name: str
    builtin: bool = False


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
    """Save ``template_text`` (must be valid JSON) under ``name`` in the user's folder (never among the built-in
    ones, even under a built-in name); FileExistsError unless ``overwrite``."""
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
    return _read_json_text(_file_for(name, folder or templates_dir()))


def _read_json_text(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc.msg})") from exc
    return text


def builtin_templates(folder: Path | None = None) -> list[str]:
    """Names of the templates that ship with the app, as a menu lists them."""
    folder = folder or builtin_templates_dir()
    return sorted((p.stem for p in folder.glob("*.json")), key=str.lower) if folder.is_dir() else []


def load_builtin_template(name: str, folder: Path | None = None) -> str:
    """A built-in template's JSON text (FileNotFoundError for an unknown name)."""
    folder = folder or builtin_templates_dir()
    if name not in builtin_templates(folder):
        raise FileNotFoundError(f"no built-in template named {name!r}")
    return _read_json_text(folder / f"{name}.json")


def all_templates(folder: Path | None = None, builtin_folder: Path | None = None) -> list[TemplateEntry]:
    """The built-in templates, then the user's saved ones."""
    return ([TemplateEntry(name, builtin=True) for name in builtin_templates(builtin_folder)]
            + [TemplateEntry(name) for name in list_templates(folder)])


def load_entry(entry: TemplateEntry, folder: Path | None = None, builtin_folder: Path | None = None) -> str:
    return load_builtin_template(entry.name, builtin_folder) if entry.builtin else load_template(entry.name, folder)


def delete_template(name: str, folder: Path | None = None) -> None:
    _file_for(name, folder or templates_dir()).unlink(missing_ok=True)
