"""Random-weight PP-DocLayoutV3 checkpoints in the published layout (``PaddlePaddle/PP-DocLayoutV3_safetensors``:
config.json, preprocessor_config.json, model.safetensors with transformers' on-disk tensor names), for tests and
benchmarks.

The file holds what transformers' ``save_pretrained`` writes: every tensor of the model, a ``num_batches_tracked``
counter for each batch norm outside the frozen backbone, and not the decoder heads tied to the encoder's.
Batch-norm statistics and scales are randomized (a skipped or misplaced norm shows), and the class bias is pushed
down so that a few dozen of the 300 x 25 scores clear the SDK's 0.3 threshold, as on a real page.

``build_planned_layout_checkpoint`` writes a checkpoint whose detections a test chooses: the regions it names (label,
box as fractions of the page, score), in that reading order, on every page. How: the decoder starts from learned
queries (``learn_initial_query``), one code per planned region, and every residual branch of the decoder writes
zero, so what reaches the heads is that code whatever the page shows; the mask branch is silent, so every query
starts from the same box; the heads then read the code off: the class head gives the planned label its score, the
box head moves the box to the planned one over the decoder layers, and the global pointer orders the codes.
The backbone and encoder keep random weights, so the whole model still runs (and costs what it costs).
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import nn

from ..checkpoint.layout import WEIGHTS_FILE
from ..layout.backbone import LearnableAffineBlock
from ..layout.config import BackboneConfig, LayoutConfig, LayoutPreprocessorConfig
from ..layout.layers import BatchNorm2d, FrozenBatchNorm2d, inverse_sigmoid
from ..layout.model import PPDocLayoutV3

SDK_LABELS = ["abstract", "algorithm", "aside_text", "chart", "content", "display_formula", "doc_title",
              "figure_title", "footer", "footer_image", "footnote", "formula_number", "header", "header_image",
              "image", "inline_formula", "number", "paragraph_title", "reference", "reference_content", "seal",
              "table", "text", "vertical_text", "vision_footnote"]


def tiny_config(num_queries: int = 60, decoder_layers: int = 2) -> LayoutConfig:
    """Every structural feature of the published model (light and plain HG stages, AIFI, FPN/PAN, mask branch,
    deformable decoder, global pointer) at a few hundred thousand parameters."""
    backbone = BackboneConfig(stem_channels=[3, 8, 8], stage_in_channels=[8, 16, 24, 32],
                              stage_mid_channels=[8, 8, 8, 8], stage_out_channels=[16, 24, 32, 48],
                              hidden_sizes=[16, 24, 32, 48],
                              stage_num_blocks=[1, 1, 2, 1], stage_numb_of_layers=[2, 2, 2, 2])
    return LayoutConfig(backbone=backbone, id2label=dict(enumerate(SDK_LABELS)), d_model=32,
                        encoder_hidden_dim=32, encoder_in_channels=[24, 32, 48], encoder_ffn_dim=64,
                        encoder_attention_heads=4, mask_feature_channels=[16, 16], x4_feat_dim=16,
                        num_prototypes=8, num_queries=num_queries, decoder_in_channels=[32, 32, 32],
                        decoder_ffn_dim=64, decoder_layers=decoder_layers, decoder_attention_heads=4,
                        global_pointer_head_size=16)


def real_config() -> LayoutConfig:
    """The published shape (33.2 M parameters): the config classes' defaults are transformers' defaults, which
    describe the published model (a test checks this against the shared reference config.json)."""
    return LayoutConfig(backbone=BackboneConfig(), id2label=dict(enumerate(SDK_LABELS)))


@torch.no_grad()
def random_model(cfg: LayoutConfig, seed: int = 0, class_bias: float = -3.0, class_scale: float = 16.0) -> PPDocLayoutV3:
    """Random weights that keep a signal through every part (variance-preserving init), with the heads shaped so
    that queries differ: their class scores spread around ``class_bias`` and their boxes shrink from the full-page
    mask boxes of a random mask branch to a fraction of the page over the decoder's refinements."""
    torch.manual_seed(seed)
    model = PPDocLayoutV3(cfg)
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            module.weight.normal_(0.0, math.sqrt(2.0 / module.weight[0].numel()))
        elif isinstance(module, nn.Linear):
            module.weight.normal_(0.0, 1.0 / math.sqrt(module.in_features))
        elif isinstance(module, BatchNorm2d):
            _randomize_norm(module)
        elif isinstance(module, LearnableAffineBlock):
            module.scale.normal_(1.0, 0.1)
            module.bias.normal_(0.0, 0.05)
    _shape_heads(model.model, cfg, class_bias, class_scale)
    return model.eval()


def _shape_heads(model, cfg: LayoutConfig, class_bias: float, class_scale: float) -> None:
    for head in {id(h): h for h in (model.enc_score_head, model.class_embed)}.values():
        head.weight.mul_(class_scale)
        head.bias.copy_(class_bias + 0.1 * torch.randn_like(head.bias))
    for head in {id(h): h for h in (model.enc_bbox_head, model.bbox_embed)}.values():
        last = head.layers[-1]
        last.weight.mul_(2.0)
        # a full-page box is logit 11.5 (inverse_sigmoid clamps at 1e-5); after all layers w, h end near logit -1
        last.bias.copy_(torch.tensor([0.0, 0.0, -12.5 / cfg.decoder_layers, -12.5 / cfg.decoder_layers]))


def _randomize_norm(norm: BatchNorm2d) -> None:
    norm.weight.copy_(1.0 + 0.1 * torch.randn_like(norm.weight))
    norm.bias.copy_(0.05 * torch.randn_like(norm.bias))
    norm.running_mean.copy_(0.05 * torch.randn_like(norm.running_mean))
    norm.running_var.copy_(torch.empty_like(norm.running_var).uniform_(0.5, 1.5))


def published_state(model: PPDocLayoutV3, dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """The tensors as the published file names them: the model's own plus the batch-norm counters."""
    state = {name: t.detach().to(dtype).contiguous() for name, t in model.state_dict().items()}
    for name, module in model.named_modules():
        if isinstance(module, BatchNorm2d) and not isinstance(module, FrozenBatchNorm2d):
            state[f"{name}.num_batches_tracked"] = torch.zeros((), dtype=torch.int64)
    return state


def write_checkpoint(model: PPDocLayoutV3, out_dir: str | Path, dtype: torch.dtype = torch.float32,
                     preprocessor: LayoutPreprocessorConfig | None = None) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_file(published_state(model, dtype), str(out / WEIGHTS_FILE), metadata={"format": "pt"})
    config = {**model.cfg.to_dict(), "dtype": str(dtype).removeprefix("torch."), "transformers_version": "5.23.0"}
    _write_json(out / "config.json", config)
    _write_json(out / "preprocessor_config.json", (preprocessor or LayoutPreprocessorConfig()).to_dict())
    return out


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")


def build_tiny_layout_checkpoint(out_dir: str | Path, seed: int = 0, **config_kwargs) -> Path:
    """A tiny random checkpoint (well under 1 MB) that transformers' PPDocLayoutV3ForObjectDetection loads."""
    return write_checkpoint(random_model(tiny_config(**config_kwargs), seed), out_dir)


# ---- planned detections ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedRegion:
    """One detection a planned checkpoint makes on every page: ``box`` is (x0, y0, x1, y1) as fractions of the page
    (0..1, exclusive of the edges), in reading order of the list it is part of."""

    label: str
    box: tuple[float, float, float, float]
    score: float = 0.9


PLANNED_CLASS_BIAS = -12.0  # every score but the planned ones: sigmoid(-12) = 6e-6, below any threshold
PLANNED_ORDER_MARGIN = 10.0  # order logit per step of reading order: sigmoid(10) = 0.99995


def planned_config(regions: list[PlannedRegion], base: LayoutConfig | None = None) -> LayoutConfig:
    """``base`` (default: the tiny config) with learned initial queries and a model width holding one two-channel
    code per region."""
    base = base or tiny_config(num_queries=max(60, len(regions)))
    width = max(base.d_model, 4 * math.ceil(len(regions) / 2))
    return dataclasses.replace(base, learn_initial_query=True, d_model=width,
                               num_queries=max(base.num_queries, len(regions)))


@torch.no_grad()
def planned_model(regions: list[PlannedRegion], base: LayoutConfig | None = None, seed: int = 0) -> PPDocLayoutV3:
    cfg = planned_config(regions, base)
    unknown = sorted({r.label for r in regions} - set(cfg.labels))
    if unknown:
        raise ValueError(f"labels {unknown} are not among the model's labels")
    model = random_model(cfg, seed)
    inner = model.model
    channels = _plan_codes(inner, cfg, len(regions))
    _silence_decoder(inner)
    per_layer, final = _code_values(inner, channels)
    _plan_classes(inner.class_embed, cfg, regions, channels, final)
    _plan_boxes(inner.bbox_embed, regions, channels, per_layer)
    _plan_order(inner, cfg, channels, final)
    return model.eval()


def _plan_codes(model, cfg: LayoutConfig, count: int) -> list[int]:
    """Query i < count gets +s on channel 2i and -s on channel 2i + 1 (mean 0, variance 1, which the layer norms
    keep); the other queries are zero (and stay zero). Returns each code's positive channel."""
    strength = math.sqrt(cfg.d_model / 2)
    embedding = model.weight_embedding.weight
    embedding.zero_()
    for i in range(count):
        embedding[i, 2 * i], embedding[i, 2 * i + 1] = strength, -strength
    return [2 * i for i in range(count)]


def _silence_decoder(model) -> None:
    """Residual branches that write zero and layer norms without scale or shift: a query leaves every decoder layer
    as it came in (up to the norms' eps); the mask queries are zero, so every query's first box is the empty mask's
    box."""
    for layer in model.decoder.layers:
        for linear in (layer.self_attn.out_proj, layer.encoder_attn.output_proj, layer.fc2):
            linear.weight.zero_()
            linear.bias.zero_()
        for norm in _layer_norms(layer):
            norm.weight.fill_(1.0)
            norm.bias.zero_()
    model.decoder_norm.weight.fill_(1.0)
    model.decoder_norm.bias.zero_()
    for linear in model.mask_query_head.layers:
        linear.weight.zero_()
        linear.bias.zero_()


def _layer_norms(layer) -> tuple:
    return layer.self_attn_layer_norm, layer.encoder_attn_layer_norm, layer.final_layer_norm


def _code_values(model, channels: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Each code's positive-channel value after every decoder layer [layers, count] and at the heads [count]: each
    norm divides by sqrt(variance + eps), so the value shrinks by a few parts in 1e5 per norm."""
    x = model.weight_embedding.weight[: len(channels)]
    rows = torch.arange(len(channels))
    per_layer = []
    for layer in model.decoder.layers:
        for norm in _layer_norms(layer):
            x = norm(x)
        per_layer.append(x[rows, channels])
    return torch.stack(per_layer).double(), model.decoder_norm(x)[rows, channels].double()


def _plan_classes(head, cfg: LayoutConfig, regions: list[PlannedRegion], channels, values) -> None:
    head.weight.zero_()
    head.bias.fill_(PLANNED_CLASS_BIAS)
    for region, channel, value in zip(regions, channels, values.tolist()):
        logit = math.log(region.score / (1.0 - region.score))
        head.weight[cfg.labels.index(region.label), channel] = (logit - PLANNED_CLASS_BIAS) / value


def _plan_boxes(head, regions: list[PlannedRegion], channels, per_layer: torch.Tensor) -> None:
    """The box head passes the code's positive channel through its ReLU layers; its last layer adds a step to the
    box logits at every decoder layer, and the steps add up to the planned box."""
    first, *middle, last = head.layers
    for linear in (first, *middle):
        linear.weight.copy_(torch.eye(*linear.weight.shape))
        linear.bias.zero_()
    last.weight.zero_()
    last.bias.zero_()
    start = inverse_sigmoid(torch.sigmoid(inverse_sigmoid(torch.zeros((), dtype=torch.float64))))  # empty mask box
    for index, (region, channel) in enumerate(zip(regions, channels)):
        x0, y0, x1, y1 = region.box
        target = torch.tensor([(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0], dtype=torch.float64)
        total = torch.log(target / (1 - target)) - start
        last.weight[:, channel] = (total / per_layer[:, index].sum()).to(last.weight.dtype)


def _plan_order(model, cfg: LayoutConfig, channels, values) -> None:
    """Order logit (i, j) = margin * (r_j - r_i), r the position in the plan from 1 (zero queries: r = 0), from
    pointer queries (a, -a r) and keys (a r, a)."""
    head = model.decoder_order_head[-1]
    head.weight.copy_(torch.eye(cfg.d_model))
    head.bias.zero_()
    dense, size = model.decoder_global_pointer.dense, cfg.global_pointer_head_size
    scale = math.sqrt(PLANNED_ORDER_MARGIN * math.sqrt(size))
    dense.weight.zero_()
    dense.bias.zero_()
    dense.bias[0], dense.bias[size + 1] = scale, scale
    for rank, (channel, value) in enumerate(zip(channels, values.tolist()), start=1):
        dense.weight[1, channel] = -scale * rank / value
        dense.weight[size, channel] = scale * rank / value


def build_planned_layout_checkpoint(out_dir: str | Path, regions: list[PlannedRegion], seed: int = 0,
                                    base: LayoutConfig | None = None, input_size: int = 320) -> Path:
    """A checkpoint that detects ``regions`` (in that reading order) on every page. ``input_size``: the model's
    square input (a multiple of 32; the detections do not depend on it, a small one keeps tests quick)."""
    preprocessor = LayoutPreprocessorConfig(height=input_size, width=input_size)
    return write_checkpoint(planned_model(regions, base, seed), out_dir, preprocessor=preprocessor)
