"""The SDK's layout post-processing: each rule on hand-built detections with the expected regions written out, the
rules file against the SDK's own config.yaml, and random pages against the SDK's apply_layout_postprocess
(glmocr 0.1.5, a test dependency whose post-processing module needs only numpy)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from glmocr_core.layout.postprocess import LayoutRegion, load_rules, postprocess_page
from glmocr_core.testing.layout_checkpoints import SDK_LABELS

RULES = load_rules()
PORTRAIT, LANDSCAPE = (1000, 1400), (1400, 1000)  # (width, height)


def detections(rows) -> dict[str, torch.Tensor]:
    """rows: (label, score, (x0, y0, x1, y1), order) as post_process_object_detection would give them."""
    labels = [SDK_LABELS.index(label) for label, *_ in rows]
    return {"labels": torch.tensor(labels, dtype=torch.long),
            "scores": torch.tensor([score for _, score, *_ in rows], dtype=torch.float32),
            "boxes": torch.tensor([box for *_, box, _ in rows], dtype=torch.float32).reshape(-1, 4),
            "order_seq": torch.tensor([order for *_, order in rows], dtype=torch.long)}


def run(rows, size=PORTRAIT, rules=RULES) -> list[tuple]:
    return [(r.label, r.task, r.bbox, r.order) for r in postprocess_page(detections(rows), size, rules, SDK_LABELS)]


def with_rules(**changes):
    return dataclasses.replace(RULES, **changes)


def test_threshold_and_per_class_thresholds():
    rows = [("text", 0.31, (0, 0, 100, 50), 0), ("table", 0.29, (0, 100, 100, 150), 1),
            ("display_formula", 0.45, (0, 200, 100, 250), 2)]
    assert [r[0] for r in run(rows)] == ["text", "display_formula"]
    by_class = with_rules(threshold_by_class={"table": 0.2, "5": 0.5})  # by name and by class id (5: formula)
    assert by_class.pre_threshold == 0.2
    assert [r[0] for r in run(rows, rules=by_class)] == ["text", "table"]


def test_nms_within_and_across_classes():
    rows = [("text", 0.9, (0, 0, 100, 100), 0), ("text", 0.8, (10, 0, 110, 100), 1),   # IoU 0.83 >= 0.6: dropped
            ("text", 0.7, (50, 0, 150, 100), 2),                                        # IoU 0.34: kept
            ("table", 0.6, (1, 0, 101, 100), 3),                                        # other class, IoU 0.98: dropped
            ("table", 0.5, (3, 0, 103, 100), 4)]                                        # other class, IoU 0.94: kept
    union = with_rules(merge_mode="union")  # nesting off: the kept text and table hold each other
    assert [(r[0], r[2]) for r in run(rows, rules=union)] == [
        ("text", (0, 0, 100, 100)), ("text", (50, 0, 150, 100)), ("table", (3, 0, 103, 100))]
    assert len(run(rows, rules=with_rules(nms=False, merge_mode="union"))) == 5


@pytest.mark.parametrize("size, share, kept", [
    (PORTRAIT, 0.92, True), (PORTRAIT, 0.94, False),    # portrait pages allow pictures up to 93% of the page
    (LANDSCAPE, 0.81, True), (LANDSCAPE, 0.83, False),  # landscape pages up to 82%
])
def test_page_sized_pictures_are_dropped(size, share, kept):
    width, height = size
    picture = ("image", 0.9, (-50, 0, width, height * share), 1)  # clamped to the page before measuring
    rows = [("text", 0.8, (0, 0, 10, 10), 0), picture]
    assert ("image" in [r[0] for r in run(rows, size)]) == kept


def test_a_lone_page_sized_picture_stays():
    assert [r[0] for r in run([("image", 0.9, (0, 0, 1000, 1400), 0)])] == ["image"]


def test_large_mode_drops_boxes_inside_others_but_never_pictures():
    rows = [("table", 0.9, (0, 0, 500, 500), 1),
            ("text", 0.8, (10, 10, 200, 200), 2),          # inside the table: dropped
            ("image", 0.8, (300, 300, 450, 450), 3),        # a picture is never the inner box
            ("text", 0.7, (400, 400, 700, 700), 0)]         # only 1/9 inside: kept
    assert [r[0] for r in run(rows)] == ["text", "table", "image"]


def test_small_mode_for_references_drops_the_box_that_holds_one():
    rows = [("text", 0.9, (0, 0, 500, 500), 0),
            ("reference", 0.8, (10, 10, 200, 100), 1)]    # "reference" is small-mode: the holder goes
    assert run(rows) == []  # and the reference itself is abandoned
    assert [r[0] for r in run(rows, rules=with_rules(merge_mode="union"))] == ["text"]


def test_single_merge_mode_for_all_labels():
    rows = [("text", 0.9, (0, 0, 500, 500), 0), ("paragraph_title", 0.8, (10, 10, 200, 100), 1)]
    assert [r[0] for r in run(rows, rules=with_rules(merge_mode="large"))] == ["text"]
    assert [r[0] for r in run(rows, rules=with_rules(merge_mode="small"))] == ["paragraph_title"]


def test_reading_order_then_unclip_then_clamp_to_whole_pixels():
    rows = [("text", 0.9, (100.7, 600.2, 300.9, 700.8), 7), ("doc_title", 0.8, (100, 50, 900, 120), 2),
            ("table", 0.7, (900, 1300, 1100, 1500), 4)]
    assert run(rows) == [("doc_title", "text", (100, 50, 900, 120), 0),
                         ("table", "table", (900, 1300, 1000, 1400), 1),
                         ("text", "text", (100, 600, 300, 700), 2)]
    wider = with_rules(unclip_ratio=[1.5, 1.0])  # width x1.5 about the centre, height unchanged
    assert run(rows, rules=wider)[0][2] == (0, 50, 1000, 120)
    per_label = with_rules(unclip_ratio={"text": [1.0, 2.0]})
    assert [r[2] for r in run(rows, rules=per_label)][2] == (100, 549, 300, 751)  # 650.5 -/+ 100.6


def test_tasks_abandon_and_numbering():
    rows = [("header", 0.9, (0, 0, 1000, 40), 0), ("chart", 0.9, (0, 100, 500, 400), 1),
            ("inline_formula", 0.8, (0, 500, 200, 540), 2), ("number", 0.8, (480, 1360, 520, 1390), 3),
            ("vision_footnote", 0.7, (0, 600, 400, 650), 4), ("empty", 0.9, (700, 700, 700, 800), 5)]
    rows[-1] = ("text", 0.9, (700, 700, 700, 800), 5)  # zero width: dropped
    assert run(rows) == [("chart", "skip", (0, 100, 500, 400), 0),
                         ("inline_formula", "formula", (0, 500, 200, 540), 1),
                         ("vision_footnote", "text", (0, 600, 400, 650), 2)]
    unmapped = with_rules(label_tasks={"text": ["text"]})
    assert run(rows, rules=unmapped) == []


def test_region_boxes_in_thousandths_and_the_sdk_crop():
    region = postprocess_page(detections([("text", 0.9, (333.3, 10, 667.9, 1399.5), 0)]), (1001, 1400), RULES,
                              SDK_LABELS)[0]
    assert isinstance(region, LayoutRegion)
    assert region.bbox == (333, 10, 667, 1399) and region.bbox_2d == (332, 7, 666, 999)
    assert region.crop_box(1001, 1400) == (332, 9, 666, 1398)  # the SDK crops the thousandths, scaled back


# --- against the SDK itself -----------------------------------------------------------------------------------

sdk_utils = pytest.importorskip("glmocr.utils.layout_postprocess_utils")


def _sdk_layout_config() -> dict:
    yaml = pytest.importorskip("yaml")
    import glmocr

    return yaml.safe_load((Path(glmocr.__file__).parent / "config.yaml").read_text())["pipeline"]["layout"]


def test_rules_file_is_the_sdk_default_config():
    sdk = _sdk_layout_config()
    id2label = {int(k): v for k, v in sdk["id2label"].items()}
    assert [id2label[i] for i in range(len(id2label))] == SDK_LABELS
    assert RULES.threshold == sdk["threshold"] and not RULES.threshold_by_class
    assert RULES.nms == sdk["layout_nms"] and RULES.unclip_ratio == sdk["layout_unclip_ratio"]
    assert RULES.merge_mode == {id2label[int(k)]: v for k, v in sdk["layout_merge_bboxes_mode"].items()}
    assert RULES.label_tasks == sdk["label_task_mapping"]


def _random_page(rng, count: int, size) -> list:
    width, height = size
    rows = []
    for order in rng.permutation(count).tolist():
        x0, y0 = rng.uniform(-30, width * 0.8), rng.uniform(-30, height * 0.8)
        w, h = rng.uniform(5, width * 0.6), rng.uniform(5, height * 0.5)
        if rng.random() < 0.3 and rows:  # a near-copy of an earlier box: NMS and nesting get work
            (_, _, (x0, y0, x1, y1), _) = rows[int(rng.integers(len(rows)))]
            x0, y0, w, h = x0 + rng.uniform(-8, 8), y0 + rng.uniform(-8, 8), (x1 - x0) * 0.9, (y1 - y0) * 0.9
        label = SDK_LABELS[int(rng.integers(len(SDK_LABELS)))]
        rows.append((label, float(rng.uniform(0.3, 1.0)), (x0, y0, x0 + w, y0 + h), order))
    return rows


def _sdk_regions(rows, size, merge_mode, unclip) -> list[tuple]:
    id2label = dict(enumerate(SDK_LABELS))
    merge = {SDK_LABELS.index(k): v for k, v in merge_mode.items()} if isinstance(merge_mode, dict) else merge_mode
    out = sdk_utils.apply_layout_postprocess([detections(rows)], id2label, [size], layout_nms=True,
                                             layout_unclip_ratio=unclip, layout_merge_bboxes_mode=merge)[0]
    return [(r["label"], tuple(r["coordinate"]), round(r["score"], 6)) for r in out]


@pytest.mark.parametrize("merge_mode", ["default", "large", "small"])
@pytest.mark.parametrize("seed", range(6))
def test_random_pages_match_the_sdk(seed, merge_mode):
    rng = np.random.default_rng(seed)
    size = LANDSCAPE if seed % 2 else PORTRAIT
    unclip = [1.0, 1.0] if seed < 3 else [1.1, 0.95]
    rules = with_rules(label_tasks={"text": SDK_LABELS}, unclip_ratio=unclip,  # nothing abandoned: all comparable
                       merge_mode=RULES.merge_mode if merge_mode == "default" else merge_mode)
    rows = _random_page(rng, int(rng.integers(8, 30)), size)
    ours = [(r.label, r.bbox, round(r.score, 6)) for r in postprocess_page(detections(rows), size, rules, SDK_LABELS)]
    assert ours == _sdk_regions(rows, size, rules.merge_mode, unclip)
