"""The FID Inception-v3: TensorFlow's 2015-12-05 ImageNet graph as ported to PyTorch by pytorch-fid.

FID (Heusel et al. 2017) compares the 2048-d "pool3" features of this exact network; torchvision's
Inception-v3 has other weights and a slightly different graph, so its FID values are not comparable.
Differences from torchvision's Inception-v3, all reproduced here:
  * 1008 output classes (the fc layer is in the file, unused for FID), no auxiliary classifier;
  * Mixed_5b/5c/5d (A), 6b-6e (C) and 7b (E): the pool branch averages without counting the zero
    padding (TensorFlow's avg_pool, `count_include_pad=False`);
  * Mixed_7c (E): the pool branch is a 3x3 max pool, not an average pool (a quirk of the TF graph).
Every conv is conv (no bias) -> BatchNorm (eps 1e-3) -> ReLU; the keys are torchvision's names
(`Conv2d_1a_3x3.conv.weight`, `Mixed_7c.branch_pool.bn.running_var`, `fc.weight`, ...).

Preprocessing (`inception_features`), as pytorch-fid: uint8 RGB (N, H, W, 3) -> float in [0, 1] ->
bilinear resize to 299x299 with `align_corners=False` and no antialiasing (pytorch-fid's choice; the TF
graph's own resize differs slightly) -> 2x - 1 into [-1, 1] -> pool3 features (N, 2048).

Weights: the public file `pt_inception-2015-12-05-6726825d.pth` (pytorch-fid release `fid_weights`),
a plain state dict of 566 tensors in torch's legacy (non-zip) format, read with weights_only=True.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from playmate_core.loading import load_strict

from .weights import fill_batchnorm_counters, read_weights, require_file

INCEPTION_FILE = "pt_inception-2015-12-05-6726825d.pth"
INCEPTION_URL = f"https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/{INCEPTION_FILE}"
CLI_FLAG = "--inception"
SLOT = "FID Inception-v3"
HINT = (f" Expected pytorch-fid's {INCEPTION_FILE} ({INCEPTION_URL}), a state dict with torchvision's "
        f"Inception-v3 key names, 1008 classes and no AuxLogits.")
# Key map: the public file has no wrapper prefix, so keys are used as they are. Declared exception:
# BatchNorm `num_batches_tracked` counters are optional (unused in eval mode) and filled with 0 if absent.


@dataclass(frozen=True)
class InceptionConfig:
    num_classes: int = 1008      # TF 2015 graph: 1000 ImageNet classes + 8 unused
    bn_eps: float = 1e-3
    image_size: int = 299
    feature_dim: int = 2048      # pool3


class ConvBN(nn.Module):
    """Conv (no bias) -> BatchNorm -> ReLU, keys `conv.*` and `bn.*`."""

    def __init__(self, cin: int, cout: int, kernel, *, stride: int = 1, padding=0, eps: float = 1e-3):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def _pool_branch(x: torch.Tensor, kind: str) -> torch.Tensor:
    """3x3 stride-1 pool of the last branch: TF average (padding not counted) or max."""
    if kind == "max":
        return F.max_pool2d(x, 3, stride=1, padding=1)
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class BlockA(nn.Module):
    """Mixed_5b/5c/5d (35x35): 1x1 | 1x1-5x5 | 1x1-3x3-3x3 | avgpool-1x1 -> 224 + pool_features channels."""

    def __init__(self, cin: int, pool_features: int, eps: float):
        super().__init__()
        self.branch1x1 = ConvBN(cin, 64, 1, eps=eps)
        self.branch5x5_1 = ConvBN(cin, 48, 1, eps=eps)
        self.branch5x5_2 = ConvBN(48, 64, 5, padding=2, eps=eps)
        self.branch3x3dbl_1 = ConvBN(cin, 64, 1, eps=eps)
        self.branch3x3dbl_2 = ConvBN(64, 96, 3, padding=1, eps=eps)
        self.branch3x3dbl_3 = ConvBN(96, 96, 3, padding=1, eps=eps)
        self.branch_pool = ConvBN(cin, pool_features, 1, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b0 = self.branch1x1(x)
        b1 = self.branch5x5_2(self.branch5x5_1(x))
        b2 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        b3 = self.branch_pool(_pool_branch(x, "avg"))
        return torch.cat([b0, b1, b2, b3], dim=1)                                    # B, 224+P, H, W


class BlockB(nn.Module):
    """Mixed_6a (35 -> 17): stride-2 3x3 | 1x1-3x3-3x3/2 | maxpool/2 -> 768 channels."""

    def __init__(self, cin: int, eps: float):
        super().__init__()
        self.branch3x3 = ConvBN(cin, 384, 3, stride=2, eps=eps)
        self.branch3x3dbl_1 = ConvBN(cin, 64, 1, eps=eps)
        self.branch3x3dbl_2 = ConvBN(64, 96, 3, padding=1, eps=eps)
        self.branch3x3dbl_3 = ConvBN(96, 96, 3, stride=2, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b0 = self.branch3x3(x)
        b1 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        b2 = F.max_pool2d(x, 3, stride=2)
        return torch.cat([b0, b1, b2], dim=1)                                        # B, 768, H/2, W/2


class BlockC(nn.Module):
    """Mixed_6b-6e (17x17): factorised 7x7 convs (1x7 / 7x1) with c7 channels -> 768 channels."""

    def __init__(self, cin: int, c7: int, eps: float):
        super().__init__()
        row, col = ((1, 7), (0, 3)), ((7, 1), (3, 0))                                 # (kernel, padding)
        self.branch1x1 = ConvBN(cin, 192, 1, eps=eps)
        self.branch7x7_1 = ConvBN(cin, c7, 1, eps=eps)
        self.branch7x7_2 = ConvBN(c7, c7, row[0], padding=row[1], eps=eps)
        self.branch7x7_3 = ConvBN(c7, 192, col[0], padding=col[1], eps=eps)
        self.branch7x7dbl_1 = ConvBN(cin, c7, 1, eps=eps)
        self.branch7x7dbl_2 = ConvBN(c7, c7, col[0], padding=col[1], eps=eps)
        self.branch7x7dbl_3 = ConvBN(c7, c7, row[0], padding=row[1], eps=eps)
        self.branch7x7dbl_4 = ConvBN(c7, c7, col[0], padding=col[1], eps=eps)
        self.branch7x7dbl_5 = ConvBN(c7, 192, row[0], padding=row[1], eps=eps)
        self.branch_pool = ConvBN(cin, 192, 1, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b0 = self.branch1x1(x)
        b1 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        b2 = self.branch7x7dbl_1(x)
        for conv in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            b2 = conv(b2)
        b3 = self.branch_pool(_pool_branch(x, "avg"))
        return torch.cat([b0, b1, b2, b3], dim=1)                                    # B, 768, H, W


class BlockD(nn.Module):
    """Mixed_7a (17 -> 8): 1x1-3x3/2 | 1x1-1x7-7x1-3x3/2 | maxpool/2 -> 1280 channels."""

    def __init__(self, cin: int, eps: float):
        super().__init__()
        self.branch3x3_1 = ConvBN(cin, 192, 1, eps=eps)
        self.branch3x3_2 = ConvBN(192, 320, 3, stride=2, eps=eps)
        self.branch7x7x3_1 = ConvBN(cin, 192, 1, eps=eps)
        self.branch7x7x3_2 = ConvBN(192, 192, (1, 7), padding=(0, 3), eps=eps)
        self.branch7x7x3_3 = ConvBN(192, 192, (7, 1), padding=(3, 0), eps=eps)
        self.branch7x7x3_4 = ConvBN(192, 192, 3, stride=2, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b0 = self.branch3x3_2(self.branch3x3_1(x))
        b1 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        b2 = F.max_pool2d(x, 3, stride=2)
        return torch.cat([b0, b1, b2], dim=1)                                        # B, 1280, H/2, W/2


class BlockE(nn.Module):
    """Mixed_7b/7c (8x8): split 1x3 / 3x1 branches -> 2048 channels; `pool` is "avg" (7b) or "max" (7c)."""

    def __init__(self, cin: int, pool: str, eps: float):
        super().__init__()
        self.pool = pool
        self.branch1x1 = ConvBN(cin, 320, 1, eps=eps)
        self.branch3x3_1 = ConvBN(cin, 384, 1, eps=eps)
        self.branch3x3_2a = ConvBN(384, 384, (1, 3), padding=(0, 1), eps=eps)
        self.branch3x3_2b = ConvBN(384, 384, (3, 1), padding=(1, 0), eps=eps)
        self.branch3x3dbl_1 = ConvBN(cin, 448, 1, eps=eps)
        self.branch3x3dbl_2 = ConvBN(448, 384, 3, padding=1, eps=eps)
        self.branch3x3dbl_3a = ConvBN(384, 384, (1, 3), padding=(0, 1), eps=eps)
        self.branch3x3dbl_3b = ConvBN(384, 384, (3, 1), padding=(1, 0), eps=eps)
        self.branch_pool = ConvBN(cin, 192, 1, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b0 = self.branch1x1(x)
        t = self.branch3x3_1(x)
        b1 = torch.cat([self.branch3x3_2a(t), self.branch3x3_2b(t)], dim=1)         # B, 768, H, W
        t = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        b2 = torch.cat([self.branch3x3dbl_3a(t), self.branch3x3dbl_3b(t)], dim=1)   # B, 768, H, W
        b3 = self.branch_pool(_pool_branch(x, self.pool))
        return torch.cat([b0, b1, b2, b3], dim=1)                                    # B, 2048, H, W


class InceptionV3FID(nn.Module):
    """Bx3x299x299 in [-1, 1] -> pool3 features Bx2048 (`forward`); `logits` maps them to 1008 classes."""

    def __init__(self, cfg: InceptionConfig = InceptionConfig()):
        super().__init__()
        self.cfg = cfg
        e = cfg.bn_eps
        self.Conv2d_1a_3x3 = ConvBN(3, 32, 3, stride=2, eps=e)
        self.Conv2d_2a_3x3 = ConvBN(32, 32, 3, eps=e)
        self.Conv2d_2b_3x3 = ConvBN(32, 64, 3, padding=1, eps=e)
        self.Conv2d_3b_1x1 = ConvBN(64, 80, 1, eps=e)
        self.Conv2d_4a_3x3 = ConvBN(80, 192, 3, eps=e)
        self.Mixed_5b = BlockA(192, 32, e)
        self.Mixed_5c = BlockA(256, 64, e)
        self.Mixed_5d = BlockA(288, 64, e)
        self.Mixed_6a = BlockB(288, e)
        self.Mixed_6b = BlockC(768, 128, e)
        self.Mixed_6c = BlockC(768, 160, e)
        self.Mixed_6d = BlockC(768, 160, e)
        self.Mixed_6e = BlockC(768, 192, e)
        self.Mixed_7a = BlockD(768, e)
        self.Mixed_7b = BlockE(1280, "avg", e)
        self.Mixed_7c = BlockE(2048, "max", e)
        self.fc = nn.Linear(cfg.feature_dim, cfg.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))            # B, 64, 147, 147
        x = F.max_pool2d(x, 3, stride=2)                                             # B, 64, 73, 73
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))                                # B, 192, 71, 71
        x = F.max_pool2d(x, 3, stride=2)                                             # B, 192, 35, 35
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b, self.Mixed_6c,
                      self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b, self.Mixed_7c):
            x = block(x)                                                             # ... -> B, 2048, 8, 8
        return x.mean(dim=(2, 3))                                                    # B, 2048 (pool3)

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        return self.fc(features)                                                     # B, 1008


def load_inception(path) -> InceptionV3FID:
    """Build the FID Inception-v3 and load `path` (pt_inception-2015-12-05-6726825d.pth) strictly; eval, float32."""
    path = require_file(path, slot=SLOT, public=f"pytorch-fid's {INCEPTION_FILE} (~96 MB, {INCEPTION_URL})",
                        flag=CLI_FLAG)
    model = InceptionV3FID()
    load_strict(model, fill_batchnorm_counters(read_weights(path, SLOT, HINT), model), slot=SLOT, path=path, hint=HINT)
    return model.float().eval()


def inception_features(model: InceptionV3FID, frames: np.ndarray, *, batch: int = 32, device="cpu") -> np.ndarray:
    """uint8 RGB frames (N, H, W, 3) -> pool3 features (N, 2048) float64 (preprocessing in the module docstring).

    The model is put in eval mode on `device`; frames go through in chunks of `batch`.
    """
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"inception_features expects uint8 RGB frames (N, H, W, 3), got {frames.dtype} "
                         f"{frames.shape}")
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    model = model.to(device).eval()
    size = model.cfg.image_size
    out = []
    with torch.inference_mode():
        for start in range(0, len(frames), batch):
            x = torch.from_numpy(frames[start:start + batch]).to(device)                # B, H, W, 3 uint8
            x = x.permute(0, 3, 1, 2).float() / 255.0                                # B, 3, H, W in [0, 1]
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
            out.append(model(2.0 * x - 1.0).double().cpu())                         # B, 2048
    if not out:
        return np.zeros((0, model.cfg.feature_dim), dtype=np.float64)
    return torch.cat(out).numpy()
