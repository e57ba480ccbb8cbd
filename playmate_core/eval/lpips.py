"""LPIPS v0.1 (Zhang et al. 2018) with the AlexNet trunk, in plain torch.

For images x, y (B, 3, H, W) in [-1, 1]:

    z = (x - shift) / scale              shift = (-0.030, -0.088, -0.188), scale = (0.458, 0.448, 0.450)
    f_l = AlexNet ReLU output l = 1..5   channels C_l = 64, 192, 384, 256, 256
    n_l = f_l / (||f_l||_channel + 1e-10)                         unit vector per pixel (B, C_l, H_l, W_l)
    d(x, y) = sum_l mean_{h,w} w_l . (n_l(x) - n_l(y))^2         w_l: 1x1 conv C_l -> 1, no bias

The trunk is torchvision's AlexNet ``features`` (taps after features.1, .4, .7, .9, .11); the w_l
are LPIPS's learned linear heads (non-negative in the public file).

Public files:
* ``alexnet-owt-7be5be79.pth`` (torchvision ImageNet AlexNet, full model; the ``classifier.*`` keys
  are not used and are dropped by the declared key rule below). The older ``alexnet-owt-4df8aa71.pth``
  has the same keys.
* ``weights/v0.1/alex.pth`` from the LPIPS repository / ``lpips`` wheel: keys
  ``lin{0..4}.model.1.weight`` of shape (1, C_l, 1, 1) (index 1 because a Dropout sits at index 0).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..loading import load_strict, read_state_dict
from .weights import require_file

ALEXNET_SLOT = "LPIPS AlexNet trunk"
LINEAR_SLOT = "LPIPS linear heads"
ALEXNET_FILE = ("alexnet-owt-7be5be79.pth (torchvision ImageNet AlexNet, "
                "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth)")
LINEAR_FILE = ("weights/v0.1/alex.pth from LPIPS (https://github.com/richzhang/PerceptualSimilarity, "
               "also inside the 'lpips' PyPI wheel at lpips/weights/v0.1/alex.pth)")
ALEXNET_FLAG = "--lpips-alexnet"
LINEAR_FLAG = "--lpips-linear"

ALEXNET_DROPPED_PREFIXES = ("classifier.",)
"""Key map for the torchvision file: the ImageNet classifier head is not part of LPIPS."""

SHIFT = (-0.030, -0.088, -0.188)          # LPIPS ScalingLayer, per RGB channel, for inputs in [-1, 1]
SCALE = (0.458, 0.448, 0.450)
NORM_EPS = 1e-10                          # added to the channel norm before dividing
MIN_SIDE = 32                             # smaller images vanish in AlexNet's three max-pools


@dataclass(frozen=True)
class LPIPSConfig:
    """Taps and widths of the AlexNet trunk used by LPIPS v0.1."""

    channels: tuple[int, ...] = (64, 192, 384, 256, 256)
    taps: tuple[int, ...] = (1, 4, 7, 9, 11)     # indices in ``features`` whose outputs are compared


class AlexNetFeatures(nn.Module):
    """torchvision AlexNet ``features`` (same indices, so the public keys load as they are)."""

    def __init__(self, *, device=None, dtype=None) -> None:
        super().__init__()
        kw = dict(device=device, dtype=dtype)
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, 11, stride=4, padding=2, **kw), nn.ReLU(),     # 0, 1
            nn.MaxPool2d(3, 2),                                             # 2
            nn.Conv2d(64, 192, 5, padding=2, **kw), nn.ReLU(),              # 3, 4
            nn.MaxPool2d(3, 2),                                             # 5
            nn.Conv2d(192, 384, 3, padding=1, **kw), nn.ReLU(),             # 6, 7
            nn.Conv2d(384, 256, 3, padding=1, **kw), nn.ReLU(),             # 8, 9
            nn.Conv2d(256, 256, 3, padding=1, **kw), nn.ReLU(),             # 10, 11
            nn.MaxPool2d(3, 2),                                             # 12 (unused by LPIPS)
        )

    def forward(self, x: torch.Tensor, taps: tuple[int, ...]) -> list[torch.Tensor]:
        """(B, 3, H, W) -> the outputs of ``features[i]`` for i in ``taps`` (B, C_l, H_l, W_l)."""
        outputs = []
        for index, layer in enumerate(self.features[:max(taps) + 1]):
            x = layer(x)
            if index in taps:
                outputs.append(x)
        return outputs


class LinearHead(nn.Module):
    """One LPIPS head: ``model`` = (Dropout, 1x1 conv C -> 1 without bias)."""

    def __init__(self, channels: int, *, device=None, dtype=None) -> None:
        super().__init__()
        self.model = nn.Sequential(nn.Dropout(), nn.Conv2d(channels, 1, 1, bias=False, device=device,
                                                           dtype=dtype))


class LinearHeads(nn.Module):
    """``lin0`` .. ``lin4``, the layout of LPIPS's ``weights/v0.1/alex.pth``."""

    def __init__(self, channels: tuple[int, ...], *, device=None, dtype=None) -> None:
        super().__init__()
        for index, width in enumerate(channels):
            setattr(self, f"lin{index}", LinearHead(width, device=device, dtype=dtype))

    def __getitem__(self, index: int) -> LinearHead:
        return getattr(self, f"lin{index}")


class LPIPS(nn.Module):
    """d(x, y): (B, 3, H, W) pairs in [-1, 1] -> (B,) distances (0 for identical images)."""

    def __init__(self, config: LPIPSConfig = LPIPSConfig(), *, device=None, dtype=None) -> None:
        super().__init__()
        self.config = config
        self.trunk = AlexNetFeatures(device=device, dtype=dtype)
        self.heads = LinearHeads(config.channels, device=device, dtype=dtype)
        self.register_buffer("shift", torch.tensor(SHIFT, device=device).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(SCALE, device=device).view(1, 3, 1, 1), persistent=False)

    def _unit_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        z = (x - self.shift) / self.scale                                   # (B, 3, H, W)
        feats = self.trunk(z, self.config.taps)                             # [(B, C_l, H_l, W_l)]
        return [f / (f.pow(2).sum(dim=1, keepdim=True).sqrt() + NORM_EPS) for f in feats]

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        total = x.new_zeros(x.shape[0])
        for index, (n_x, n_y) in enumerate(zip(self._unit_features(x), self._unit_features(y))):
            weighted = self.heads[index].model((n_x - n_y) ** 2)           # (B, 1, H_l, W_l)
            total = total + weighted.mean(dim=(1, 2, 3))                    # (B,)
        return total


def load_lpips(alexnet_path: str | Path, linear_path: str | Path) -> LPIPS:
    """LPIPS v0.1 AlexNet from the torchvision trunk file and the LPIPS linear-head file.

    Returns the model in eval mode, float32, on CPU.

    Raises:
        FileNotFoundError: a file is missing (names the public file and its CLI flag).
        CheckpointError: unreadable file, missing/unexpected keys or wrong shapes (names the file).
    """
    alexnet_path = require_file(alexnet_path, slot=ALEXNET_SLOT, public=ALEXNET_FILE, flag=ALEXNET_FLAG)
    linear_path = require_file(linear_path, slot=LINEAR_SLOT, public=LINEAR_FILE, flag=LINEAR_FLAG)
    model = LPIPS()
    trunk_state = {key: value for key, value in read_state_dict(alexnet_path, ALEXNET_SLOT).items()
                   if not key.startswith(ALEXNET_DROPPED_PREFIXES)}
    load_strict(model.trunk, trunk_state, slot=ALEXNET_SLOT, path=alexnet_path,
                hint=f" Expected {ALEXNET_FILE}.")
    load_strict(model.heads, read_state_dict(linear_path, LINEAR_SLOT), slot=LINEAR_SLOT,
                path=linear_path, hint=f" Expected {LINEAR_FILE}.")
    return model.float().eval()


def images_to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, 3) RGB -> float32 (N, 3, H, W) in [-1, 1] (x / 127.5 - 1)."""
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float()   # (N, 3, H, W)
    return x / 127.5 - 1.0


@torch.no_grad()
def lpips_distance(model: nn.Module, a: np.ndarray, b: np.ndarray, *, batch: int = 16,
                   device: str | torch.device = "cpu") -> np.ndarray:
    """LPIPS between image pairs a[i], b[i].

    Args:
        model: ``load_lpips`` result; moved to ``device`` and set to eval.
        a, b: uint8 (N, H, W, 3) RGB with identical shapes, H, W >= 32.

    Returns:
        (N,) float64 distances (lower = more similar; 0 for identical pairs).
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"LPIPS needs pairs of equal shape, got a {a.shape} and b {b.shape}.")
    if a.dtype != np.uint8 or b.dtype != np.uint8 or a.ndim != 4 or a.shape[-1] != 3:
        raise ValueError(f"a and b must be uint8 (N, H, W, 3) RGB, got {a.dtype}/{b.dtype} {a.shape}.")
    if min(a.shape[1:3]) < MIN_SIDE:
        raise ValueError(f"images must be at least {MIN_SIDE}x{MIN_SIDE} for AlexNet, got {a.shape[1:3]}.")
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}.")
    model = model.to(device).eval()
    out = []
    for i in range(0, len(a), batch):
        x, y = images_to_tensor(a[i:i + batch]).to(device), images_to_tensor(b[i:i + batch]).to(device)
        out.append(model(x, y).double().cpu())                             # (b,)
    return torch.cat(out).numpy() if out else np.zeros(0, dtype=np.float64)
