"""Exact reformulations of LivePortrait's most expensive convolutions, for inference.

Each function returns what the plain op returns (up to float rounding) with fewer FLOPs:

* `fold_batchnorm`: conv followed by eval-mode BatchNorm is one conv with rescaled weights.
* `conv3x3_nearest_up`: a 3x3 conv applied to a nearest-upsampled map (factor s on H and W) equals,
  for each of the s*s output phases, a conv of the LOW-resolution map with a kernel of 1 or 2 taps
  per axis (the 3 taps that land on the same source pixel are summed). 2.25x fewer multiplies for
  s=2 and 4x for s=4.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def fold_batchnorm(conv: nn.Module, bn: nn.Module) -> tuple:
    """(weight, bias) of conv -> BN(eval): w' = w * g / sqrt(var + eps), b' = (b - mean) * g / sqrt(var + eps) + beta."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)                    # Cout
    weight = conv.weight * scale.reshape(-1, *([1] * (conv.weight.ndim - 1)))
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    return weight.detach().clone(), ((bias - bn.running_mean) * scale + bn.bias).detach().clone()


def _phase_taps(s: int) -> list:
    """For output phase a in [0, s): (first low-res offset, [[dy, ...] per merged tap]) of a 3-tap kernel."""
    phases = []
    for a in range(s):
        groups: dict = {}
        for dy in (-1, 0, 1):
            groups.setdefault(math.floor((a + dy) / s), []).append(dy)
        offsets = sorted(groups)
        phases.append((offsets[0], [groups[o] for o in offsets]))
    return phases


def _merge_axis(weight: torch.Tensor, taps: list, dim: int) -> torch.Tensor:
    """Sum kernel slices along `dim` (3 taps, index dy+1) into len(taps) merged taps."""
    return torch.stack([sum(weight.select(dim, dy + 1) for dy in group) for group in taps], dim=dim)


def nearest_up_phase_kernels(weight: torch.Tensor, s: int) -> list:
    """Merged kernels for `conv3x3_nearest_up`, grouped by the low-res window they read.

    Returns [(row offset, col offset, kernels stacked on the output dim, [(a, b) phases])]: the
    phases of one group share a window, so one conv serves them all.
    """
    taps = _phase_taps(s)
    groups: dict = {}
    for a, (oa, taps_a) in enumerate(taps):
        w_a = _merge_axis(weight, taps_a, weight.ndim - 2)
        for b, (ob, taps_b) in enumerate(taps):
            kernel = _merge_axis(w_a, taps_b, weight.ndim - 1)
            groups.setdefault((oa, ob, kernel.shape[-2:]), []).append(((a, b), kernel))
    return [(oa, ob, torch.cat([k for _, k in members]).contiguous(), [ab for ab, _ in members])
            for (oa, ob, _), members in groups.items()]


def conv3x3_nearest_up(x: torch.Tensor, groups: list, bias: torch.Tensor | None, s: int) -> torch.Tensor:
    """conv(pad 1)(nearest_upsample(x, s on H,W)) from the low-res x, without the upsampled copy.

    x: (B,C,H,W) (any memory format; the output follows it) or (B,C,D,H,W) (depth conv keeps its
    own 3 taps, padding 1); groups from `nearest_up_phase_kernels`. Returns (B,O,[D,]H*s,W*s).
    """
    conv = F.conv3d if x.ndim == 5 else F.conv2d
    depth_pad = (1, 0, 0) if x.ndim == 5 else 0
    h, w = x.shape[-2:]
    xp = F.pad(x, (1, 1, 1, 1))                                                 # zero pad H and W by 1
    out = None
    for oa, ob, kernel, phases in groups:
        la, lb = kernel.shape[-2:]
        src = xp[..., 1 + oa: 1 + oa + h + la - 1, 1 + ob: 1 + ob + w + lb - 1]
        n = len(phases)
        y = conv(src, kernel, None if bias is None else bias.repeat(n), padding=depth_pad)  # B,n*O,[D,]H,W
        if out is None:
            fmt = torch.channels_last if y.ndim == 4 and y.is_contiguous(memory_format=torch.channels_last) \
                else torch.contiguous_format
            out = torch.empty((*y.shape[:1], y.shape[1] // n, *y.shape[2:-2], h * s, w * s), dtype=y.dtype,
                              device=y.device, memory_format=fmt)
        for (a, b), part in zip(phases, y.chunk(n, dim=1)):
            out[..., a::s, b::s] = part
    return out
