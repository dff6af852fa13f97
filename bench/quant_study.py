"""Fast-precision accuracy study: teacher-forced top-1 agreement and mean KL divergence against fp32, per recipe,
with transformers' own bf16 inference (the model authors' deployment precision) as the accuracy bar.

The benchmark's real-size random checkpoint (bench/checkpoint.py) is loaded, and two things are changed the same way
in every model (ours and transformers'): every lm_head row gets random weights, so all 59,392 logits compete as in a
trained head; and ``--outliers`` channels of every decoder norm weight are multiplied by 30, which is how trained
LLMs' activation outliers look to a quantizer. All values stay bf16-representable, so fp32 over these weights is
exactly what exact precision computes. One 448×448 region and the text prompt are prefilled (256 image tokens: the
vision tower and the widened-GEMM prefill path run), then ``--positions`` random tokens are fed one step at a time
(the one-row decode kernels run) and each step's logits are compared with fp32's.

    python -m bench.quant_study [--positions 128] [--outliers 8] [--out docs/quant-study.md] [--verdict]

``--verdict`` writes glmocr_core/runtime/accuracy_verdict.json: the data the "auto" precision policy reads.
"""

from __future__ import annotations

import argparse
import gc
import json
import time
from pathlib import Path

import torch

from glmocr_core.checkpoint.loading import load_model
from glmocr_core.model.config import load_model_config, load_preprocessor_config
from glmocr_core.processing.preprocess import preprocess_images
from glmocr_core.processing.tokenizer import GlmTokenizer
from glmocr_core.runtime import devices, quantize
from glmocr_core.runtime.decoding import ModelRunner
from glmocr_core.tasks.specs import task_prompt

from . import checkpoint as ckpt
from . import inputs, legacy_fast, machine

REPO = Path(__file__).resolve().parents[1]
OUTLIER_FACTOR = 30.0
BAR = "transformers bf16"
# name -> (what it is, recipe key in the verdict or None); each is applied to a fresh fp32 load
VARIANTS = {
    "ours fast: int8 groups of 32 + exact outlier columns, bf16 activations, fp32 vision": devices.FAST_RECIPE,
    "ours fast, with bf16 vision products, attention's included (fp32 norms, softmax, residual)":
        devices.VISION_BF16_RECIPE,
    "int8 groups of 32 without exact outlier columns": "int8-groups-plain",
    "4-bit groups of 32 (min/max) + exact outlier columns": "int4-groups",
    "old fast: smoothing + per-channel int8, int8 activations": "old-fast",
}
READING = Path(__file__).with_name("quant_findings.md")  # hand-written reading of the latest run


# ------------------------------------------------------------------------------------------------ the checkpoint


def perturbations(cfg, outliers: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """name -> new value (bf16-representable) for the lm_head and the outlier norm channels."""
    generator = torch.Generator().manual_seed(seed)
    hidden = cfg.text.hidden_size
    head = torch.randn(cfg.text.vocab_size, hidden, generator=generator) * (4.0 / hidden**0.5)
    return {"lm_head.weight": head.bfloat16().float(), "outlier_channels": torch.randperm(
        hidden, generator=generator)[:outliers]}


@torch.no_grad()
def apply_perturbations(model, changes: dict[str, torch.Tensor], layers: int) -> None:
    """Works on our model and transformers' alike: their parameter names are the checkpoint's."""
    params = dict(model.named_parameters())
    params["lm_head.weight"].copy_(changes["lm_head.weight"].to(params["lm_head.weight"].dtype))
    channels = changes["outlier_channels"]
    for index in range(layers):
        for norm in ("input_layernorm", "post_attention_layernorm"):
            weight = params[f"model.language_model.layers.{index}.{norm}.weight"]
            scaled = weight.float()
            scaled[channels] *= OUTLIER_FACTOR
            weight.copy_(scaled.bfloat16().to(weight.dtype))


def study_inputs(folder: Path, positions: int) -> dict:
    cfg = load_preprocessor_config(folder)
    image = preprocess_images([inputs.region_image()], cfg)
    ids = GlmTokenizer.from_dir(folder).encode_prompt(task_prompt("text"), image.token_counts(cfg.merge_size))
    teacher = torch.randint(0, 59000, (positions,), generator=torch.Generator().manual_seed(1)).tolist()
    return {"ids": ids, "pixels": torch.from_numpy(image.pixels), "grid": image.grid_thw, "teacher": teacher}


# ------------------------------------------------------------------------------------------------ ours


def load_ours(folder: Path, changes: dict, outliers: int):
    # a cache of its own: the user cache is shared with other runs, which may prune it under the study
    model = load_model(folder, dtype=torch.float32, cache_dir=folder.parent / "quant-study-cache").eval()
    apply_perturbations(model, changes, model.cfg.text.num_hidden_layers if outliers else 0)
    return model


def apply_variant(model, recipe: str) -> None:
    gemm = torch.bfloat16 if devices.host_cpu().fast_bf16 else torch.float32
    targets = quantize.quantize_targets(model)
    if recipe == devices.VISION_BF16_RECIPE:
        quantize.vision_bf16_gemms(model)
    if recipe in (devices.FAST_RECIPE, devices.VISION_BF16_RECIPE):
        quantize.quantize_decoder(model, bits=8, gemm_dtype=gemm)
    elif recipe == "int8-groups-plain":
        quantize.quantize_decoder(model, bits=8, gemm_dtype=gemm, keep_outliers=False)
    elif recipe == "int4-groups":
        quantize.quantize_decoder(model, bits=4, gemm_dtype=gemm)
    elif recipe == "old-fast":
        legacy_fast.apply(model, targets)


@torch.inference_mode()
def teacher_forced_ours(model, data: dict, features=None) -> tuple[torch.Tensor, float]:
    """Logits [positions, vocab] predicting each teacher token, and the decode rate (tok/s, noisy)."""
    if features is not None:  # the fp32 vision result, reused by recipes that keep fp32 vision
        model.image_features = lambda pixels, grids: features
    runner = ModelRunner(model)
    logits, state = runner.prefill(data["ids"], data["pixels"], data["grid"], capacity=len(data["ids"]) + 2
                                   + len(data["teacher"]))
    rows = [logits[0].float()]
    start = time.perf_counter()
    for token in data["teacher"][:-1]:
        rows.append(runner.decode(torch.tensor([[token]]), state)[0, -1].float())
    rate = (len(rows) - 1) / (time.perf_counter() - start)
    return torch.stack(rows), rate


# ------------------------------------------------------------------------------------------------ transformers


@torch.inference_mode()
def teacher_forced_transformers(folder: Path, data: dict, changes: dict, outliers: int) -> torch.Tensor:
    """transformers in bf16 (SDPA), one forward over the prompt and the teacher tokens."""
    from transformers import GlmOcrForConditionalGeneration

    model = GlmOcrForConditionalGeneration.from_pretrained(folder, dtype=torch.bfloat16,
                                                           attn_implementation="sdpa").eval()
    apply_perturbations(model, changes, model.config.text_config.num_hidden_layers if outliers else 0)
    ids = torch.tensor([data["ids"] + data["teacher"][:-1]])
    image_id = model.config.image_token_id
    out = model(input_ids=ids, pixel_values=data["pixels"].bfloat16(),
                image_grid_thw=torch.tensor(data["grid"]), mm_token_type_ids=(ids == image_id).int())
    first = len(data["ids"]) - 1
    return out.logits[0, first: first + len(data["teacher"])].float()


# ------------------------------------------------------------------------------------------------ the study


def compare(logits: torch.Tensor, truth: torch.Tensor) -> tuple[float, float]:
    """(top-1 agreement, mean KL(fp32 || variant)) over the positions."""
    agreement = float((logits.argmax(-1) == truth.argmax(-1)).double().mean())
    p_log, q_log = truth.double().log_softmax(-1), logits.double().log_softmax(-1)
    kl = float((p_log.exp() * (p_log - q_log)).sum(-1).mean())
    return agreement, kl


def study(folder: Path, positions: int, outliers: int) -> list[dict]:
    data = study_inputs(folder, positions)
    changes = perturbations(load_model_config(folder), outliers)
    model = load_ours(folder, changes, outliers)
    with torch.inference_mode():
        features = model.image_features(data["pixels"], data["grid"])
    truth, truth_rate = teacher_forced_ours(model, data, features)
    rows = [{"name": "fp32 (exact)", "recipe": "exact", "top1": 1.0, "kl": 0.0, "tok_s": truth_rate}]
    del model
    rows.append(_row(BAR, "bar", teacher_forced_transformers(folder, data, changes, outliers), truth, None))
    for name, recipe in VARIANTS.items():
        model = load_ours(folder, changes, outliers)
        apply_variant(model, recipe)
        keep_vision = recipe != devices.VISION_BF16_RECIPE
        logits, rate = teacher_forced_ours(model, data, features if keep_vision else None)
        rows.append(_row(name, recipe, logits, truth, rate))
        del model
        gc.collect()
    return rows


def _row(name: str, recipe: str, logits: torch.Tensor, truth: torch.Tensor, rate: float | None) -> dict:
    top1, kl = compare(logits, truth)
    print(f"  {name:<60} top-1 {top1:6.1%}  KL {kl:.5f}" + (f"  {rate:5.1f} tok/s" if rate else ""), flush=True)
    return {"name": name, "recipe": recipe, "top1": top1, "kl": kl, "tok_s": rate}


def verdict(rows: list[dict], description: dict, positions: int, outliers: int) -> dict:
    bar = next(row for row in rows if row["recipe"] == "bar")
    recipes = {row["recipe"]: {"name": row["name"], "top1": round(row["top1"], 4), "kl": round(row["kl"], 6),
                               "bar_top1": round(bar["top1"], 4), "bar_kl": round(bar["kl"], 6),
                               "meets_bar": row["top1"] >= bar["top1"] and row["kl"] <= bar["kl"]}
               for row in rows if row["recipe"] not in ("exact", "bar")}
    return {"written_by": "python -m bench.quant_study --verdict", "bar": BAR, "cpu": description["cpu"],
            "date": description["date"], "positions": positions, "outlier_channels": outliers,
            "checkpoint": "bench real-size random weights, every lm_head row random", "recipes": recipes}


def report(rows: list[dict], description: dict, positions: int, outliers: int, command: str,
           size: str = "real") -> str:
    flags = ", ".join(name for name, present in description["flags"].items() if present) or "none of note"
    lines = ["# Fast precision: accuracy against fp32", "",
             f"Generated by `{command}` (the table; the reading after it is `bench/quant_findings.md`).", "",
             f"- CPU: {description['cpu']} ({flags}); torch {description['torch']}, transformers "
             f"{description['transformers']}; {description['date']}",
             f"- Checkpoint: the benchmark's {size}-size random weights, every lm_head row random, {outliers} outlier "
             f"channels ×{OUTLIER_FACTOR:g} in every decoder norm; one 448×448 region (256 image tokens) prefilled, "
             f"then {positions} teacher-forced positions decoded one token per step.",
             "- Top-1: share of positions whose argmax equals fp32's. KL: mean KL(fp32 ‖ recipe) over the positions."
             " The bar is transformers' own bf16 inference on the same weights and inputs.",
             "- Decode tok/s is this shared 2-core machine's rate during the study: noisy, for orientation only.", "",
             "| recipe | top-1 agreement | mean KL | meets the bar | decode tok/s |", "|---|---|---|---|---|"]
    bar = next(row for row in rows if row["recipe"] == "bar")
    for row in rows:
        meets = "—" if row["recipe"] in ("exact", "bar") else (
            "yes" if row["top1"] >= bar["top1"] and row["kl"] <= bar["kl"] else "no")
        rate = f"{row['tok_s']:.1f}" if row["tok_s"] else "—"
        lines.append(f"| {row['name']} | {row['top1']:.1%} | {row['kl']:.5f} | {meets} | {rate} |")
    lines.append("")
    if READING.exists():
        lines += ["## Reading", "", READING.read_text(encoding="utf-8").strip(), ""]
    return "\n".join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.quant_study", description=__doc__.splitlines()[0])
    parser.add_argument("--positions", type=int, default=128, help="teacher-forced positions (default 128)")
    parser.add_argument("--outliers", type=int, default=8, help="outlier channels per norm (default 8; 0: none)")
    parser.add_argument("--size", choices=ckpt.SIZES, default="real", help="tiny: a quick check of the script")
    parser.add_argument("--bench-out", type=Path, default=REPO / "bench" / "out",
                        help="where the benchmark keeps its checkpoint (built on first use)")
    parser.add_argument("--out", type=Path, default=None, help="write the Markdown report here")
    parser.add_argument("--verdict", action="store_true",
                        help=f"write the verdict the auto policy reads ({devices.VERDICT_FILE.name})")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    folder = ckpt.ensure_checkpoint(args.size, args.bench_out / f"ckpt-{args.size}")
    description = machine.describe(REPO)
    rows = study(folder, args.positions, args.outliers)
    command = f"python -m bench.quant_study --size {args.size} --positions {args.positions} --outliers {args.outliers}"
    text = report(rows, description, args.positions, args.outliers, command, args.size)
    print(text)
    summary = {"rows": rows, "machine": description, "positions": args.positions, "outliers": args.outliers}
    (args.bench_out / f"quant-study-{args.size}-{args.outliers}.json").write_text(json.dumps(summary, indent=1))
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    if args.verdict:
        devices.VERDICT_FILE.write_text(json.dumps(verdict(rows, description, args.positions, args.outliers),
                                                   indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
