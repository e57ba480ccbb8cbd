"""S, the stitching and retargeting MLPs (LivePortrait §3.2).

stitching: [x_s, x_d] (B,126) -> delta (B,65) = 63 keypoint offsets + (tx, ty);
lip: [x_s, c_s_lip, c_d_lip] (B,65) -> delta (B,63); eye: [x_s, c_s_l, c_s_r, c_d] (B,66) -> delta (B,63).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..face_config import MLPConfig, StitchingConfig


class RetargetMLP(nn.Module):
    """Linear/ReLU stack; state-dict keys mlp.{0,2,4,...}.weight/bias."""

    def __init__(self, cfg: MLPConfig):
        super().__init__()
        sizes = [cfg.input_size, *cfg.hidden_sizes]
        layers = []
        for cin, cout in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(cin, cout), nn.ReLU()]
        layers.append(nn.Linear(sizes[-1], cfg.output_size))
        self.mlp = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Calls the layers' functions directly: these MLPs take microseconds, so per-module call
        # overhead of nn.Sequential would dominate.
        linears = self.mlp[::2]
        for layer in linears[:-1]:
            x = F.relu(F.linear(x, layer.weight, layer.bias))
        return F.linear(x, linears[-1].weight, linears[-1].bias)


class StitchingRetargeting(nn.Module):
    """The three MLPs; attribute names match the checkpoint's top-level keys."""

    def __init__(self, cfg: StitchingConfig):
        super().__init__()
        self.retarget_shoulder = RetargetMLP(cfg.stitching)
        self.retarget_mouth = RetargetMLP(cfg.lip)
        self.retarget_eye = RetargetMLP(cfg.eye)
