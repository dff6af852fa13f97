"""The benchmark checkpoint: random weights in the official layout, built once and cached under the output folder.

Run as ``python -m bench.checkpoint SIZE FOLDER`` so the 4 GB fp32 model used while writing never shares a
process with a measurement. The stop-token rows of ``lm_head`` are zeroed: every other reachable row gives a
positive logit somewhere, so greedy decoding never picks a stop token and both engines decode exactly the
requested number of tokens with identical work per step (fairer than an eos-suppressing hook in only one of them).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

from glmocr_core.checkpoint.check import read_weight_shapes

RECIPE_VERSION = 1  # bump when the recipe changes, so cached checkpoints are rebuilt
SEED = 1234
SIZES = ("real", "tiny")


def recipe(size: str) -> dict:
    return {"version": RECIPE_VERSION, "size": size, "seed": SEED, "dtype": "bfloat16", "stop_rows": "zeroed"}


def manifest_path(folder: Path) -> Path:
    return folder.with_name(folder.name + ".manifest.json")


def ensure_checkpoint(size: str, folder: Path) -> Path:
    """Build the checkpoint in a child process unless a finished one with the same recipe is cached."""
    manifest = manifest_path(folder)
    if manifest.exists() and json.loads(manifest.read_text()) == recipe(size) and (folder / "config.json").exists():
        return folder
    manifest.unlink(missing_ok=True)
    subprocess.run([sys.executable, "-m", "bench.checkpoint", size, str(folder)], check=True)
    return folder


def build(size: str, folder: Path) -> None:
    import torch

    from glmocr_core.testing.checkpoints import EOS_IDS, random_model, real_config, tiny_config, write_checkpoint

    cfg = real_config() if size == "real" else tiny_config()
    model = random_model(cfg, seed=SEED)
    with torch.no_grad():
        model.lm_head.weight[EOS_IDS] = 0.0
    write_checkpoint(model, folder, dtype=torch.bfloat16)
    # Written last: an interrupted build leaves no manifest and is rebuilt next time.
    manifest_path(folder).write_text(json.dumps(recipe(size)))


def parameter_count(folder: Path) -> int:
    """Parameters in the folder's weight files, from their headers alone (no torch import, no data read)."""
    shapes, problems = read_weight_shapes(folder)
    if problems:
        raise ValueError("; ".join(map(str, problems)))
    return sum(math.prod(shape) for shape in shapes.values())


def warm_page_cache(folder: Path) -> None:
    """Read the weight files once so both engines load from the page cache, not from a cold disk."""
    for file in sorted(folder.glob("*.safetensors")):
        with open(file, "rb") as handle:
            while handle.read(64 << 20):
                pass


if __name__ == "__main__":
    size_arg, folder_arg = sys.argv[1], Path(sys.argv[2])
    if size_arg not in SIZES:
        raise SystemExit(f"unknown size {size_arg!r}; choose one of: {', '.join(SIZES)}")
    build(size_arg, folder_arg)
