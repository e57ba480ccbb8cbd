"""G, the SPADE decoder (LivePortrait §3.1): warped feature (B,256,64,64) -> image (B,3,512,512) in (0,1)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..config import GeneratorConfig
from .blocks import LEAKY_SLOPE_G
from .spade import SPADEResBlock


class SPADEGenerator(nn.Module):
    def __init__(self, cfg: GeneratorConfig):
        super().__init__()
        self.cfg = cfg
        label_nc = min(cfg.max_features, cfg.block_expansion * 2 ** cfg.num_down_blocks)   # 256
        width = 2 * label_nc                                                                # 512
        self.fc = nn.Conv2d(label_nc, width, 3, padding=1)
        for i in range(cfg.num_middle_blocks):
            self.add_module(f"G_middle_{i}", SPADEResBlock(width, width, label_nc, cfg.spade_hidden))
        self.up_0 = SPADEResBlock(width, label_nc, label_nc, cfg.spade_hidden)
        self.up_1 = SPADEResBlock(label_nc, cfg.out_channels, label_nc, cfg.spade_hidden)
        if cfg.upscale > 1:
            self.conv_img = nn.Sequential(nn.Conv2d(cfg.out_channels, 3 * cfg.upscale ** 2, 3, padding=1),
                                          nn.PixelShuffle(cfg.upscale))
        else:
            self.conv_img = nn.Conv2d(cfg.out_channels, 3, 3, padding=1)

    def forward(self, feature: torch.Tensor) -> torch.Tensor:
        seg = feature                                         # B,256,64,64
        x = self.fc(feature)                                  # B,512,64,64
        for i in range(self.cfg.num_middle_blocks):
            x = getattr(self, f"G_middle_{i}")(x, seg)        # B,512,64,64
        x = self.up_0(F.interpolate(x, scale_factor=2, mode="nearest"), seg)   # B,256,128,128
        x = self.up_1(F.interpolate(x, scale_factor=2, mode="nearest"), seg)   # B,64,256,256
        x = self.conv_img(F.leaky_relu(x, LEAKY_SLOPE_G))     # B,3,512,512
        return torch.sigmoid(x)
