"""PP-DocLayoutV3 for object detection: backbone -> hybrid encoder -> query selection -> decoder -> heads.

Module names are the published checkpoint's (``model.backbone.model.embedder...``, ``model.encoder.encoder.0...``,
``model.decoder.layers.0.fc1...``), so ``state_dict()`` names are the file's tensor names. Inference only: the
denoising embedding is kept because the checkpoint holds it; training paths are absent.

Semantics are transformers 5.23.0's ``PPDocLayoutV3ForObjectDetection`` in eval mode; two outputs it computes and
throws away are skipped: the masks, class and order logits of every decoder layer but the last, and (with
``mask_enhanced``, where mask boxes replace them) the encoder box head's proposals.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .backbone import HGNetV2
from .config import LayoutConfig
from .decoder import Decoder
from .encoder import HybridEncoder
from .heads import GlobalPointer, anchors, mask_boxes, query_masks
from .layers import PredictionHead, inverse_sigmoid, projection


@dataclass
class LayoutOutput:
    logits: torch.Tensor  # [B, Q, num_labels] class logits (sigmoid scores)
    pred_boxes: torch.Tensor  # [B, Q, 4] (cx, cy, w, h) in [0, 1] of the input
    order_logits: torch.Tensor  # [B, Q, Q] pairwise reading-order logits (upper triangle)
    out_masks: torch.Tensor | None  # [B, Q, H/4, W/4] mask logits (None when not asked for)


class ConvEncoder(nn.Module):
    def __init__(self, cfg: LayoutConfig):
        super().__init__()
        self.model = HGNetV2(cfg.backbone, frozen=cfg.freeze_backbone_batch_norms)

    def forward(self, pixels: torch.Tensor) -> list[torch.Tensor]:
        return self.model(pixels)


class PPDocLayoutV3Model(nn.Module):
    def __init__(self, cfg: LayoutConfig):
        super().__init__()
        self.cfg, d = cfg, cfg.d_model
        self.backbone = ConvEncoder(cfg)
        self.encoder_input_proj = nn.ModuleList(projection(c, cfg.encoder_hidden_dim, 1e-5)
                                                for c in cfg.backbone.projected_channels)
        self.encoder = HybridEncoder(cfg)
        self.denoising_class_embed = nn.Embedding(cfg.num_labels, d)  # training only
        if cfg.learn_initial_query:
            self.weight_embedding = nn.Embedding(cfg.num_queries, d)
        self.enc_output = nn.Sequential(nn.Linear(d, d), nn.LayerNorm(d, eps=cfg.layer_norm_eps))
        self.enc_score_head = nn.Linear(d, cfg.num_labels)
        self.enc_bbox_head = PredictionHead(d, d, 4, num_layers=3)
        self.decoder_input_proj = _decoder_projections(cfg)
        self.decoder = Decoder(cfg)
        if not cfg.tie_word_embeddings:
            self.decoder.class_embed = nn.Linear(d, cfg.num_labels)
            self.decoder.bbox_embed = PredictionHead(d, d, 4, num_layers=3)
        self.decoder_order_head = nn.ModuleList(nn.Linear(d, d) for _ in range(cfg.decoder_layers))
        self.decoder_global_pointer = GlobalPointer(d, cfg.global_pointer_head_size)
        self.decoder_norm = nn.LayerNorm(d, eps=cfg.layer_norm_eps)
        self.mask_query_head = PredictionHead(d, d, cfg.num_prototypes, num_layers=3)

    @property
    def class_embed(self) -> nn.Module:
        return self.enc_score_head if self.cfg.tie_word_embeddings else self.decoder.class_embed

    @property
    def bbox_embed(self) -> nn.Module:
        return self.enc_bbox_head if self.cfg.tie_word_embeddings else self.decoder.bbox_embed

    def forward(self, pixels: torch.Tensor, masks: bool = True) -> LayoutOutput:  # [B, 3, H, W]
        """``masks=False`` skips the final masks (only polygon outlines would read them)."""
        x4, *maps = self.backbone(pixels)
        pan, prototypes = self.encoder([proj(m) for proj, m in zip(self.encoder_input_proj, maps)], x4)
        memory, shapes = self._memory(pan)
        queries, boxes_unact = self._select_queries(memory, shapes, prototypes)
        hidden, boxes = self.decoder(queries, boxes_unact, memory, shapes, self.bbox_embed)
        return self._heads(hidden, boxes, prototypes if masks else None)

    def _memory(self, pan: list[torch.Tensor]) -> tuple[torch.Tensor, list[tuple[int, int]]]:
        """The decoder's memory [B, S, D]: every level projected and flattened; extra levels from the coarsest."""
        sources = [proj(x) for proj, x in zip(self.decoder_input_proj, pan)]
        for proj in self.decoder_input_proj[len(pan):]:
            sources.append(proj(pan[-1]))
        shapes = [tuple(s.shape[-2:]) for s in sources]
        return torch.cat([s.flatten(2).transpose(1, 2) for s in sources], 1), shapes

    def _select_queries(self, memory: torch.Tensor, shapes, prototypes: torch.Tensor):
        """The top-``num_queries`` memory cells by best class logit: their features [B, Q, D] and initial boxes as
        logits [B, Q, 4] (from their masks when ``mask_enhanced``, else from the encoder box head + anchors)."""
        grid, valid = self._anchors(shapes, memory)
        output = self.enc_output(valid.to(memory.dtype) * memory)
        top = torch.topk(self.enc_score_head(output).max(-1).values, self.cfg.num_queries, dim=1).indices
        target = _gather_rows(output, top)
        if self.cfg.mask_enhanced:
            masks = query_masks(self.mask_query_head(self.decoder_norm(target)), prototypes)
            boxes_unact = inverse_sigmoid(mask_boxes(masks > 0, dtype=memory.dtype))
        else:
            boxes_unact = self.enc_bbox_head(target) + _gather_rows(grid.expand(len(top), -1, -1), top)
        if self.cfg.learn_initial_query:
            target = self.weight_embedding.weight.unsqueeze(0).tile([len(top), 1, 1])
        return target, boxes_unact

    def _anchors(self, shapes, memory: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.cfg.anchor_image_size:
            height, width = self.cfg.anchor_image_size
            shapes = [(int(height / s), int(width / s)) for s in self.cfg.feat_strides]
        return anchors(tuple(shapes), 0.05, str(memory.device), memory.dtype)

    def _heads(self, hidden: torch.Tensor, boxes: torch.Tensor, prototypes: torch.Tensor | None) -> LayoutOutput:
        """Class, mask and order outputs of the last decoder layer."""
        out = self.decoder_norm(hidden)
        order = self.decoder_global_pointer(self.decoder_order_head[-1](out[:, -self.cfg.num_queries:]))
        masks = query_masks(self.mask_query_head(out), prototypes) if prototypes is not None else None
        return LayoutOutput(self.class_embed(out), boxes, order, masks)


def _decoder_projections(cfg: LayoutConfig) -> nn.ModuleList:
    projections = [projection(c, cfg.d_model, cfg.batch_norm_eps) for c in cfg.decoder_in_channels]
    cin = cfg.decoder_in_channels[-1]
    for _ in range(cfg.num_feature_levels - len(cfg.decoder_in_channels)):
        projections.append(projection(cin, cfg.d_model, cfg.batch_norm_eps, kernel=3, stride=2))
        cin = cfg.d_model
    return nn.ModuleList(projections)


def _gather_rows(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """x [B, S, D], index [B, K] -> [B, K, D]."""
    return x.gather(dim=1, index=index.unsqueeze(-1).repeat(1, 1, x.shape[-1]))


class PPDocLayoutV3(nn.Module):
    """The checkpoint's top level (``model.*``)."""

    def __init__(self, cfg: LayoutConfig):
        super().__init__()
        self.cfg = cfg
        self.model = PPDocLayoutV3Model(cfg)

    def forward(self, pixels: torch.Tensor, masks: bool = True) -> LayoutOutput:
        return self.model(pixels, masks)
