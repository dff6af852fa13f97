"""Fast-precision study: teacher-forced top-1 agreement with fp32 and decode speed, per int8 variant.

Builds the real-size decoder (random weights, the published text config; a tiny vision tower since it is not
involved) once in fp32, then for each variant copies it, applies the variant and decodes the same 256+ teacher-forced
positions one token at a time (so each step quantizes its activations alone, as real decoding does). It runs twice:
on plain random weights, and with a few outlier channels injected into the pre-attention and pre-MLP norms, which is
how trained LLMs' activation outliers look to a per-tensor activation quantizer.

    python -m bench.quant_study [--positions 256] [--outliers 8] [--out docs/quant-study.md]
"""

from __future__ import annotations

import argparse
import copy
import time
from dataclasses import replace

import torch

from glmocr_core.quantize import quantize_decoder, smooth_decoder
from glmocr_core.synthetic import random_model, real_config, tiny_config

VARIANTS = {
    "fp32 (exact)": dict(),
    "int8 all linears + lm_head": dict(quantize=True, lm_head=True),
    "int8 decoder, lm_head fp32": dict(quantize=True, lm_head=False),
    "int8 MLP only, lm_head fp32": dict(quantize=True, lm_head=False, mlp_only=True),
    "smooth(0.5) + int8 decoder, lm_head fp32": dict(quantize=True, lm_head=False, smooth=0.5),
    "smooth(0.5) + int8 all + lm_head": dict(quantize=True, lm_head=True, smooth=0.5),
}


def build_model(outliers: int, seed: int = 0):
    cfg = replace(real_config(), vision=tiny_config().vision)
    model = random_model(cfg, seed=seed).eval()
    with torch.no_grad():
        hidden = cfg.text.hidden_size
        model.lm_head.weight.normal_(0.0, 4.0 / hidden**0.5)  # every row competes, as in a trained head
        if outliers:
            channels = torch.randperm(hidden, generator=torch.Generator().manual_seed(seed))[:outliers]
            for layer in model.language_model.layers:
                layer.input_layernorm.weight[channels] *= 30.0
                layer.post_attention_layernorm.weight[channels] *= 30.0
    return model


def apply_variant(model, quantize=False, lm_head=True, mlp_only=False, smooth=None):
    if smooth is not None:
        smooth_decoder(model, alpha=smooth)
    if quantize:
        quantize_decoder(model, include_lm_head=lm_head, mlp_only=mlp_only)
    return model


@torch.inference_mode()
def teacher_forced(model, tokens: list[int], prefix: int):
    """Greedy choices and logits at each position after ``prefix``, feeding the given tokens one by one."""
    logits, state = model.prefill(tokens[:prefix], None, [], capacity=len(tokens) + 1)
    choices, rows = [int(logits[0].argmax())], [logits[0].float()]
    start = time.perf_counter()
    for token in tokens[prefix:-1]:
        step = model.decode(torch.tensor([[token]]), state)[0, -1].float()
        choices.append(int(step.argmax()))
        rows.append(step)
    return choices, torch.stack(rows), (len(tokens) - prefix - 1) / (time.perf_counter() - start)


def study(outliers: int, positions: int, prefix: int = 16) -> list[tuple]:
    base = build_model(outliers)
    tokens = torch.randint(0, 59000, (prefix + positions + 1,), generator=torch.Generator().manual_seed(1)).tolist()
    reference_choices, reference_logits, reference_speed = teacher_forced(base, tokens, prefix)
    rows = []
    for name, options in VARIANTS.items():
        model = apply_variant(copy.deepcopy(base), **options) if options else base
        choices, logits, speed = teacher_forced(model, tokens, prefix)
        agreement = sum(a == b for a, b in zip(choices, reference_choices)) / len(choices)
        error = ((logits - reference_logits).abs().max() / reference_logits.abs().max()).item()
        rows.append((name, agreement, error, speed, speed / reference_speed))
        print(f"  outliers={outliers:<3} {name:<42} top-1 {agreement:6.1%}  rel. logit err {error:7.4f}  "
              f"{speed:5.1f} tok/s ({speed / reference_speed:4.2f}x)", flush=True)
        del model
    return rows


def report(results: dict, positions: int) -> str:
    lines = [f"Teacher-forced top-1 agreement with fp32 over {positions} positions, real-size decoder "
             f"(random weights), decode one token per step on this CPU.", ""]
    for outliers, rows in results.items():
        lines += [f"### {'with ' + str(outliers) + ' outlier channels' if outliers else 'plain random weights'}", "",
                  "| variant | top-1 agreement | max rel. logit error | decode tok/s | vs fp32 |",
                  "|---|---|---|---|---|"]
        lines += [f"| {n} | {a:.1%} | {e:.4f} | {s:.1f} | {r:.2f}x |" for n, a, e, s, r in rows]
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--positions", type=int, default=256)
    parser.add_argument("--outliers", type=int, default=8)
    parser.add_argument("--out", default=None, help="write the Markdown table here")
    args = parser.parse_args()
    torch.manual_seed(0)
    results = {n: study(n, args.positions) for n in (0, args.outliers)}
    text = report(results, args.positions)
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")


if __name__ == "__main__":
    main()
