"""W, the warping module (LivePortrait §3.1).

W(f_s, x_s, x_d): estimate dense motion and occlusion from the keypoints, warp the source volume
f_s (B,32,16,64,64), fold depth into channels (B,512,64,64), project to (B,256,64,64) and mask by
occlusion. Returns dict(out, deformation, occlusion_map).
"""
from __future__ import annotations

import torch
from torch import nn

from ..config import WarpingConfig
from .blocks import ConvNormAct2d, grid_sample_3d
from .dense_motion import DenseMotionNetwork


class WarpingNetwork(nn.Module):
    def __init__(self, cfg: WarpingConfig):
        super().__init__()
        self.cfg = cfg
        width = cfg.block_expansion * 2 ** cfg.num_down_blocks
        self.dense_motion_network = DenseMotionNetwork(cfg)
        self.third = ConvNormAct2d(cfg.max_features, width, leaky=True)
        self.fourth = nn.Conv2d(width, width, 1)

    def forward(self, f_s: torch.Tensor, x_s: torch.Tensor, x_d: torch.Tensor) -> dict:
        motion = self.dense_motion_network(f_s, x_d, x_s)
        warped = grid_sample_3d(f_s, motion["deformation"])  # B,32,16,64,64
        b, c, d, h, w = warped.shape
        out = self.fourth(self.third(warped.view(b, c * d, h, w)))  # B,256,64,64
        occlusion = motion.get("occlusion_map")
        if occlusion is not None:
            out = out * occlusion
        return {"out": out, "deformation": motion["deformation"], "occlusion_map": occlusion,
                "mask": motion["mask"]}
