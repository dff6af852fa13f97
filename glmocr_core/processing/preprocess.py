"""Image preprocessing: smart resize, bicubic resize, rescale + normalize, patchify into block-major rows.

Bit-exact with the reference PIL processor: PIL bicubic on uint8 RGB, then x*(1/255) in float64 cast to float32,
then (x - mean) / std in float32.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from ..model.config import PreprocessorConfig
from .images import check_aspect_ratio, to_rgb


@dataclass
class ImageInputs:
    pixels: np.ndarray  # [N, C*T*P*P] float32, all images concatenated
    grid_thw: list[list[int]]  # per image: [t, h_patches, w_patches]

    def token_counts(self, merge: int) -> list[int]:
        """LLM tokens per image: t*h*w / merge^2."""
        return [t * h * w // (merge * merge) for t, h, w in self.grid_thw]


def smart_resize(height: int, width: int, cfg: PreprocessorConfig, frames: int | None = None) -> tuple[int, int]:
    """Target (height, width): multiples of patch*merge, aspect kept, pixel budget within [min, max].

    A still image counts as ``temporal_patch_size`` frames against the budget, as in the reference.
    """
    factor, frames = cfg.factor, frames or cfg.temporal_patch_size
    if height < factor or width < factor:
        scale = max(factor / height, factor / width)
        height, width = int(height * scale), int(width * scale)
    check_aspect_ratio(width, height)
    h_bar, w_bar = round(height / factor) * factor, round(width / factor) * factor
    t_bar = round(frames / cfg.temporal_patch_size) * cfg.temporal_patch_size
    if t_bar * h_bar * w_bar > cfg.max_pixels:
        beta = math.sqrt(frames * height * width / cfg.max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif t_bar * h_bar * w_bar < cfg.min_pixels:
        beta = math.sqrt(cfg.min_pixels / (frames * height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def normalize(image: Image.Image, cfg: PreprocessorConfig) -> np.ndarray:
    """RGB uint8 image -> float32 [C, H, W]."""
    x = np.asarray(image).transpose(2, 0, 1)
    if cfg.do_rescale:
        x = (x.astype(np.float64) * cfg.rescale_factor).astype(np.float32)
    else:
        x = x.astype(np.float32)
    if cfg.do_normalize:
        mean = np.array(cfg.image_mean, dtype=np.float32)
        std = np.array(cfg.image_std, dtype=np.float32)
        x = ((x.T - mean) / std).T
    return x


def patchify(x: np.ndarray, cfg: PreprocessorConfig) -> tuple[np.ndarray, int, int]:
    """[C, H, W] -> rows [gh*gw, C*T*P*P]; each merge*merge consecutive rows are one 2x2 window (block-major)."""
    c, height, width = x.shape
    p, m, t = cfg.patch_size, cfg.merge_size, cfg.temporal_patch_size
    gh, gw = height // p, width // p
    blocks = x.reshape(c, gh // m, m, p, gw // m, m, p).transpose(1, 4, 2, 5, 0, 3, 6)
    # a still image is its own temporal pair: repeat the frame along T
    blocks = np.broadcast_to(blocks[:, :, :, :, :, None], (*blocks.shape[:5], t, p, p))
    return np.ascontiguousarray(blocks.reshape(gh * gw, c * t * p * p)), gh, gw


def preprocess_image(image: Image.Image, cfg: PreprocessorConfig) -> tuple[np.ndarray, list[int]]:
    image = to_rgb(image)
    height, width = smart_resize(image.height, image.width, cfg)
    if (width, height) != image.size:
        image = image.resize((width, height), Image.Resampling.BICUBIC)
    rows, gh, gw = patchify(normalize(image, cfg), cfg)
    return rows, [1, gh, gw]


def preprocess_images(images: list[Image.Image], cfg: PreprocessorConfig) -> ImageInputs:
    results = [preprocess_image(image, cfg) for image in images]
    return ImageInputs(np.concatenate([rows for rows, _ in results]), [grid for _, grid in results])
