"""Dense motion estimator inside W (LivePortrait §3.1, after face-vid2vid).

Inputs: the source volume f_s (B,C,D,H,W) and implicit keypoints x_s, x_d (B,N,3) in [-1,1]^3.
Outputs: deformation (B,D,H,W,3), a grid for `grid_sample`; occlusion (B,1,H,W) in (0,1); and the
softmax mask (B,N+1,D,H,W) over the background + N keypoint translation hypotheses.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..config import WarpingConfig
from .blocks import DownBlock3d, UpBlock3d, coordinate_grid_3d, grid_sample_3d

KP_VARIANCE = 0.01   # variance of the keypoint gaussians in normalised [-1,1] units


class HourglassEncoder(nn.Module):
    def __init__(self, block_expansion: int, in_features: int, num_blocks: int, max_features: int):
        super().__init__()
        chans = [in_features] + [min(max_features, block_expansion * 2 ** (i + 1)) for i in range(num_blocks)]
        self.down_blocks = nn.ModuleList(DownBlock3d(chans[i], chans[i + 1]) for i in range(num_blocks))

    def forward(self, x: torch.Tensor) -> list:
        outs = [x]
        for block in self.down_blocks:
            outs.append(block(outs[-1]))                     # H,W halve per block; D kept
        return outs


class HourglassDecoder(nn.Module):
    def __init__(self, block_expansion: int, in_features: int, num_blocks: int, max_features: int):
        super().__init__()
        blocks = []
        for i in reversed(range(num_blocks)):
            cin = (1 if i == num_blocks - 1 else 2) * min(max_features, block_expansion * 2 ** (i + 1))
            blocks.append(UpBlock3d(cin, min(max_features, block_expansion * 2 ** i)))
        self.up_blocks = nn.ModuleList(blocks)
        self.out_filters = block_expansion + in_features
        self.conv = nn.Conv3d(self.out_filters, self.out_filters, 3, padding=1)
        self.norm = nn.BatchNorm3d(self.out_filters)

    def forward(self, skips: list) -> torch.Tensor:
        skips = list(skips)
        out = skips.pop()
        for block in self.up_blocks:
            out = torch.cat([block(out), skips.pop()], dim=1)
        return F.relu(self.norm(self.conv(out)))


class Hourglass(nn.Module):
    def __init__(self, block_expansion: int, in_features: int, num_blocks: int, max_features: int):
        super().__init__()
        self.encoder = HourglassEncoder(block_expansion, in_features, num_blocks, max_features)
        self.decoder = HourglassDecoder(block_expansion, in_features, num_blocks, max_features)
        self.out_filters = self.decoder.out_filters

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


def keypoint_gaussians(kp: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """exp(-0.5 * ||grid - kp||^2 / KP_VARIANCE): kp (B,N,3), grid (D,H,W,3) -> (B,N,D,H,W)."""
    diff = grid[None, None] - kp[:, :, None, None, None, :]  # B,N,D,H,W,3
    return torch.exp(-0.5 * diff.pow(2).sum(-1) / KP_VARIANCE)


def sparse_motion_input(feature: torch.Tensor, x_s: torch.Tensor, x_d: torch.Tensor) -> tuple:
    """The K = N+1 motion hypotheses and the hourglass input built from them.

    feature (B,c,D,H,W) compressed f_s; x_s, x_d (B,N,3). Returns sparse (B,K,D,H,W,3) sampling grids
    (k=0 identity/background, k>=1 translation by x_s[k] - x_d[k]: zero-order, no Jacobians) and the
    hourglass input (B,K*(c+1),D,H,W) = per hypothesis [gauss(x_d) - gauss(x_s), deformed feature].
    """
    b, c, d, h, w = feature.shape
    k = x_d.shape[1] + 1
    grid = coordinate_grid_3d(d, h, w, feature)                                  # D,H,W,3
    moved = grid[None, None] - x_d[:, :, None, None, None, :] + x_s[:, :, None, None, None, :]
    sparse = torch.cat([grid[None, None].expand(b, 1, d, h, w, 3), moved], dim=1)  # B,K,D,H,W,3
    feat_k = feature[:, None].expand(b, k, c, d, h, w).reshape(b * k, c, d, h, w)
    deformed = grid_sample_3d(feat_k, sparse.reshape(b * k, d, h, w, 3)).view(b, k, c, d, h, w)
    heat = keypoint_gaussians(x_d, grid) - keypoint_gaussians(x_s, grid)        # B,N,D,H,W
    heat = torch.cat([heat.new_zeros(b, 1, d, h, w), heat], dim=1)              # B,K,D,H,W
    hg_in = torch.cat([heat[:, :, None], deformed], dim=2).view(b, k * (c + 1), d, h, w)  # B,K*5,D,H,W
    return sparse, hg_in


class DenseMotionNetwork(nn.Module):
    def __init__(self, cfg: WarpingConfig):
        super().__init__()
        dm = cfg.dense_motion
        self.num_kp = cfg.num_kp
        self.hourglass = Hourglass(dm.block_expansion, (cfg.num_kp + 1) * (dm.compress + 1),
                                   dm.num_blocks, dm.max_features)
        self.mask = nn.Conv3d(self.hourglass.out_filters, cfg.num_kp + 1, 7, padding=3)
        self.compress = nn.Conv3d(cfg.reshape_channel, dm.compress, 1)
        self.norm = nn.BatchNorm3d(dm.compress)
        self.occlusion = (nn.Conv2d(self.hourglass.out_filters * dm.reshape_depth, 1, 7, padding=3)
                          if cfg.estimate_occlusion_map else None)

    def forward(self, feature: torch.Tensor, x_d: torch.Tensor, x_s: torch.Tensor) -> dict:
        feature = F.relu(self.norm(self.compress(feature)))  # B,4,D,H,W
        b, _, _, h, w = feature.shape
        sparse, hg_in = sparse_motion_input(feature, x_s, x_d)
        prediction = self.hourglass(hg_in)                   # B,142,D,H,W
        mask = F.softmax(self.mask(prediction), dim=1)       # B,K,D,H,W
        deformation = (sparse * mask[..., None]).sum(dim=1)  # B,D,H,W,3
        out = {"mask": mask, "deformation": deformation}
        if self.occlusion is not None:
            occ_in = prediction.reshape(b, -1, h, w)         # B,142*D,H,W (channel = c*D + d)
            out["occlusion_map"] = torch.sigmoid(self.occlusion(occ_in))  # B,1,H,W
        return out
