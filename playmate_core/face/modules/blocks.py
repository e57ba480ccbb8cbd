"""Building blocks shared by LivePortrait's F, M, W and G.

Attribute names (`conv`, `norm`, `pool`, `conv1`, ...) are the state-dict names of the public
checkpoints; do not rename them.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

LEAKY_SLOPE_W = 0.01   # LeakyReLU slope of W's `third` block (PyTorch default)
LEAKY_SLOPE_G = 0.2    # LeakyReLU slope inside G's SPADE blocks and before conv_img
LN_EPS = 1e-6          # ConvNeXt-V2 LayerNorm eps (both data formats)


class ConvNormAct2d(nn.Module):
    """Conv2d -> BatchNorm2d -> ReLU (or LeakyReLU 0.01). Resolution preserved."""

    def __init__(self, cin: int, cout: int, kernel_size: int = 3, padding: int = 1, leaky: bool = False):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel_size, padding=padding)
        self.norm = nn.BatchNorm2d(cout)
        self.leaky = leaky

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(self.conv(x))
        return F.leaky_relu(x, LEAKY_SLOPE_W) if self.leaky else F.relu(x)


class DownBlock2d(nn.Module):
    """Conv2d k3 -> BN -> ReLU -> AvgPool 2x2: (B,Cin,H,W) -> (B,Cout,H/2,W/2)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1)
        self.norm = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(F.relu(self.norm(self.conv(x))), 2)


class DownBlock3d(nn.Module):
    """Conv3d k3 -> BN3d -> ReLU -> AvgPool (1,2,2): (B,Cin,D,H,W) -> (B,Cout,D,H/2,W/2)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = nn.Conv3d(cin, cout, 3, padding=1)
        self.norm = nn.BatchNorm3d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool3d(F.relu(self.norm(self.conv(x))), (1, 2, 2))


class UpBlock3d(nn.Module):
    """Nearest upsample (1,2,2) -> Conv3d k3 -> BN3d -> ReLU: (B,Cin,D,H,W) -> (B,Cout,D,2H,2W)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = nn.Conv3d(cin, cout, 3, padding=1)
        self.norm = nn.BatchNorm3d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=(1, 2, 2), mode="nearest")
        return F.relu(self.norm(self.conv(x)))


class ResBlock3d(nn.Module):
    """Pre-activation residual block: x + conv2(relu(bn2(conv1(relu(bn1(x))))))."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv3d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv3d(channels, channels, 3, padding=1)
        self.norm1 = nn.BatchNorm3d(channels)
        self.norm2 = nn.BatchNorm3d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(F.relu(self.norm1(x)))
        out = self.conv2(F.relu(self.norm2(out)))
        return out + x


class LayerNorm2d(nn.Module):
    """LayerNorm over the channel dim of (B,C,H,W): (x - mean_C) / sqrt(var_C + eps) * w + b.

    Written out (biased variance) as ConvNeXt-V2's channels-first LayerNorm is.
    """

    def __init__(self, channels: int, eps: float = LN_EPS):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(1, keepdim=True)                      # B,1,H,W
        var = (x - mean).pow(2).mean(1, keepdim=True)       # B,1,H,W
        x = (x - mean) / torch.sqrt(var + self.eps)
        return self.weight[:, None, None] * x + self.bias[:, None, None]


def coordinate_grid_3d(d: int, h: int, w: int, ref: torch.Tensor) -> torch.Tensor:
    """Identity grid (d,h,w,3) with last dim ordered (x->w, y->h, z->d), each axis 2*i/(n-1) - 1.

    Endpoints are exactly -1 and +1 (W still samples with align_corners=False, as the reference does).
    """
    def axis(n):
        return 2 * (torch.arange(n, dtype=ref.dtype, device=ref.device) / (n - 1)) - 1

    z, y, x = torch.meshgrid(axis(d), axis(h), axis(w), indexing="ij")
    return torch.stack([x, y, z], dim=-1)                   # d,h,w,3


def grid_sample_3d(volume: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """Trilinear `grid_sample` with zeros padding and align_corners=False, as LivePortrait samples.

    volume (B,C,D,H,W), grid (B,D',H',W',3) -> (B,C,D',H',W'). MPS has no 3D grid sampler, so there
    the op runs on the CPU and the result moves back.
    """
    if volume.device.type == "mps":
        out = F.grid_sample(volume.cpu(), grid.cpu(), mode="bilinear", padding_mode="zeros", align_corners=False)
        return out.to(volume.device)
    return F.grid_sample(volume, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
