"""KaTeX setup: copies only what the app loads, is idempotent, and degrades to a warning without npm."""

import json
from pathlib import Path

from app import resources_setup
from app.resources_setup import KATEX_FILES, ensure_katex

REPO = Path(__file__).resolve().parents[2]


def fake_dist(root: Path) -> Path:
    dist = root / "node_modules" / "katex" / "dist"
    for name in KATEX_FILES + ("katex.js", "katex.mjs", "README.md"):
        (dist / name).parent.mkdir(parents=True, exist_ok=True)
        (dist / name).write_text(f"/* {name} */")
    (dist / "fonts").mkdir()
    for font in ("KaTeX_Main-Regular.woff2", "KaTeX_Main-Regular.woff", "KaTeX_Main-Regular.ttf"):
        (dist / "fonts" / font).write_bytes(b"font")
    return dist


def test_copies_script_styles_and_woff2_fonts_only(tmp_path, monkeypatch):
    fake_dist(tmp_path)
    monkeypatch.setattr(resources_setup.shutil, "which", lambda name: None)  # must not need npm when dist exists
    assert ensure_katex(quiet=True, root=tmp_path)
    target = tmp_path / "resources" / "web" / "katex"
    copied = sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file())
    assert copied == sorted(list(KATEX_FILES) + ["fonts/KaTeX_Main-Regular.woff2"])
    assert not (target.parent / "katex.tmp").exists()


def test_second_run_is_a_no_op(tmp_path, monkeypatch):
    fake_dist(tmp_path)
    assert ensure_katex(quiet=True, root=tmp_path)
    marker = tmp_path / "resources" / "web" / "katex" / "katex.min.js"
    marker.write_text("already here")
    monkeypatch.setattr(resources_setup, "_copy_dist", lambda *a: (_ for _ in ()).throw(AssertionError("copied")))
    assert ensure_katex(quiet=True, root=tmp_path)
    assert marker.read_text() == "already here"


def test_without_npm_it_warns_and_the_command_still_succeeds(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(resources_setup.shutil, "which", lambda name: None)
    assert ensure_katex(quiet=True, root=tmp_path) is False
    assert "npm not found" in capsys.readouterr().err
    assert not (tmp_path / "resources" / "web" / "katex").exists()


def test_main_exits_zero_even_when_setup_fails(monkeypatch):
    monkeypatch.setattr(resources_setup, "ensure_katex", lambda quiet: False)
    assert resources_setup.main(["--quiet"]) == 0


def test_katex_version_is_pinned_exactly_with_integrity():
    wanted = json.loads((REPO / "package.json").read_text())["dependencies"]["katex"]
    locked = json.loads((REPO / "package-lock.json").read_text())["packages"]["node_modules/katex"]
    assert wanted == locked["version"] and wanted[0].isdigit()
    assert locked["integrity"].startswith("sha512-")


def test_locator_prefers_the_override_folder(tmp_path, monkeypatch):
    (tmp_path / "web").mkdir()
    monkeypatch.setenv(resources_setup.RESOURCES_ENV, str(tmp_path))
    assert resources_setup.katex_dir() == tmp_path / "web" / "katex"
    assert not resources_setup.katex_available()
