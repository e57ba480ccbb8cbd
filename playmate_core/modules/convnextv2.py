"""ConvNeXt-V2 backbone of M (Woo et al. 2023), with LivePortrait's state-dict names.

(B,3,256,256) -> pooled, LayerNorm-ed feature (B, dims[-1]). Drop-path is the identity at inference
and therefore omitted.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import LN_EPS, LayerNorm2d

GRN_EPS = 1e-6   # added to the channel-mean of the spatial L2 norms


class GRN(nn.Module):
    """Global response normalisation on (B,H,W,C): gamma * (x * Nx) + beta + x,
    Gx = ||x||_2 over (H,W) per channel, Nx = Gx / (mean_C(Gx) + eps)."""

    def __init__(self, dim: int):
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1, 1, 1, dim))
        self.beta = nn.Parameter(torch.zeros(1, 1, 1, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gx = torch.norm(x, p=2, dim=(1, 2), keepdim=True)            # B,1,1,C
        nx = gx / (gx.mean(dim=-1, keepdim=True) + GRN_EPS)          # B,1,1,C
        return self.gamma * (x * nx) + self.beta + x


class ConvNeXtBlock(nn.Module):
    """dwconv 7x7 -> LN -> Linear 4x -> GELU(erf) -> GRN -> Linear -> residual."""

    def __init__(self, dim: int):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=LN_EPS)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.grn = GRN(4 * dim)
        self.pwconv2 = nn.Linear(4 * dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # With a channels-last x both permutes are free views (see ConvNeXtV2.forward_features).
        y = self.dwconv(x).permute(0, 2, 3, 1)               # B,H,W,C
        y = self.pwconv2(self.grn(F.gelu(self.pwconv1(self.norm(y)))))
        return x + y.permute(0, 3, 1, 2)                     # B,C,H,W


class ConvNeXtV2(nn.Module):
    def __init__(self, in_chans: int, depths: tuple, dims: tuple):
        super().__init__()
        self.downsample_layers = nn.ModuleList()
        self.downsample_layers.append(nn.Sequential(nn.Conv2d(in_chans, dims[0], 4, stride=4), LayerNorm2d(dims[0])))
        for i in range(len(dims) - 1):
            self.downsample_layers.append(nn.Sequential(LayerNorm2d(dims[i]), nn.Conv2d(dims[i], dims[i + 1], 2, stride=2)))
        self.stages = nn.ModuleList(nn.Sequential(*[ConvNeXtBlock(dim) for _ in range(depth)])
                                    for depth, dim in zip(depths, dims))
        self.norm = nn.LayerNorm(dims[-1], eps=LN_EPS)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        # Channels-last memory: the NCHW<->NHWC permutes around every block's LayerNorm and Linear
        # layers become views instead of copies (same numbers, faster on CPU).
        x = x.contiguous(memory_format=torch.channels_last)
        for down, stage in zip(self.downsample_layers, self.stages):
            x = stage(down(x))                               # B,96,64,64 ... B,768,8,8
        return self.norm(x.mean((-2, -1)))                   # B,768
