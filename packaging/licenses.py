"""The licences of everything an installer carries, as one file in the Debian ``copyright`` format.

Made fresh on every build from what is installed: the app's own licence (pyproject.toml), then each Python
distribution the app needs at run time (pyproject's dependencies and theirs, as installed), with its version, its
declared licence and the licence files its wheel ships, KaTeX (npm), and a note for the GLM-OCR model, which is
downloaded separately. The spec puts the file into every bundle (``licenses/copyright``); the .deb also installs it
as ``/usr/share/doc/glmocr-studio/copyright``.

Two components need more than their wheel gives. PySide6's wheels ship no licence text, and PyMuPDF's only a one-line
summary: the texts of the LGPL 3.0 (Qt and PySide6, with the GPL 3.0 it incorporates) and of the AGPL 3.0 (PyMuPDF
and the MuPDF library in it) are kept verbatim in ``packaging/licence-texts/`` (as the SPDX licence list has them).
For PyMuPDF the file also says where its complete corresponding source is, for the exact version shipped.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import metadata as dist_metadata
from pathlib import Path

import metadata

NOTICES_NAME = "copyright"
BUNDLE_FOLDER = "licenses"  # inside the bundle's _internal/ (sys._MEIPASS)
FORMAT_URL = "https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"
LICENCE_TEXTS = metadata.PACKAGING_DIR / "licence-texts"
LGPL_TEXT = LICENCE_TEXTS / "LGPL-3.0.txt"  # followed by the GPL 3.0 text, which the LGPL 3.0 incorporates
AGPL_TEXT = LICENCE_TEXTS / "AGPL-3.0.txt"
LICENSE_FILE = re.compile(r"(^|/)(licen[cs]es?/|(LICEN[CS]E|COPYING|NOTICE|AUTHORS)[^/]*$)", re.I)

# Where the source of a component is, when PyPI's page for the version is not the whole answer ({version} filled in).
SOURCES = {
    "torch": "https://github.com/pytorch/pytorch/tree/v{base}",
    "pymupdf": "https://github.com/pymupdf/PyMuPDF/releases/tag/{version} (PyMuPDF, with the MuPDF source it"
               " builds: https://mupdf.com/releases)",
    "pyside6": "https://download.qt.io/official_releases/QtForPython/pyside6/ (PySide6 {version})",
}
QT_SOURCE = "https://download.qt.io/official_releases/qt/ (the Qt release inside PySide6 {version})"
# Qt inside the PySide6 wheels: LGPL 3.0 for us (the wheels also offer GPL 2/3).
LGPL_DISTRIBUTIONS = {"pyside6", "pyside6-essentials", "pyside6-addons", "pyside6-webengine", "pyside6-pdf",
                      "shiboken6"}
AGPL_NOTICE = (
    "PyMuPDF {version} and the MuPDF library inside it are licensed under the GNU Affero General Public License 3.0"
    " (text below). This package uses them unmodified. Their complete corresponding source code is"
    " published by Artifex at {source}. On request the publisher of this package provides the same source code,"
    " for at least three years after this version was released.")
MIT_TEXT = """Copyright (c) {holder}

Permission is hereby granted, free of charge, to any person obtaining a copy of this software and associated
documentation files (the "Software"), to deal in the Software without restriction, including without limitation the
rights to use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies of the Software, and to
permit persons to whom the Software is furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or substantial portions of the
Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT LIMITED TO THE
WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR
COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR
OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE."""
MODEL_NOTE = ("The GLM-OCR model (zai-org/GLM-OCR on the Hugging Face Hub, MIT licence) is not part of this package:"
              " the app downloads it on first use, with its own licence file, into the user's model folder.")


@dataclass(frozen=True)
class Component:
    """One paragraph of the file: what, which version, under which licence, with which texts."""

    name: str
    version: str
    license: str
    files: tuple[str, ...]  # bundle folders it occupies
    source: str
    texts: tuple[tuple[str, str], ...]  # (title, licence text)
    comment: str = ""


def runtime_distributions(pyproject: Path = metadata.REPO_ROOT / "pyproject.toml") -> list[dist_metadata.Distribution]:
    """pyproject's run-time dependencies and everything they require, as installed here (extras left out)."""
    import tomllib

    with open(pyproject, "rb") as handle:
        pending = [_requirement_name(r) for r in tomllib.load(handle)["project"]["dependencies"]]
    found: dict[str, dist_metadata.Distribution] = {}
    while pending:
        name = _normal(pending.pop())
        if name in found:
            continue
        try:
            distribution = dist_metadata.distribution(name)
        except dist_metadata.PackageNotFoundError:
            continue  # a dependency for another platform (pywin32-ctypes on Linux)
        found[name] = distribution
        pending += [_requirement_name(r) for r in distribution.requires or [] if "extra ==" not in r]
    return [found[name] for name in sorted(found)]


def _requirement_name(requirement: str) -> str:
    return re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement).group(1)


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared_license(distribution: dist_metadata.Distribution) -> str:
    fields = distribution.metadata
    expression = fields.get("License-Expression")
    if expression:
        return expression
    short = (fields.get("License") or "").strip()
    if short and "\n" not in short and len(short) <= 80:
        return short
    classifiers = [c.rsplit(" :: ", 1)[-1] for c in fields.get_all("Classifier") or [] if c.startswith("License ::")]
    return " AND ".join(classifiers) or "see the licence text"


def licence_texts(distribution: dist_metadata.Distribution) -> list[tuple[str, str]]:
    texts = []
    for file in distribution.files or []:
        if ".dist-info/" in file.as_posix() + "/" and LICENSE_FILE.search(file.as_posix().split(".dist-info/", 1)[-1]):
            located = Path(file.locate())
            text = located.read_text(encoding="utf-8", errors="replace") if located.is_file() else ""
            if text.strip():
                texts.append((file.as_posix().split(".dist-info/", 1)[-1].removeprefix("licenses/"), text))
    return texts


def top_level_folders(distribution: dist_metadata.Distribution) -> tuple[str, ...]:
    tops = {file.parts[0] for file in distribution.files or [] if file.parts and file.parts[0] != ".."}
    return tuple(sorted(top for top in tops if not top.endswith((".dist-info", ".egg-info", ".data"))
                        and top not in ("__pycache__", "bin")))


def distribution_component(distribution: dist_metadata.Distribution) -> Component:
    name = _normal(distribution.metadata["Name"])
    version = distribution.version
    source = SOURCES.get(name, "https://pypi.org/project/{name}/{version}/#files").format(
        name=distribution.metadata["Name"], version=version, base=version.split("+")[0])
    texts = licence_texts(distribution)
    license_name, comment = declared_license(distribution), ""
    if name in LGPL_DISTRIBUTIONS:
        license_name, comment = "LGPL-3", "Used under the LGPL 3.0 (the wheels also offer GPL 2/3); texts: Qt 6."
    if name == "pymupdf":
        license_name, comment = "AGPL-3", AGPL_NOTICE.format(version=version, source=source)
        texts.append(("AGPL-3.0", AGPL_TEXT.read_text(encoding="utf-8")))
    return Component(name=f"{distribution.metadata['Name']} {version}", version=version, license=license_name,
                     files=top_level_folders(distribution), source=source, texts=tuple(texts), comment=comment)


def app_component() -> Component:
    return Component(name=f"{metadata.DISPLAY_NAME} {metadata.project_version()}", version=metadata.project_version(),
                     license=metadata.project_license(), files=("*",), source="the source release of this version",
                     texts=((metadata.project_license(), MIT_TEXT.format(holder=metadata.PUBLISHER)),))


def katex_component(repo: Path = metadata.REPO_ROOT) -> Component:
    lock = json.loads((repo / "package-lock.json").read_text(encoding="utf-8"))
    version = lock["packages"]["node_modules/katex"]["version"]
    licence = repo / "resources" / "web" / "katex" / "LICENSE"
    text = licence.read_text(encoding="utf-8") if licence.is_file() else "MIT: https://github.com/KaTeX/KaTeX"
    return Component(name=f"KaTeX {version}", version=version, license="MIT", files=("resources/web/katex",),
                     source=f"https://www.npmjs.com/package/katex/v/{version}", texts=(("KaTeX/LICENSE", text),))


def qt_component(pyside_version: str) -> Component:
    """Qt itself, inside the PySide6 wheels, with the LGPL 3.0 and GPL 3.0 texts (once for all the wheels)."""
    return Component(name=f"Qt 6 (PySide6 {pyside_version})", version=pyside_version, license="LGPL-3",
                     files=("PySide6/Qt",), source=QT_SOURCE.format(version=pyside_version),
                     texts=(("LGPL-3.0 and GPL-3.0", LGPL_TEXT.read_text(encoding="utf-8")),),
                     comment="Qt and PySide6 are linked dynamically: the libraries under PySide6/ may be replaced"
                             " with other builds of the same version.")


def components() -> list[Component]:
    distributions = runtime_distributions()
    parts = [app_component(), katex_component()] + [distribution_component(d) for d in distributions]
    pyside = [d.version for d in distributions if _normal(d.metadata["Name"]) in LGPL_DISTRIBUTIONS]
    return parts + ([qt_component(pyside[0])] if pyside else [])


def render(parts: list[Component]) -> str:
    header = [f"Format: {FORMAT_URL}", f"Upstream-Name: {metadata.GUI_NAME}",
              f"Comment: {metadata.DISPLAY_NAME} and the libraries its installers carry. {MODEL_NOTE}"]
    paragraphs = ["\n".join(header)]
    for part in parts:
        lines = [f"Files: {' '.join(_files_pattern(f) for f in part.files) or '(support files)'}",
                 f"Copyright: the {part.name.rsplit(' ', 1)[0]} authors", f"License: {part.license}",
                 f"Comment: {part.name}; source: {part.source}"]
        lines += [f" {line}" for line in _wrap(part.comment)] if part.comment else []
        paragraphs.append("\n".join(lines))
        paragraphs += [f"License: {part.license} ({title}, {part.name})\n{_indent(text)}" for title, text in part.texts]
    return "\n\n".join(paragraphs) + "\n"


def _files_pattern(folder: str) -> str:
    return folder if folder == "*" else f"*/{folder}/*"


def _indent(text: str) -> str:
    """A DEP-5 text field: each line after one space, empty lines as a lone dot."""
    return "\n".join(f" {line.rstrip()}" if line.strip() else " ." for line in text.strip("\n").splitlines())


def _wrap(text: str, width: int = 100) -> list[str]:
    lines, current = [], ""
    for word in text.split():
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}".strip()
    return lines + ([current] if current else [])


def write_notices(target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render(components()), encoding="utf-8")
    return target
