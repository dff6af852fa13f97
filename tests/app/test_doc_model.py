from glmocr_core.api import OcrResult, Timings

from app.document.model import (CANCELLED, DONE, DocumentSession, Region, clip_box, normalize_box, result_to_dict)


def test_box_is_normalized_whatever_the_drag_direction():
    assert normalize_box((50, 40, 10, 5)) == (10.0, 5.0, 50.0, 40.0)
    assert Region(page=0, box=(50, 40, 10, 5)).box == (10.0, 5.0, 50.0, 40.0)


def test_clip_box_drops_zero_area_and_outside_boxes():
    assert clip_box((10, 10, 10, 50), (100, 100)) is None
    assert clip_box((150, 150, 200, 200), (100, 100)) is None
    assert clip_box((-20, 90, 30, 140), (100, 100)) == (0.0, 90.0, 30.0, 100.0)


def test_unknown_task_is_refused():
    try:
        Region(page=0, box=(0, 0, 1, 1), task="poetry")
    except ValueError as exc:
        assert "poetry" in str(exc)
    else:
        raise AssertionError("expected ValueError")


def test_reading_order_pages_lines_then_left_to_right():
    doc = DocumentSession(path="x.pdf", page_count=2)
    right = doc.add_region(Region(page=0, box=(300, 12, 400, 60)))  # same line as `left`, slightly lower top
    left = doc.add_region(Region(page=0, box=(10, 10, 100, 50)))
    below = doc.add_region(Region(page=0, box=(10, 200, 100, 250)))
    next_page = doc.add_region(Region(page=1, box=(0, 0, 10, 10)))
    assert [r.id for r in doc.reading_order()] == [left.id, right.id, below.id, next_page.id]


def test_user_order_wins_over_geometry():
    doc = DocumentSession(path=None)
    a = doc.add_region(Region(page=0, box=(0, 0, 10, 10)))
    b = doc.add_region(Region(page=0, box=(0, 100, 10, 110)))
    doc.set_user_order([b.id, a.id])
    assert [r.id for r in doc.reading_order()] == [b.id, a.id]


def test_round_trip_keeps_everything():
    doc = DocumentSession(path="/tmp/a.png", content_hash="abc", kind="image", default_task="table", name="a.png")
    region = doc.add_region(Region(page=0, box=(1, 2, 3, 4), task="formula", state=CANCELLED, text="x^",
                                   edited_text="x^2", error=None, order=3))
    region.result = {"text": "x^", "parsed": None}
    copy = DocumentSession.from_dict(doc.to_dict())
    assert copy == doc
    assert copy.regions[0].display_text == "x^2"


def test_result_to_dict_is_json_friendly_and_uses_to_dict_for_grids():
    class Grid:
        def to_dict(self):
            return {"n_rows": 1}

    result = OcrResult(task="table", text="<table>", parsed=Grid(), token_ids=[1, 2, 3],
                       timings=Timings(decode_s=1.0, new_tokens=3))
    data = result_to_dict(result)
    assert data["parsed"] == {"n_rows": 1}
    assert data["new_tokens"] == 3
    assert data["timings"]["tokens_per_s"] == 2.0


def test_reset_for_run_clears_previous_outcome():
    region = Region(page=0, box=(0, 0, 5, 5), state=DONE, text="old", edited_text="mine", error="x")
    region.reset_for_run()
    assert (region.state, region.text, region.edited_text, region.error) == ("queued", "", None, None)
