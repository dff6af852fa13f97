"""The layout pass for the rest of the core: load a PP-DocLayoutV3 folder once, then page images -> regions.

    detector = LayoutDetector.load(folder, device="cpu")
    regions = detector.detect(page)            # the SDK's regions: label, task, score, bbox, order
    everything = detector.detect(page, keep_abandoned=True)  # headers, footers ... too, with task "abandon"
    raw = detector.detect_raw(page, 0.5)       # transformers' post_process_object_detection dict

``fast=True`` folds the batch norms into the convolutions and runs them channels-last (about 1.5x faster on CPU);
its outputs then differ from transformers' by float rounding, which can reorder near-tied queries, so the default
is the bit-exact model.
"""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image

from .config import LayoutPreprocessorConfig, load_layout_preprocessor_config
from .fusion import fuse_batch_norms
from .loading import load_layout_model
from .model import LayoutOutput, PPDocLayoutV3
from .postprocess import LayoutRegion, LayoutRules, load_rules, postprocess_page
from .postprocess_reference import post_process_object_detection
from .preprocess import preprocess


class LayoutDetector:
    def __init__(self, model: PPDocLayoutV3, preprocessor: LayoutPreprocessorConfig, rules: LayoutRules,
                 fast: bool = False, source: str | None = None):
        self.model, self.preprocessor, self.rules, self.fast = model, preprocessor, rules, fast
        self.source = source  # the folder it was loaded from (what a converter's resume key names)
        if fast:
            fuse_batch_norms(model)
            model.to(memory_format=torch.channels_last)
        self.labels = model.cfg.labels
        self.device = next(model.parameters()).device
        self.dtype = next(model.parameters()).dtype

    @classmethod
    def load(cls, folder: str | Path, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32,
             rules: LayoutRules | None = None, fast: bool = False) -> LayoutDetector:
        """``folder``: config.json, model.safetensors and (optionally) preprocessor_config.json; ``rules``: the
        SDK's post-processing settings (default: sdk_rules.json, the SDK's own defaults)."""
        model = load_layout_model(folder, dtype=dtype, device=device)
        return cls(model, load_layout_preprocessor_config(folder), rules or load_rules(), fast, str(folder))

    @torch.inference_mode()
    def forward(self, images: list[Image.Image], masks: bool = False) -> LayoutOutput:
        """Raw outputs for a batch of pages (resized to the model's fixed input size); the masks only on request
        (no post-processing here reads them)."""
        pixels = preprocess(images, self.preprocessor).to(self.device, self.dtype)
        if self.fast:
            pixels = pixels.contiguous(memory_format=torch.channels_last)
        outputs = self.model(pixels, masks)
        return LayoutOutput(*(t.float() if t is not None else None for t in (
            outputs.logits, outputs.pred_boxes, outputs.order_logits, outputs.out_masks)))

    def detect_raw_batch(self, images: list[Image.Image], threshold: float = 0.5) -> list[dict[str, torch.Tensor]]:
        sizes = [(image.height, image.width) for image in images]
        return [{k: v.cpu() for k, v in result.items()}
                for result in post_process_object_detection(self.forward(images), threshold, sizes)]

    def detect_raw(self, image: Image.Image, threshold: float = 0.5) -> dict[str, torch.Tensor]:
        """What transformers' post_process_object_detection returns for this page (without polygon_points):
        scores, labels, boxes (x0, y0, x1, y1 in the image's pixels) and order_seq, in reading order."""
        return self.detect_raw_batch([image], threshold)[0]

    def detect_batch(self, images: list[Image.Image], keep_abandoned: bool = False) -> list[list[LayoutRegion]]:
        raw = self.detect_raw_batch(images, self.rules.pre_threshold)
        return [postprocess_page(r, image.size, self.rules, self.labels, keep_abandoned)
                for r, image in zip(raw, images)]

    def detect(self, image: Image.Image, keep_abandoned: bool = False) -> list[LayoutRegion]:
        """The page's regions in reading order, as the official SDK post-processes them (abandoned labels such as
        headers, footers and page numbers are dropped unless ``keep_abandoned``; pictures are kept with task
        "skip")."""
        return self.detect_batch([image], keep_abandoned)[0]
