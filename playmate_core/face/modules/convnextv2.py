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
    """Global response normalisation: gamma * (x * Nx) + beta + x, with Gx = ||x||_2 over (H,W) per
    channel and Nx = Gx / (mean_C(Gx) + eps). Parameters are stored (1,1,1,C) as in the checkpoints.
    """

    def __init__(self, dim: int):
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1, 1, 1, dim))
        self.beta = nn.Parameter(torch.zeros(1, 1, 1, dim))

    def forward(self, x: torch.Tensor, channels_last: bool = True) -> torch.Tensor:
        """x: (B,H,W,C) if channels_last (the reference's op order), else (B,C,H,W) in one fused op."""
        if channels_last:
            gx = torch.norm(x, p=2, dim=(1, 2), keepdim=True)        # B,1,1,C
            nx = gx / (gx.mean(dim=-1, keepdim=True) + GRN_EPS)
            return self.gamma * (x * nx) + self.beta + x
        gx = torch.norm(x, p=2, dim=(2, 3), keepdim=True)            # B,C,1,1
        nx = gx / (gx.mean(dim=1, keepdim=True) + GRN_EPS)           # B,C,1,1
        gamma, beta = self.gamma.view(1, -1, 1, 1), self.beta.view(1, -1, 1, 1)
        return torch.addcmul(beta, x, gamma * nx + 1)                # x * (1 + gamma Nx) + beta


class ConvNeXtBlock(nn.Module):
    """dwconv 7x7 -> LN -> Linear 4x -> GELU(erf) -> GRN -> Linear -> residual.

    Fast path (default): the Linear layers (stored as nn.Linear, checkpoint names) run as 1x1
    convolutions on channels-last activations: the same products, and oneDNN's 1x1 conv is about
    twice as fast as a dense matmul on these shapes on CPU. `exact=True` runs the reference's op
    order instead, bit-identical to LivePortrait (the fast path differs by float rounding: pose
    logits ~2e-5, the same size as the reference's own change when fed channels-last memory).
    """

    exact = False

    def __init__(self, dim: int):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=LN_EPS)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.grn = GRN(4 * dim)
        self.pwconv2 = nn.Linear(4 * dim, dim)

    @staticmethod
    def _pointwise(x: torch.Tensor, linear: nn.Linear) -> torch.Tensor:
        return F.conv2d(x, linear.weight[:, :, None, None], linear.bias)   # (B,Cin,H,W) -> (B,Cout,H,W)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.exact:
            y = self.dwconv(x).permute(0, 2, 3, 1)                           # B,H,W,C
            y = self.pwconv2(self.grn(F.gelu(self.pwconv1(self.norm(y)))))
            return x + y.permute(0, 3, 1, 2)                                 # B,C,H,W
        y = self.norm(self.dwconv(x).permute(0, 2, 3, 1)).permute(0, 3, 1, 2)  # B,C,H,W (NHWC memory)
        y = self.grn(F.gelu(self._pointwise(y, self.pwconv1)), channels_last=False)  # B,4C,H,W
        return x + self._pointwise(y, self.pwconv2)                          # B,C,H,W


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

    @property
    def exact(self) -> bool:
        return all(m.exact for m in self.modules() if isinstance(m, ConvNeXtBlock))

    @exact.setter
    def exact(self, value: bool) -> None:
        """True: the reference's op order everywhere (bit-identical to LivePortrait, slower)."""
        for m in self.modules():
            if isinstance(m, ConvNeXtBlock):
                m.exact = bool(value)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        # Channels-last memory: the NCHW<->NHWC permutes around every block become views.
        if not self.exact:
            x = x.contiguous(memory_format=torch.channels_last)
        for down, stage in zip(self.downsample_layers, self.stages):
            x = stage(down(x))                               # B,96,64,64 ... B,768,8,8
        return self.norm(x.mean((-2, -1)))                   # B,768
