"""Makes the golden data in tests/layout/golden/ from transformers 5.23.0 where it needs torchvision (the image
processor module imports it) or OpenCV (its post-processing). Run by hand, once, never in CI:

    python3 -m venv /tmp/refvenv
    /tmp/refvenv/bin/pip install torch==2.14.1 torchvision==0.29.1
    /tmp/refvenv/bin/pip install transformers==5.23.0 safetensors opencv-python-headless pillow numpy
    PYTHONPATH=. /tmp/refvenv/bin/python tests/layout/make_golden.py

(torchvision does not import beside the main environment's pinned CPU torch, so the venv has its own torch.)
What the model itself computes is tested live against transformers in the main environment, not here.

Writes:
- page_*.png: three small synthetic pages (RGB portrait, grayscale landscape, RGBA);
- preprocess.safetensors: the processor's pixel_values for them at a small size (64x48), exactly, and at the real
  800x800 as a SHA-256 of the bytes plus every 13th pixel (a readable diff when the hash differs);
- postprocess.safetensors: hand-made raw outputs and what post_process_object_detection returns for them;
- end_to_end.json: the tiny random checkpoint's detections on the pages (processor + model + post-processing),
  with a hash of its weights so the test knows it rebuilt the same checkpoint;
- real_checkpoint_names.json: tensor names and shapes that save_pretrained writes at the reference config.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw
from safetensors.torch import load_file, save_file

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "golden"
REFERENCE = HERE.parents[1].parent / "shared" / "reference" / "pp-doclayout-v3"
THRESHOLDS = (0.3, 0.5)
SMALL = {"height": 64, "width": 48}


def page(width: int, height: int, seed: int) -> Image.Image:
    """White page with dark blocks (text lines, a table, a picture) and a little noise."""
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x0, y0 = int(rng.integers(0, width - 20)), int(rng.integers(0, height - 8))
        x1, y1 = x0 + int(rng.integers(10, width // 2)), y0 + int(rng.integers(3, height // 6))
        draw.rectangle((x0, y0, x1, y1), fill=tuple(int(v) for v in rng.integers(0, 120, 3)))
    noise = rng.integers(-12, 13, (height, width, 3))
    return Image.fromarray(np.clip(np.asarray(image, dtype=np.int64) + noise, 0, 255).astype(np.uint8))


def make_pages() -> list[Image.Image]:
    pages = [page(173, 229, 1), page(240, 150, 2).convert("L"), page(90, 130, 3).convert("RGBA")]
    for index, image in enumerate(pages):
        image.save(GOLDEN / f"page_{index}.png")
    return [Image.open(GOLDEN / f"page_{index}.png") for index in range(len(pages))]


def processor(**size):
    from transformers import PPDocLayoutV3ImageProcessor

    return PPDocLayoutV3ImageProcessor(**({"size": size} if size else {}))


def rgb(images):
    return [image.convert("RGB") for image in images]  # as the SDK hands pages to the processor


def make_preprocess(images) -> None:
    small = processor(**SMALL)(images=rgb(images), return_tensors="pt")["pixel_values"]
    full = processor()(images=rgb(images[:1]), return_tensors="pt")["pixel_values"]
    digest = hashlib.sha256(full.numpy().tobytes()).hexdigest()
    save_file({"small": small.contiguous(), "full_strided": full[..., ::13, ::13].contiguous()},
              str(GOLDEN / "preprocess.safetensors"), metadata={"full_sha256": digest})


def raw_outputs(seed: int, queries: int = 40, classes: int = 25, mask: int = 8):
    """Outputs shaped like the model's: a few confident (query, class) pairs, some queries scoring for two labels."""
    from transformers.utils import ModelOutput

    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(2, queries, classes, generator=gen) - 3.0
    boost = torch.zeros(2 * 8 * classes)
    boost[torch.randperm(2 * 8 * classes, generator=gen)[:30]] = 4.0
    logits[:, :8] += boost.view(2, 8, classes)
    centres, sizes = torch.rand(2, queries, 2, generator=gen), 0.05 + 0.5 * torch.rand(2, queries, 2, generator=gen)
    return ModelOutput(logits=logits, pred_boxes=torch.cat([centres, sizes], -1),
                       order_logits=torch.randn(2, queries, queries, generator=gen) * 3,
                       out_masks=torch.randn(2, queries, mask, mask, generator=gen))


def make_postprocess() -> None:
    tensors = {}
    sizes = torch.tensor([[229, 173], [150, 240]])
    for seed in (0, 1):
        outputs = raw_outputs(seed)
        for key in ("logits", "pred_boxes", "order_logits"):
            tensors[f"seed{seed}.{key}"] = outputs[key]
        for threshold in THRESHOLDS:
            results = processor().post_process_object_detection(outputs, threshold=threshold, target_sizes=sizes)
            for image, result in enumerate(results):
                for key in ("scores", "labels", "boxes", "order_seq"):
                    tensors[f"seed{seed}.t{threshold}.image{image}.{key}"] = result[key].contiguous()
    tensors["target_sizes"] = sizes
    save_file(tensors, str(GOLDEN / "postprocess.safetensors"))


def weights_digest(path: Path) -> str:
    state = load_file(str(path))
    digest = hashlib.sha256()
    for name in sorted(state):
        digest.update(name.encode() + state[name].numpy().tobytes())
    return digest.hexdigest()


def make_end_to_end(images) -> None:
    from transformers import PPDocLayoutV3ForObjectDetection

    from glmocr_core.testing.layout_checkpoints import build_tiny_layout_checkpoint

    with tempfile.TemporaryDirectory() as folder:
        checkpoint = build_tiny_layout_checkpoint(folder, seed=0)
        model = PPDocLayoutV3ForObjectDetection.from_pretrained(checkpoint).eval()
        pixels = processor()(images=rgb(images), return_tensors="pt")["pixel_values"]
        with torch.no_grad():
            outputs = model(pixel_values=pixels)
        sizes = torch.tensor([image.size[::-1] for image in images])
        pages = {str(t): [_plain(r) for r in processor().post_process_object_detection(outputs, t, sizes)]
                 for t in THRESHOLDS}
        record = {"weights_sha256": weights_digest(checkpoint / "model.safetensors"), "detections": pages}
    (GOLDEN / "end_to_end.json").write_text(json.dumps(record, indent=1), encoding="utf-8")


def _plain(result: dict) -> dict:
    return {key: result[key].tolist() for key in ("scores", "labels", "boxes", "order_seq")}


def make_real_names() -> None:
    from safetensors import safe_open
    from transformers import PPDocLayoutV3Config, PPDocLayoutV3ForObjectDetection

    model = PPDocLayoutV3ForObjectDetection(PPDocLayoutV3Config.from_pretrained(REFERENCE))
    with tempfile.TemporaryDirectory() as folder:
        model.save_pretrained(folder)
        with safe_open(str(Path(folder) / "model.safetensors"), "pt") as handle:
            names = {name: list(handle.get_slice(name).get_shape()) for name in sorted(handle.keys())}
    (GOLDEN / "real_checkpoint_names.json").write_text(json.dumps(names, indent=0), encoding="utf-8")


def main() -> None:
    import torchvision
    import transformers

    GOLDEN.mkdir(exist_ok=True)
    images = make_pages()
    make_preprocess(images)
    make_postprocess()
    make_end_to_end(images)
    make_real_names()
    versions = {"torch": torch.__version__, "torchvision": torchvision.__version__,
                "transformers": transformers.__version__, "python": sys.version.split()[0]}
    (GOLDEN / "versions.json").write_text(json.dumps(versions, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
