"""Random-weight PP-DocLayoutV3 checkpoints in the published layout (``PaddlePaddle/PP-DocLayoutV3_safetensors``:
config.json, preprocessor_config.json, model.safetensors with transformers' on-disk tensor names), for tests and
benchmarks.

The file holds what transformers' ``save_pretrained`` writes: every tensor of the model, a ``num_batches_tracked``
counter for each batch norm outside the frozen backbone, and not the decoder heads tied to the encoder's.
Batch-norm statistics and scales are randomized (a skipped or misplaced norm shows), and the class bias is pushed
down so that a few dozen of the 300 x 25 scores clear the SDK's 0.3 threshold, as on a real page.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import nn

from ..checkpoint.layout import WEIGHTS_FILE
from ..layout.backbone import LearnableAffineBlock
from ..layout.config import BackboneConfig, LayoutConfig, LayoutPreprocessorConfig
from ..layout.layers import BatchNorm2d, FrozenBatchNorm2d
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
