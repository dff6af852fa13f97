"""One measurement per process: ``python -m bench.jobs JOB CHECKPOINT TOKENS REPEATS THREADS RESULT.json``.

A fresh process per job keeps load time and peak RSS clean (nothing loaded before, no second model alive);
peak RSS is the child's own ``ru_maxrss`` at the end.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

import torch


def run_ref_single(checkpoint: str, tokens: int, repeats: int, dtype: torch.dtype = torch.float32) -> dict:
    from . import reference

    model, load_s = reference.load(checkpoint, dtype)
    reference.warm_up(model)
    return {"load_s": load_s, "runs": [reference.single_region(model, tokens) for _ in range(repeats)]}


def run_ref_page(checkpoint: str, tokens: int, repeats: int) -> dict:
    from . import reference

    model, load_s = reference.load(checkpoint)
    reference.warm_up(model)
    return {"load_s": load_s, **reference.page_one_by_one(model, tokens)}


def run_ours_single(checkpoint: str, tokens: int, repeats: int, precision: str) -> dict:
    from . import ours

    engine, load_s = ours.load(checkpoint, precision)
    ours.warm_up(engine)
    runs = [ours.single_region(engine, tokens) for _ in range(repeats)]
    return {"load_s": load_s, "runs": runs, "signature": ours.model_signature(engine), "info": vars(engine.info),
            "kernels": ours.kernel_choice(), "int8_rows": ours.plane_rows_choice()}


def run_ours_snip(checkpoint: str, tokens: int, repeats: int) -> dict:
    """A text-line snip in fast precision: what a user's screenshot of one line costs to first token."""
    from . import inputs, ours

    engine, load_s = ours.load(checkpoint, "fast")
    ours.warm_up(engine)
    runs = [ours.single_region(engine, tokens, inputs.snip_image()) for _ in range(repeats)]
    return {"load_s": load_s, "runs": runs, "int8_rows": ours.plane_rows_choice()}


def run_ceilings(checkpoint: str, tokens: int, repeats: int) -> dict:
    """This machine's GEMM peaks and read bandwidth, and the bounds they set on the region's and the snip's
    first token and on int8 decoding (bench/ceilings.py)."""
    from glmocr_core.model.config import load_model_config

    from . import ceilings, inputs, ours

    measured = ceilings.measure()
    shapes = {"region": ours.prompt_shape(checkpoint, inputs.region_image()),
              "snip": ours.prompt_shape(checkpoint, inputs.snip_image())}
    return {"load_s": 0.0, "runs": [], **measured,
            "bounds": ceilings.bounds(load_model_config(checkpoint), measured, shapes)}


def run_llama(variant: str, tokens: int) -> dict:
    from . import llamacpp

    return llamacpp.run(variant, tokens, torch.get_num_threads())


def run_ours_batch(checkpoint: str, tokens: int, repeats: int) -> dict:
    from . import inputs, ours

    engine, load_s = ours.load(checkpoint, "exact")
    if not ours.has_batch_api(engine):
        return {"load_s": load_s, "skipped": "Engine.recognize_batch is not implemented"}
    ours.warm_up(engine, batch=True)
    return {"load_s": load_s, **ours.region_batch(engine, inputs.batch_image(), inputs.batch_regions(), tokens)}


def run_ours_page(checkpoint: str, tokens: int, repeats: int) -> dict:
    from . import inputs, ours

    engine, load_s = ours.load(checkpoint, "exact")
    ours.warm_up(engine, batch=True)
    return {"load_s": load_s, **ours.region_batch(engine, inputs.page_image(), inputs.page_strips(), tokens)}


RUNNERS = {
    "ref_single": run_ref_single,
    "ref_bf16": lambda c, t, r: run_ref_single(c, t, r, torch.bfloat16),
    "ours_exact": lambda c, t, r: run_ours_single(c, t, r, "exact"),
    "ours_fast": lambda c, t, r: run_ours_single(c, t, r, "fast"),
    "ours_snip": run_ours_snip,
    "ceilings": run_ceilings,
    "ours_batch": run_ours_batch,
    "ref_page": run_ref_page,
    "ours_page": run_ours_page,
    **{f"llama_{variant}": (lambda c, t, r, v=variant: run_llama(v, t)) for variant in ("f16", "q8_0", "q4_k_m")},
}


def peak_rss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # Linux reports KiB, macOS bytes


def main(argv: list[str]) -> None:
    job, checkpoint, tokens, repeats, threads, result_path = argv
    torch.set_num_threads(int(threads))
    started = time.perf_counter()
    result = RUNNERS[job](checkpoint, int(tokens), int(repeats))
    result.setdefault("peak_rss_bytes", peak_rss_bytes())  # llama jobs report their llama.cpp process's
    result.update(job=job, threads=torch.get_num_threads(), job_s=time.perf_counter() - started)
    Path(result_path).write_text(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
