"""HGNetV2, the layout model's convolutional backbone (transformers' ``HGNetV2Backbone`` semantics).

A stem of five convolutions (two 2x2 ones on a right/bottom-padded map, beside a max pool), then stages of HG blocks:
each block runs a chain of convolutions, concatenates the input with every intermediate map and squeezes them
back with two 1x1 convolutions. Module names are the checkpoint's (``embedder.stem1.convolution`` ...).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import BackboneConfig
from .layers import BatchNorm2d, FrozenBatchNorm2d, activation


class LearnableAffineBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(1), requires_grad=False)
        self.bias = nn.Parameter(torch.zeros(1), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale * x + self.bias


class HGConv(nn.Module):
    """conv (no bias) -> norm -> activation [-> learnable affine]."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1, act: str | None = "relu",
                 lab: bool = False, frozen: bool = True):
        super().__init__()
        self.convolution = nn.Conv2d(cin, cout, kernel, stride, padding=(kernel - 1) // 2, groups=groups,
                                     bias=False)
        self.normalization = FrozenBatchNorm2d(cout) if frozen else BatchNorm2d(cout)
        self.act = activation(act)
        self.lab = LearnableAffineBlock() if act and lab else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.normalization(self.convolution(x)))
        return self.lab(x) if self.lab is not None else x


class HGConvLight(nn.Module):
    """1x1 conv without activation, then a depthwise k x k conv."""

    def __init__(self, cin: int, cout: int, kernel: int, lab: bool, frozen: bool):
        super().__init__()
        self.conv1 = HGConv(cin, cout, 1, act=None, lab=lab, frozen=frozen)
        self.conv2 = HGConv(cout, cout, kernel, groups=cout, lab=lab, frozen=frozen)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.conv1(x))


class Embedder(nn.Module):
    def __init__(self, cfg: BackboneConfig, frozen: bool):
        super().__init__()
        (c0, c1, c2), s, act, lab = cfg.stem_channels, cfg.stem_strides, cfg.hidden_act, cfg.use_learnable_affine_block
        conv = lambda cin, cout, k, stride: HGConv(cin, cout, k, stride, act=act, lab=lab, frozen=frozen)
        self.stem1 = conv(c0, c1, 3, s[0])
        self.stem2a = conv(c1, c1 // 2, 2, s[1])
        self.stem2b = conv(c1 // 2, c1, 2, s[2])
        self.stem3 = conv(c1 * 2, c1, 3, s[3])
        self.stem4 = conv(c1, c2, 1, s[4])

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:  # [B, 3, H, W] -> [B, c2, H/4, W/4]
        x = F.pad(self.stem1(pixels), (0, 1, 0, 1))
        branch = self.stem2b(F.pad(self.stem2a(x), (0, 1, 0, 1)))
        pooled = F.max_pool2d(x, kernel_size=2, stride=1, ceil_mode=True)
        return self.stem4(self.stem3(torch.cat([pooled, branch], dim=1)))


class HGBlock(nn.Module):
    def __init__(self, cin: int, mid: int, cout: int, num_layers: int, kernel: int, residual: bool, light: bool,
                 lab: bool, frozen: bool):
        super().__init__()
        self.residual = residual
        self.layers = nn.ModuleList(
            HGConvLight(cin if i == 0 else mid, mid, kernel, lab, frozen) if light
            else HGConv(cin if i == 0 else mid, mid, kernel, lab=lab, frozen=frozen)
            for i in range(num_layers))
        total = cin + num_layers * mid
        self.aggregation = nn.Sequential(HGConv(total, cout // 2, 1, lab=lab, frozen=frozen),
                                         HGConv(cout // 2, cout, 1, lab=lab, frozen=frozen))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        maps = [x]
        for layer in self.layers:
            maps.append(layer(maps[-1]))
        out = self.aggregation(torch.cat(maps, dim=1))
        return out + x if self.residual else out


class HGStage(nn.Module):
    def __init__(self, cfg: BackboneConfig, index: int, frozen: bool):
        super().__init__()
        cin, mid, cout = cfg.stage_in_channels[index], cfg.stage_mid_channels[index], cfg.stage_out_channels[index]
        lab = cfg.use_learnable_affine_block
        self.downsample = (HGConv(cin, cin, 3, cfg.stage_downsample_strides[index], groups=cin, act=None,
                                  frozen=frozen) if cfg.stage_downsample[index] else None)
        self.blocks = nn.ModuleList(
            HGBlock(cin if i == 0 else cout, mid, cout, cfg.stage_numb_of_layers[index],
                    cfg.stage_kernel_size[index], residual=i != 0, light=cfg.stage_light_block[index], lab=lab,
                    frozen=frozen)
            for i in range(cfg.stage_num_blocks[index]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.downsample(x) if self.downsample is not None else x
        for block in self.blocks:
            x = block(x)
        return x


class StageList(nn.Module):
    def __init__(self, cfg: BackboneConfig, frozen: bool):
        super().__init__()
        self.stages = nn.ModuleList(HGStage(cfg, i, frozen) for i in range(len(cfg.stage_in_channels)))


class HGNetV2(nn.Module):
    """Returns the maps of ``cfg.out_features`` (strides 4, 8, 16, 32 for the published model)."""

    def __init__(self, cfg: BackboneConfig, frozen: bool = True):
        super().__init__()
        self.out_stages = cfg.out_stages
        self.embedder = Embedder(cfg, frozen)
        self.encoder = StageList(cfg, frozen)

    def forward(self, pixels: torch.Tensor) -> list[torch.Tensor]:
        x, maps = self.embedder(pixels), []
        for stage in self.encoder.stages:
            x = stage(x)
            maps.append(x)
        return [maps[i] for i in self.out_stages]
