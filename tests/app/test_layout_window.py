"""Detect layout and the layout model in the window, with the fake OCR engine and a real tiny layout checkpoint
whose detections the test plans (the detector loads in the worker thread, as in the app)."""

import json
import threading
from pathlib import Path

import pytest
from PIL import Image

from glmocr_core.checkpoint.hub import LAYOUT_MODEL
from glmocr_core.paths import LAYOUT_MODEL_DIR_ENV
from glmocr_core.testing.layout_checkpoints import PlannedRegion, build_planned_layout_checkpoint

from app.document.model import DocumentSession, Region
from app.window.page_view import LEFT_OUT_OPACITY

WAIT_MS = 60_000
PLAN = [
    PlannedRegion("header", (0.10, 0.03, 0.90, 0.12), 0.8),
    PlannedRegion("doc_title", (0.10, 0.15, 0.90, 0.30), 0.95),
    PlannedRegion("table", (0.10, 0.33, 0.90, 0.60)),
    PlannedRegion("image", (0.10, 0.65, 0.50, 0.90)),
]


@pytest.fixture(scope="module")
def planned_layout(tmp_path_factory):
    return build_planned_layout_checkpoint(tmp_path_factory.mktemp("planned-layout"), PLAN)


@pytest.fixture
def page(tmp_path) -> Path:
    Image.new("RGB", (400, 300), "white").save(tmp_path / "page.png")
    return tmp_path / "page.png"


@pytest.fixture
def studio(make_studio, planned_layout, monkeypatch, page):
    monkeypatch.delenv(LAYOUT_MODEL_DIR_ENV, raising=False)
    made = make_studio(layout_model_dir=str(planned_layout), auto_run=False)
    assert made.documents.open_path(str(page))
    return made


def detect(studio, qtbot):
    with qtbot.waitSignal(studio.host.layout_done, timeout=WAIT_MS):
        studio.layout.detect_this_page()


def test_detect_layout_adds_a_region_per_block_as_one_undo_step(studio, qtbot):
    detect(studio, qtbot)
    regions = studio.workspace.session.reading_order()
    assert [r.label for r in regions] == ["header", "doc_title", "table", "image"]
    assert [r.task for r in regions] == ["text", "text", "table", "text"]
    assert [r.excluded for r in regions] == [True, False, False, False]
    assert [r.is_picture for r in regions] == [False, False, False, True]
    assert regions[2].box == pytest.approx((40, 99, 360, 180), abs=1.0)  # page pixels of a picture file
    assert all(r.state == "queued" and not studio.host.is_pending(r.id) for r in regions)  # found, not run
    items = studio.window.page_view.items_by_id
    assert items[regions[0].id].opacity() == LEFT_OUT_OPACITY and items[regions[1].id].opacity() == 1.0
    assert "left out" in " ".join(items[regions[0].id]._tag_words())
    card = studio.results.card(regions[0].id)
    assert "Left out of the document (header)" in card.stream_view.placeholderText()
    assert "Picture (image)" in studio.results.card(regions[3].id).stream_view.placeholderText()
    assert studio.undo.group.undoText() == "Detect layout on page 1"
    studio.undo.group.undo()
    assert studio.workspace.session.regions == [] and not items


def test_a_left_out_region_is_switched_in_and_never_runs_while_left_out(studio, qtbot):
    detect(studio, qtbot)
    header = studio.workspace.session.reading_order()[0]
    studio.regions.select_region(header.id)
    studio.regions.run_page_regions()
    assert not studio.host.is_pending(header.id)  # pictures and left-out regions are not read
    studio.actions["toggle_included"].trigger()
    assert not header.excluded
    assert studio.window.page_view.items_by_id[header.id].opacity() == 1.0
    assert studio.undo.group.undoText() == "Include Region #1"
    studio.undo.group.undo()
    assert header.excluded


def test_convert_keeps_the_regions_a_page_has_and_reads_the_rest(studio, qtbot):
    drawn = studio.regions.add_region(0, (10, 10, 200, 100), task="text", run=False)
    drawn.state, drawn.text = "done", "mine"
    with qtbot.waitSignal(studio.layout.converted, timeout=WAIT_MS):
        studio.layout.convert_document()  # the page has a region: nothing to lay out, nothing left to read
    assert studio.workspace.session.regions == [drawn] and drawn.text == "mine"


def test_without_the_layout_model_detect_and_convert_say_what_is_missing(make_studio, tmp_path, monkeypatch, page,
                                                                         qtbot):
    monkeypatch.delenv(LAYOUT_MODEL_DIR_ENV, raising=False)
    studio = make_studio(layout_model_dir=str(tmp_path / "no-layout"), auto_run=False)
    assert studio.documents.open_path(str(page))
    for action in ("detect_layout", "convert_document"):
        with qtbot.waitSignal(studio.layout.missing_model) as said:
            studio.actions[action].trigger()
        assert str(tmp_path / "no-layout") in said.args[0] and "model manager" in said.args[0]
        box = studio.layout.missing_box
        opened = []
        monkeypatch.setattr(studio.model, "show_manager", lambda: opened.append(True))
        studio.layout.show_manager = studio.model.show_manager
        next(b for b in box.buttons() if b.text() == "Open model manager").click()
        assert opened == [True]
    assert studio.layout.conversion is None and not studio.host._layout_running
    region = studio.regions.add_region(0, (10, 10, 100, 100), run=False)  # hand-drawn regions still work
    assert region in studio.workspace.session.regions


def test_layout_fields_round_trip_and_old_sessions_still_load():
    region = Region(page=0, box=(1, 2, 3, 4), label="footer", layout_task="abandon", layout_order=5, excluded=True)
    again = Region.from_dict(json.loads(json.dumps(region.to_dict())))
    assert (again.label, again.layout_task, again.layout_order, again.excluded) == ("footer", "abandon", 5, True)
    old = {"page": 0, "box": [1, 2, 3, 4], "task": "text", "id": "x", "state": "done"}
    loaded = Region.from_dict(old)
    assert loaded.label is None and loaded.layout_order is None and not loaded.excluded and loaded.is_readable


def test_reading_order_is_the_layouts_then_hand_drawn_regions():
    session = DocumentSession(path=None, page_count=2)
    late = session.add_region(Region(page=0, box=(0, 0, 10, 10), label="text", layout_order=1))
    early = session.add_region(Region(page=0, box=(0, 50, 10, 60), label="doc_title", layout_order=0))
    drawn = session.add_region(Region(page=0, box=(0, 20, 10, 30)))
    second = session.add_region(Region(page=1, box=(0, 0, 10, 10), label="text", layout_order=0))
    assert session.reading_order() == [early, late, drawn, second]


def test_the_model_manager_downloads_and_chooses_the_layout_model(qtbot, settings, tmp_path, monkeypatch,
                                                                  planned_layout):
    from app.dialogs.model_manager import ModelManagerDialog

    monkeypatch.delenv(LAYOUT_MODEL_DIR_ENV, raising=False)
    monkeypatch.setenv("GLMOCR_DATA_DIR", str(tmp_path))
    settings.set("layout_model_dir", str(tmp_path / "layout"))
    calls, gate = [], threading.Event()

    def downloader(repo_id, revision, endpoint, target_dir, progress, cancel, status, kind="glm-ocr"):
        calls.append((repo_id, kind, target_dir))
        progress(60_000_000, 133_000_000, 1e6, 73.0)
        gate.wait(10)
        import shutil

        shutil.copytree(planned_layout, target_dir, dirs_exist_ok=True)
        return Path(target_dir)

    dialog = ModelManagerDialog(settings, downloader=downloader)
    qtbot.addWidget(dialog)
    box = dialog.layout_box
    assert box.state() == "missing" and "133 MB" in box.download_button.text()
    assert LAYOUT_MODEL.repo_id in box.intro.text() and "Apache-2.0" in box.intro.text()
    box.start_download()
    qtbot.waitUntil(lambda: box.progress_bar.value() == 451)
    assert box.state() == "downloading" and not box.choose_button.isEnabled()
    with qtbot.waitSignal(dialog.layout_model_ready, timeout=10_000):
        gate.set()
    assert calls == [(LAYOUT_MODEL.repo_id, "layout", str(tmp_path / "layout"))]
    assert box.state() == "ready" and not box.download_button.isEnabled()
    assert dialog.state() == "missing"  # the GLM-OCR model's own state is its own

    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "config.json").write_text("{}")
    assert box.set_folder(str(tmp_path / "other")) is False  # not a layout model: refused, with its problems
    assert settings.get("layout_model_dir") == str(tmp_path / "layout") and "not a complete" in box.message_label.text()
    monkeypatch.setattr(box, "ask_for_folder", lambda: str(planned_layout))
    with qtbot.waitSignal(box.ready):
        assert box.choose_folder()
    assert settings.layout_model_dir() == str(planned_layout)
