"""F, the appearance feature extractor (LivePortrait §3.1).

I_s (B,3,256,256) in [0,1] -> f_s (B,32,16,64,64): a 2D conv encoder whose 512 output channels are
read as 32 feature channels x 16 depth slices (channel index = c*16 + d), refined by 3D residual blocks.
"""
from __future__ import annotations

import torch
from torch import nn

from ..config import AppearanceConfig
from .blocks import ConvNormAct2d, DownBlock2d, ResBlock3d


class AppearanceFeatureExtractor(nn.Module):
    def __init__(self, cfg: AppearanceConfig):
        super().__init__()
        self.cfg = cfg
        self.first = ConvNormAct2d(cfg.image_channel, cfg.block_expansion)
        chans = [min(cfg.max_features, cfg.block_expansion * 2 ** i) for i in range(cfg.num_down_blocks + 1)]
        self.down_blocks = nn.ModuleList(DownBlock2d(chans[i], chans[i + 1]) for i in range(cfg.num_down_blocks))
        self.second = nn.Conv2d(chans[-1], cfg.max_features, 1)
        self.resblocks_3d = nn.Sequential()
        for i in range(cfg.num_resblocks):
            self.resblocks_3d.add_module(f"3dr{i}", ResBlock3d(cfg.reshape_channel))

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        x = self.first(img)                                  # B,64,256,256
        for block in self.down_blocks:
            x = block(x)                                     # B,128,128,128 -> B,256,64,64
        x = self.second(x)                                   # B,512,64,64
        b, _, h, w = x.shape
        x = x.view(b, self.cfg.reshape_channel, self.cfg.reshape_depth, h, w)  # B,32,16,64,64
        return self.resblocks_3d(x)                          # f_s: B,32,16,64,64
