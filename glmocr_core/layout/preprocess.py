"""Page image -> the layout model's input, as ``PPDocLayoutV3ImageProcessor`` (transformers 5.23.0, torchvision
backend, on CPU) computes it, without torchvision:

1. RGB (the SDK converts every page with PIL's ``convert("RGB")`` before the processor sees it);
2. resize to the fixed size on the uint8 image with ``interpolate(..., antialias=False, align_corners=False)``,
   which is what torchvision's resize runs for uint8 bicubic on CPU (uint8 in, uint8 out, rounded by the kernel);
3. rescale and normalize fused as the processor fuses them: ``(x - mean / f) / (std / f)`` in float32, with
   ``f = rescale_factor`` (so the published mean 0 / std 1 gives x / 255, not x * (1/255)).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .config import LayoutPreprocessorConfig

MODES = {2: "bilinear", 3: "bicubic"}


def image_tensor(image: Image.Image) -> torch.Tensor:
    """PIL image -> uint8 [3, H, W]."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    return torch.from_numpy(np.asarray(rgb).copy()).permute(2, 0, 1).contiguous()


def resize(pixels: torch.Tensor, cfg: LayoutPreprocessorConfig) -> torch.Tensor:
    """uint8 [3, H, W] -> uint8 [3, height, width] (unchanged when it already has that size, as torchvision)."""
    if not cfg.do_resize or tuple(pixels.shape[-2:]) == (cfg.height, cfg.width):
        return pixels
    out = F.interpolate(pixels.unsqueeze(0), size=[cfg.height, cfg.width], mode=MODES[cfg.resample],
                        align_corners=False, antialias=False)
    return out[0]


def normalize(pixels: torch.Tensor, cfg: LayoutPreprocessorConfig) -> torch.Tensor:
    """uint8 [3, h, w] -> float32 [3, h, w]."""
    x = pixels.to(torch.float32)
    if cfg.do_normalize:
        mean, std = torch.tensor(cfg.image_mean), torch.tensor(cfg.image_std)
        if cfg.do_rescale:
            mean, std = mean * (1.0 / cfg.rescale_factor), std * (1.0 / cfg.rescale_factor)
        return (x - mean.to(torch.float32).view(-1, 1, 1)) / std.to(torch.float32).view(-1, 1, 1)
    return x * cfg.rescale_factor if cfg.do_rescale else x


def preprocess(images: list[Image.Image], cfg: LayoutPreprocessorConfig) -> torch.Tensor:
    """Pages -> float32 pixel_values [B, 3, height, width] (all pages get the same fixed size)."""
    return torch.stack([normalize(resize(image_tensor(image), cfg), cfg) for image in images])
