"""M, the motion extractor (LivePortrait §3.1): image -> canonical keypoints, pose bins, t, exp, scale.

(B,3,256,256) in [0,1] -> raw dict: kp (B,63), exp (B,63), pitch/yaw/roll (B,66) bin logits,
t (B,3), scale (B,1). t and scale are raw linear outputs (no activation). Post-processing to degrees
and (B,21,3) lives in `playmate_core.face.keypoints`.
"""
from __future__ import annotations

import torch
from torch import nn

from ..config import MotionExtractorConfig
from .convnextv2 import ConvNeXtV2

HEADS = ("kp", "scale", "pitch", "yaw", "roll", "t", "exp")


class _Detector(ConvNeXtV2):
    """Backbone plus the seven linear heads, under the checkpoint prefix `detector.`."""

    def __init__(self, cfg: MotionExtractorConfig):
        super().__init__(cfg.in_chans, cfg.depths, cfg.dims)
        d = cfg.dims[-1]
        sizes = {"kp": 3 * cfg.num_kp, "scale": 1, "pitch": cfg.num_bins, "yaw": cfg.num_bins,
                 "roll": cfg.num_bins, "t": 3, "exp": 3 * cfg.num_kp}
        for name in HEADS:
            self.add_module(f"fc_{name}", nn.Linear(d, sizes[name]))

    def forward(self, x: torch.Tensor) -> dict:
        feat = self.forward_features(x)                      # B,768
        return {name: getattr(self, f"fc_{name}")(feat) for name in HEADS}


class MotionExtractor(nn.Module):
    def __init__(self, cfg: MotionExtractorConfig):
        super().__init__()
        self.cfg = cfg
        self.detector = _Detector(cfg)

    def forward(self, img: torch.Tensor) -> dict:
        return self.detector(img)
