"""SPADE normalisation and the spectral-normalised residual block used by G.

SPADE(x, seg) = InstanceNorm(x) * (1 + gamma(seg)) + beta(seg), with seg resized (nearest) to x.
SPADEResBlock(x, seg) = shortcut(x) + conv_1(lrelu(SPADE_1(conv_0(lrelu(SPADE_0(x)))))).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import LEAKY_SLOPE_G

IN_EPS = 1e-5      # InstanceNorm2d eps
SN_EPS = 1e-12     # normalisation eps of the power iteration (training only)


class SNConv2d(nn.Module):
    """Conv2d with spectral normalisation stored as (weight_orig, weight_u, weight_v).

    Effective weight W = weight_orig / sigma, sigma = u . (W_mat v), W_mat = weight_orig as (out, -1).
    At inference the stored u and v are used as they are (no power iteration), which is what the
    public checkpoints were produced and evaluated with; sigma is NOT the true spectral norm.
    In training mode one power-iteration step updates u and v first.
    """

    def __init__(self, cin: int, cout: int, kernel_size: int, padding: int = 0, bias: bool = True):
        super().__init__()
        self.padding = padding
        self.weight_orig = nn.Parameter(torch.empty(cout, cin, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(cout)) if bias else None
        self.register_buffer("weight_u", F.normalize(torch.randn(cout), dim=0, eps=SN_EPS))
        self.register_buffer("weight_v", F.normalize(torch.randn(cin * kernel_size * kernel_size), dim=0, eps=SN_EPS))
        nn.init.kaiming_uniform_(self.weight_orig, a=5 ** 0.5)

    def effective_weight(self) -> torch.Tensor:
        w_mat = self.weight_orig.flatten(1)                  # out, in*kh*kw
        if self.training:
            with torch.no_grad():
                v = F.normalize(torch.mv(w_mat.t(), self.weight_u), dim=0, eps=SN_EPS)
                u = F.normalize(torch.mv(w_mat, v), dim=0, eps=SN_EPS)
                self.weight_v.copy_(v)
                self.weight_u.copy_(u)
        u, v = self.weight_u.clone(), self.weight_v.clone()
        sigma = torch.dot(u, torch.mv(w_mat, v))
        return self.weight_orig / sigma

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.effective_weight(), self.bias, padding=self.padding)


class SPADE(nn.Module):
    def __init__(self, norm_nc: int, label_nc: int, hidden: int):
        super().__init__()
        self.mlp_shared = nn.Sequential(nn.Conv2d(label_nc, hidden, 3, padding=1), nn.ReLU())
        self.mlp_gamma = nn.Conv2d(hidden, norm_nc, 3, padding=1)
        self.mlp_beta = nn.Conv2d(hidden, norm_nc, 3, padding=1)

    def forward(self, x: torch.Tensor, seg: torch.Tensor) -> torch.Tensor:
        normalized = F.instance_norm(x, eps=IN_EPS)          # B,C,H,W
        seg = F.interpolate(seg, size=x.shape[2:], mode="nearest")
        actv = self.mlp_shared(seg)                          # B,hidden,H,W
        return normalized * (1 + self.mlp_gamma(actv)) + self.mlp_beta(actv)


class SPADEResBlock(nn.Module):
    def __init__(self, fin: int, fout: int, label_nc: int, hidden: int):
        super().__init__()
        fmid = min(fin, fout)
        self.learned_shortcut = fin != fout
        self.conv_0 = SNConv2d(fin, fmid, 3, padding=1)
        self.conv_1 = SNConv2d(fmid, fout, 3, padding=1)
        self.norm_0 = SPADE(fin, label_nc, hidden)
        self.norm_1 = SPADE(fmid, label_nc, hidden)
        if self.learned_shortcut:
            self.conv_s = SNConv2d(fin, fout, 1, bias=False)
            self.norm_s = SPADE(fin, label_nc, hidden)

    def forward(self, x: torch.Tensor, seg: torch.Tensor) -> torch.Tensor:
        shortcut = self.conv_s(self.norm_s(x, seg)) if self.learned_shortcut else x  # no activation
        dx = self.conv_0(F.leaky_relu(self.norm_0(x, seg), LEAKY_SLOPE_G))
        dx = self.conv_1(F.leaky_relu(self.norm_1(dx, seg), LEAKY_SLOPE_G))
        return shortcut + dx
