"""PP-DocLayoutV3 configuration as data: dataclasses read from the checkpoint's config.json and
preprocessor_config.json (the same reader as the OCR model's, model/config.py).

Defaults are transformers 5.23.0's ``PPDocLayoutV3Config`` / ``HGNetV2Config`` defaults, which describe the published
model, so a config.json that omits a key means what it means to transformers. Unknown keys are ignored.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ModelError
from ..model.config import from_json_dict, read_json

MODEL_TYPE = "pp_doclayout_v3"


@dataclass
class BackboneConfig:
    """HGNetV2 (transformers' ``HGNetV2Config``); ``out_features`` names the stages whose maps leave the backbone."""

    stem_channels: list = field(default_factory=lambda: [3, 32, 48])
    stem_strides: list = field(default_factory=lambda: [2, 1, 1, 2, 1])
    stage_in_channels: list = field(default_factory=lambda: [48, 128, 512, 1024])
    stage_mid_channels: list = field(default_factory=lambda: [48, 96, 192, 384])
    stage_out_channels: list = field(default_factory=lambda: [128, 512, 1024, 2048])
    stage_num_blocks: list = field(default_factory=lambda: [1, 1, 3, 1])
    stage_downsample: list = field(default_factory=lambda: [False, True, True, True])
    stage_downsample_strides: list = field(default_factory=lambda: [2, 2, 2, 2])
    stage_light_block: list = field(default_factory=lambda: [False, False, True, True])
    stage_kernel_size: list = field(default_factory=lambda: [3, 3, 5, 5])
    stage_numb_of_layers: list = field(default_factory=lambda: [6, 6, 6, 6])
    out_features: list = field(default_factory=lambda: ["stage1", "stage2", "stage3", "stage4"])
    # What transformers takes for the stages' output widths when it sizes the encoder's input projections.
    hidden_sizes: list = field(default_factory=lambda: [256, 512, 1024, 2048])
    hidden_act: str = "relu"
    use_learnable_affine_block: bool = False
    num_channels: int = 3

    @property
    def out_stages(self) -> list[int]:
        """Indices into the stage list (0-based) of the stages whose outputs are returned."""
        return [int(name.removeprefix("stage")) - 1 for name in self.out_features]

    @property
    def out_channels(self) -> list[int]:
        return [self.stage_out_channels[i] for i in self.out_stages]

    @property
    def projected_channels(self) -> list[int]:
        """Input widths of the encoder's projections (the maps after the stride-4 one), as transformers sizes
        them; a config where they differ from the stages' real widths cannot run (validate says so)."""
        return [self.hidden_sizes[i] for i in self.out_stages[1:]]


@dataclass
class LayoutConfig:
    backbone: BackboneConfig
    id2label: dict = field(default_factory=dict)
    d_model: int = 256
    encoder_hidden_dim: int = 256
    encoder_in_channels: list = field(default_factory=lambda: [512, 1024, 2048])
    feat_strides: list = field(default_factory=lambda: [8, 16, 32])
    encoder_layers: int = 1
    encoder_ffn_dim: int = 1024
    encoder_attention_heads: int = 8
    encode_proj_layers: list = field(default_factory=lambda: [2])
    positional_encoding_temperature: int = 10000
    encoder_activation_function: str = "gelu"
    activation_function: str = "silu"
    eval_size: list | None = None
    normalize_before: bool = False
    hidden_expansion: float = 1.0
    mask_feature_channels: list = field(default_factory=lambda: [64, 64])
    x4_feat_dim: int = 128
    num_prototypes: int = 32
    mask_enhanced: bool = True
    num_queries: int = 300
    decoder_in_channels: list = field(default_factory=lambda: [256, 256, 256])
    decoder_ffn_dim: int = 1024
    num_feature_levels: int = 3
    decoder_n_points: int = 4
    decoder_layers: int = 6
    decoder_attention_heads: int = 8
    decoder_activation_function: str = "relu"
    learn_initial_query: bool = False
    anchor_image_size: list | None = None
    global_pointer_head_size: int = 64
    layer_norm_eps: float = 1e-5
    batch_norm_eps: float = 1e-5
    freeze_backbone_batch_norms: bool = True
    tie_word_embeddings: bool = True
    model_type: str = MODEL_TYPE

    @property
    def num_labels(self) -> int:
        return len(self.id2label)

    @property
    def labels(self) -> list[str]:
        """Label names by class id."""
        return [self.id2label[i] for i in range(self.num_labels)]

    @classmethod
    def from_dict(cls, data: dict, source: str = "config.json") -> LayoutConfig:
        if data.get("model_type") != MODEL_TYPE:
            raise ModelError(f"model_type is {data.get('model_type')!r}, expected '{MODEL_TYPE}' "
                             "(not a PP-DocLayoutV3 checkpoint)", source)
        backbone = from_json_dict(BackboneConfig, data.get("backbone_config") or {}, source, "backbone_config.")
        config = from_json_dict(cls, data, source, given={"backbone": backbone})
        config.id2label = _label_ids(config.id2label, source)
        config.validate(source)
        return config

    def validate(self, source: str) -> None:
        checks = [
            (self.d_model % self.decoder_attention_heads == 0, "d_model must be a multiple of decoder_attention_heads"),
            (self.encoder_hidden_dim % self.encoder_attention_heads == 0,
             "encoder_hidden_dim must be a multiple of encoder_attention_heads"),
            (self.encoder_hidden_dim % 4 == 0, "encoder_hidden_dim must be a multiple of 4 (2-D sine embedding)"),
            (len(self.backbone.out_features) == len(self.encoder_in_channels) + 1,
             "backbone_config.out_features must name the x4 stage plus one stage per encoder input"),
            (len(self.decoder_in_channels) <= self.num_feature_levels,
             "num_feature_levels must be at least len(decoder_in_channels)"),
            (self.num_labels > 0, "id2label is empty"),
            (self.backbone.projected_channels == self.backbone.out_channels[1:],
             "backbone_config.hidden_sizes must match stage_out_channels for the projected stages"),
        ]
        for ok, message in checks:
            if not ok:
                raise ModelError(message, source)

    def to_dict(self) -> dict:
        """The config.json layout (used by the random-weight checkpoint writer)."""
        top = {k: v for k, v in dataclasses.asdict(self).items() if k != "backbone"}
        top["id2label"] = {str(k): v for k, v in self.id2label.items()}
        top["label2id"] = {v: k for k, v in self.id2label.items()}
        backbone = {"model_type": "hgnet_v2", **dataclasses.asdict(self.backbone)}
        return {"architectures": ["PPDocLayoutV3ForObjectDetection"], **top, "backbone_config": backbone}


def _label_ids(id2label: dict, source: str) -> dict[int, str]:
    try:
        labels = {int(key): str(name) for key, name in id2label.items()}
    except ValueError:
        raise ModelError("id2label keys must be class numbers", source) from None
    if sorted(labels) != list(range(len(labels))):
        raise ModelError("id2label must number its classes 0..N-1", source)
    return labels


@dataclass
class LayoutPreprocessorConfig:
    """``PPDocLayoutV3ImageProcessor``: a fixed-size resize, then rescale and normalize."""

    height: int = field(default=800, metadata={"path": ("size", "height")})
    width: int = field(default=800, metadata={"path": ("size", "width")})
    resample: int = 3  # PIL's numbering: 3 bicubic, 2 bilinear
    do_resize: bool = True
    do_rescale: bool = True
    rescale_factor: float = 1 / 255
    do_normalize: bool = True
    image_mean: list = field(default_factory=lambda: [0.0, 0.0, 0.0])
    image_std: list = field(default_factory=lambda: [1.0, 1.0, 1.0])

    def to_dict(self) -> dict:
        values = dataclasses.asdict(self)
        size = {"height": values.pop("height"), "width": values.pop("width")}
        return {"image_processor_type": "PPDocLayoutV3ImageProcessor", "size": size, **values}


def load_layout_config(model_dir: str | Path) -> LayoutConfig:
    path = Path(model_dir) / "config.json"
    return LayoutConfig.from_dict(read_json(path), str(path))


def load_layout_preprocessor_config(model_dir: str | Path) -> LayoutPreprocessorConfig:
    """preprocessor_config.json is optional: without it the image processor's defaults apply."""
    path = Path(model_dir) / "preprocessor_config.json"
    if not path.exists():
        return LayoutPreprocessorConfig()
    cfg = from_json_dict(LayoutPreprocessorConfig, read_json(path), str(path))
    if cfg.resample not in (2, 3):
        raise ModelError(f"resample {cfg.resample} is not supported (2 bilinear or 3 bicubic)", path)
    return cfg
