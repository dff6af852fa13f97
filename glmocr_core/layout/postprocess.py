"""The official GLM-OCR SDK's layout post-processing (glmocr 0.1.5: ``PPDocLayoutDetector.process`` and
``apply_layout_postprocess``), with its thresholds, label maps and rules as data (sdk_rules.json, read into
:class:`LayoutRules`). Plain Python on float64 numbers, as the SDK's numpy code computes them.

For one page, from the detections of ``post_process_object_detection`` (reading order, at the lowest threshold any
class uses):

1. per-class thresholds (``threshold_by_class``, label names or class ids; others use ``threshold``);
2. NMS: by score, a box suppresses later ones with IoU (+1-pixel areas) >= 0.6 of its class, >= 0.98 of others;
3. page-sized pictures: with more than one box, "image" boxes whose page-clamped area exceeds 82% (landscape page)
   or 93% (portrait or square) of the page are dropped, unless that would drop every box;
4. nested boxes (``merge_mode`` per label): "large" drops any box >= 80% inside a box of that label; "small" drops
   the boxes that hold a box of that label unless they are themselves inside one; image/seal/chart are never the
   inner box; "union" keeps all;
5. reading order (the model's ``order_seq``), then ``unclip_ratio`` (scale width and height about the centre);
6. clamp to the page, drop empty boxes, truncate to whole pixels;
7. label -> task (text, table, formula, skip = kept as a picture, abandon = dropped, as is an unmapped label);
   the kept regions are numbered 0.. in reading order. With ``keep_abandoned`` the abandoned regions stay, with
   task "abandon", numbered among the others (a converter may show or recognize them on request).

Left out: the polygon outlines (the SDK uses them only with ``use_polygon: true``, off by default, and for drawing);
a region's outline is its box.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ModelError
from ..model.config import from_json_dict

RULES_FILE = Path(__file__).with_name("sdk_rules.json")
MERGE_MODES = ("large", "small", "union")


@dataclass
class LayoutRules:
    threshold: float = 0.3
    threshold_by_class: dict = field(default_factory=dict)
    nms: bool = True
    nms_iou_same_class: float = 0.6
    nms_iou_other_class: float = 0.98
    page_image_label: str = "image"
    page_image_max_area_landscape: float = 0.82
    page_image_max_area_portrait: float = 0.93
    merge_mode: object = field(default_factory=dict, metadata={"kind": object})  # one mode, or label -> mode
    merge_preserved_labels: list = field(default_factory=lambda: ["image", "seal", "chart"])
    containment_ratio: float = 0.8
    unclip_ratio: object = field(default=None, metadata={"kind": object})  # r, [rw, rh], label -> [rw, rh], None
    label_tasks: dict = field(default_factory=dict)

    @property
    def pre_threshold(self) -> float:
        """The threshold detections are first cut at: the lowest any class uses."""
        return min([self.threshold, *self.threshold_by_class.values()])


def load_rules(path: str | Path = RULES_FILE) -> LayoutRules:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read the layout rules: {exc}", path) from None
    rules = from_json_dict(LayoutRules, data, str(path))
    modes = [rules.merge_mode] if isinstance(rules.merge_mode, str) else list(rules.merge_mode.values())
    if any(mode not in MERGE_MODES for mode in modes):
        raise ModelError(f"merge_mode values must be one of {MERGE_MODES}", path)
    return rules


@dataclass
class Box:
    cls: int
    score: float
    x0: float
    y0: float
    x1: float
    y1: float
    order: int

    @property
    def corners(self) -> tuple[float, float, float, float]:
        return self.x0, self.y0, self.x1, self.y1


@dataclass(frozen=True)
class LayoutRegion:
    """One region of a page, as the SDK hands it to recognition."""

    label: str
    task: str  # text | table | formula | skip (kept as a picture, not recognized)
    score: float
    bbox: tuple[int, int, int, int]  # x0, y0, x1, y1 in the image's pixels (the SDK's "coordinate")
    order: int  # reading order among the page's kept regions, 0..
    bbox_2d: tuple[int, int, int, int]  # the same box in thousandths of the page (the SDK's "bbox_2d")

    def crop_box(self, width: int, height: int) -> tuple[int, int, int, int]:
        """The pixel box the SDK crops for recognition: ``bbox_2d`` scaled back to the page (``width`` x ``height``,
        the image this region was detected on); it can be a pixel smaller than ``bbox``."""
        x0, y0, x1, y1 = self.bbox_2d
        return int(x0 * width / 1000), int(y0 * height / 1000), int(x1 * width / 1000), int(y1 * height / 1000)


def class_ids(keys, labels: list[str]) -> dict:
    """Rule keys (label names, or class ids as numbers or digit strings) -> class ids; unknown names are ignored,
    as the SDK ignores them."""
    ids = {}
    for key in keys:
        if isinstance(key, int) or (isinstance(key, str) and key.isdigit()):
            ids[key] = int(key)
        elif key in labels:
            ids[key] = labels.index(key)
    return ids


def boxes_from_detections(detections: dict, rules: LayoutRules, labels: list[str]) -> list[Box]:
    """post_process_object_detection's dict (tensors) -> boxes passing their class's threshold."""
    limits = {cls: float(rules.threshold_by_class[key])
              for key, cls in class_ids(rules.threshold_by_class, labels).items()}
    rows = zip(detections["labels"].tolist(), detections["scores"].tolist(), detections["boxes"].tolist(),
               detections["order_seq"].tolist())
    return [Box(int(cls), float(score), *map(float, box), int(order)) for cls, score, box, order in rows
            if score >= limits.get(int(cls), rules.threshold)]


def iou(a: tuple, b: tuple) -> float:
    """Intersection over union with +1-pixel sides (the SDK's convention)."""
    inter = max(0, min(a[2], b[2]) - max(a[0], b[0]) + 1) * max(0, min(a[3], b[3]) - max(a[1], b[1]) + 1)
    area_a, area_b = (a[2] - a[0] + 1) * (a[3] - a[1] + 1), (b[2] - b[0] + 1) * (b[3] - b[1] + 1)
    return inter / float(area_a + area_b - inter)


def nms(boxes: list[Box], same: float, other: float) -> list[Box]:
    """Greedy NMS by descending score (equal scores: the later box first, as numpy's reversed argsort); the kept
    boxes come out in that order."""
    pending = sorted(range(len(boxes)), key=lambda i: boxes[i].score)[::-1]
    kept = []
    while pending:
        best = boxes[pending.pop(0)]
        kept.append(best)
        pending = [i for i in pending if iou(best.corners, boxes[i].corners)
                   < (same if boxes[i].cls == best.cls else other)]
    return kept


def drop_page_images(boxes: list[Box], size: tuple[int, int], rules: LayoutRules, labels: list[str]) -> list[Box]:
    """Drops picture boxes covering most of the page (``size`` = width, height); keeps all if none would remain."""
    if len(boxes) <= 1 or rules.page_image_label not in labels:
        return boxes
    width, height = size
    limit = rules.page_image_max_area_landscape if width > height else rules.page_image_max_area_portrait
    image_cls = labels.index(rules.page_image_label)
    kept = [b for b in boxes if b.cls != image_cls or _clamped_area(b, width, height) <= limit * width * height]
    return kept or boxes


def _clamped_area(box: Box, width: int, height: int) -> float:
    return (min(width, box.x1) - max(0, box.x0)) * (min(height, box.y1) - max(0, box.y0))


def inside(inner: Box, outer: Box, ratio: float) -> bool:
    """Whether at least ``ratio`` of ``inner``'s area (plain, not +1) lies in ``outer``."""
    area = (inner.x1 - inner.x0) * (inner.y1 - inner.y0)
    overlap = max(0, min(inner.x1, outer.x1) - max(inner.x0, outer.x0)) * \
        max(0, min(inner.y1, outer.y1) - max(inner.y0, outer.y0))
    return (overlap / area if area > 0 else 0) >= ratio


def containment(boxes: list[Box], preserved: set[int], ratio: float, category: int | None = None,
                mode: str | None = None) -> tuple[list[bool], list[bool]]:
    """(holds another, inside another) per box. With a category: "large" looks only at outer boxes of that class,
    "small" only at inner ones. Preserved classes are never the inner box."""
    holds, held = [False] * len(boxes), [False] * len(boxes)
    for i, inner in enumerate(boxes):
        if inner.cls in preserved:
            continue
        for j, outer in enumerate(boxes):
            relevant = category is None or (mode == "large" and outer.cls == category) or \
                (mode == "small" and inner.cls == category)
            if i != j and relevant and inside(inner, outer, ratio):
                held[i], holds[j] = True, True
    return holds, held


def _keep(mode: str, holds: list[bool], held: list[bool]) -> list[bool]:
    if mode == "large":
        return [not h for h in held]
    if mode == "small":
        return [not a or b for a, b in zip(holds, held)]
    return [True] * len(holds)


def merge_nested(boxes: list[Box], rules: LayoutRules, labels: list[str]) -> list[Box]:
    preserved = {labels.index(name) for name in rules.merge_preserved_labels if name in labels}
    if isinstance(rules.merge_mode, str):
        keep = _keep(rules.merge_mode, *containment(boxes, preserved, rules.containment_ratio))
        return [b for b, k in zip(boxes, keep) if k]
    keep = [True] * len(boxes)
    for key, cls in class_ids(rules.merge_mode, labels).items():
        mode = rules.merge_mode[key]
        if mode != "union":
            found = containment(boxes, preserved, rules.containment_ratio, cls, mode)
            keep = [a and b for a, b in zip(keep, _keep(mode, *found))]
    return [b for b, k in zip(boxes, keep) if k]


def unclip(boxes: list[Box], rules: LayoutRules, labels: list[str]) -> list[Box]:
    """Scales each box's width and height about its centre (a number, [rw, rh], or label -> [rw, rh])."""
    ratio = rules.unclip_ratio
    if not ratio:
        return boxes
    if isinstance(ratio, dict):
        per_class = {cls: ratio[key] for key, cls in class_ids(ratio, labels).items()}
        return [_scaled(b, *per_class[b.cls]) if b.cls in per_class else b for b in boxes]
    rw, rh = (ratio, ratio) if isinstance(ratio, (int, float)) else ratio
    return [_scaled(b, rw, rh) for b in boxes]


def _scaled(box: Box, rw: float, rh: float) -> Box:
    width, height = box.x1 - box.x0, box.y1 - box.y0
    cx, cy, new_w, new_h = box.x0 + width / 2, box.y0 + height / 2, width * rw, height * rh
    return Box(box.cls, box.score, cx - new_w / 2, cy - new_h / 2, cx + new_w / 2, cy + new_h / 2, box.order)


def task_of(label: str, rules: LayoutRules) -> str | None:
    """The first task whose label list names ``label`` (None when none does)."""
    return next((task for task, names in rules.label_tasks.items() if label in names), None)


def to_regions(boxes: list[Box], size: tuple[int, int], rules: LayoutRules, labels: list[str],
               keep_abandoned: bool = False) -> list[LayoutRegion]:
    """Clamped to the page, whole pixels, with their tasks; empty boxes and unmapped labels dropped, and abandoned
    labels too unless ``keep_abandoned``."""
    dropped = (None,) if keep_abandoned else (None, "abandon")
    width, height = size
    regions = []
    for box in boxes:
        x0, x1 = (max(0, min(v, width)) for v in (box.x0, box.x1))
        y0, y1 = (max(0, min(v, height)) for v in (box.y0, box.y1))
        label = labels[box.cls] if box.cls < len(labels) else f"class_{box.cls}"
        task = task_of(label, rules)
        if x0 >= x1 or y0 >= y1 or task in dropped:
            continue
        bbox = (int(x0), int(y0), int(x1), int(y1))
        bbox_2d = (int(bbox[0] / width * 1000), int(bbox[1] / height * 1000), int(bbox[2] / width * 1000),
                   int(bbox[3] / height * 1000))
        regions.append(LayoutRegion(label, task, box.score, bbox, len(regions), bbox_2d))
    return regions


def postprocess_page(detections: dict, size: tuple[int, int], rules: LayoutRules, labels: list[str],
                     keep_abandoned: bool = False) -> list[LayoutRegion]:
    """One page's detections (at ``rules.pre_threshold``) -> its regions. ``size`` = (width, height)."""
    boxes = boxes_from_detections(detections, rules, labels)
    if rules.nms and boxes:
        boxes = nms(boxes, rules.nms_iou_same_class, rules.nms_iou_other_class)
    boxes = merge_nested(drop_page_images(boxes, size, rules, labels), rules, labels)
    boxes = sorted(boxes, key=lambda b: b.order)  # stable: a query detected with two labels keeps score order
    return to_regions(unclip(boxes, rules, labels), size, rules, labels, keep_abandoned)
