"""ArcFace identity embeddings for CSIM: InsightFace's IResNet backbone in plain torch.

Network (the ``arcface_torch`` IResNet, public ``backbone.pth`` key layout):

    x (B, 3, 112, 112), RGB, (x/255 - 0.5) / 0.5  in [-1, 1]
    conv1 3x3/1 -> bn1 -> prelu                       (B, 64, 112, 112)
    layer1..layer4, widths 64/128/256/512, each starts with a stride-2 block
                                                      (B, 512, 7, 7)
    bn2 -> flatten -> dropout (identity in eval) -> fc (B, 512) -> features (BatchNorm1d) (B, 512)

An ``IBasicBlock`` is pre-activation style: bn1 -> conv1 3x3/1 -> bn2 -> prelu -> conv2 3x3/s ->
bn3, plus the shortcut (``downsample`` = conv 1x1/s + BN when the stride or width changes); no
activation after the sum. The embedding is ``features``' output, L2-normalised here.

Depth is read from the keys (number of ``layerK.i`` blocks): r18 (2,2,2,2), r34 (3,4,6,3),
r50 (3,4,14,3), r100 (3,13,30,3), r200 (6,26,60,6).

Public files (InsightFace arcface_torch model zoo, "available for non-commercial research purposes
only"): e.g. ``ms1mv3_arcface_r100_fp16/backbone.pth``, ``glint360k_cosface_r100_fp16_0.1/backbone.pth``
and their r50/r34/r18 siblings: plain state dicts (fp16 is the training precision; tensors are float).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Mapping

import numpy as np
import torch
from torch import nn

from ..loading import CheckpointError, load_strict, read_state_dict
from .weights import require_file

SLOT = "ArcFace backbone"
PUBLIC_FILE = ("backbone.pth from the InsightFace arcface_torch model zoo, e.g. "
               "ms1mv3_arcface_r100_fp16/backbone.pth or glint360k_cosface_r100_fp16_0.1/backbone.pth "
               "(https://github.com/deepinsight/insightface/tree/master/recognition/arcface_torch, "
               "'Model Zoo'; non-commercial research use only)")
CLI_FLAG = "--arcface"
INPUT_SIZE = 112                  # aligned face side, pixels
STEM_WIDTH = 64
STAGE_WIDTHS = (64, 128, 256, 512)
BN_EPS = 1e-5


@dataclass(frozen=True)
class IResNetConfig:
    """Architecture of one IResNet: blocks per stage and the embedding width."""

    layers: tuple[int, int, int, int]
    embedding_dim: int = 512
    input_size: int = INPUT_SIZE

    @property
    def fc_in(self) -> int:
        """Flattened size of the last stage: 512 x (input/16)^2 = 25088 for 112 px."""
        return STAGE_WIDTHS[-1] * (self.input_size // 16) ** 2

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping) -> "IResNetConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown IResNetConfig keys {unknown}; known: {sorted(known)}.")
        values = dict(data)
        if "layers" in values:
            values["layers"] = tuple(int(n) for n in values["layers"])
        return cls(**values)


IRESNET_PRESETS = {
    "r18": IResNetConfig(layers=(2, 2, 2, 2)),
    "r34": IResNetConfig(layers=(3, 4, 6, 3)),
    "r50": IResNetConfig(layers=(3, 4, 14, 3)),
    "r100": IResNetConfig(layers=(3, 13, 30, 3)),
    "r200": IResNetConfig(layers=(6, 26, 60, 6)),
}


class IBasicBlock(nn.Module):
    """BN -> conv3x3 -> BN -> PReLU -> conv3x3(stride) -> BN, plus a (projected) shortcut."""

    def __init__(self, in_ch: int, out_ch: int, stride: int, *, device=None, dtype=None) -> None:
        super().__init__()
        kw = dict(device=device, dtype=dtype)
        self.bn1 = nn.BatchNorm2d(in_ch, eps=BN_EPS, **kw)
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, 1, 1, bias=False, **kw)
        self.bn2 = nn.BatchNorm2d(out_ch, eps=BN_EPS, **kw)
        self.prelu = nn.PReLU(out_ch, **kw)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, stride, 1, bias=False, **kw)
        self.bn3 = nn.BatchNorm2d(out_ch, eps=BN_EPS, **kw)
        self.downsample = None
        if stride != 1 or in_ch != out_ch:
            self.downsample = nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride, bias=False, **kw),
                                            nn.BatchNorm2d(out_ch, eps=BN_EPS, **kw))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn3(self.conv2(self.prelu(self.bn2(self.conv1(self.bn1(x))))))   # (B, C', H/s, W/s)
        shortcut = x if self.downsample is None else self.downsample(x)
        return out + shortcut


class IResNet(nn.Module):
    """ArcFace IResNet: (B, 3, 112, 112) in [-1, 1] -> (B, 512) un-normalised embedding."""

    def __init__(self, config: IResNetConfig, *, device=None, dtype=None) -> None:
        super().__init__()
        self.config = config
        kw = dict(device=device, dtype=dtype)
        self.conv1 = nn.Conv2d(3, STEM_WIDTH, 3, 1, 1, bias=False, **kw)
        self.bn1 = nn.BatchNorm2d(STEM_WIDTH, eps=BN_EPS, **kw)
        self.prelu = nn.PReLU(STEM_WIDTH, **kw)
        in_ch = STEM_WIDTH
        for index, (width, blocks) in enumerate(zip(STAGE_WIDTHS, config.layers), start=1):
            stage = [IBasicBlock(in_ch, width, 2, **kw)]
            stage += [IBasicBlock(width, width, 1, **kw) for _ in range(blocks - 1)]
            setattr(self, f"layer{index}", nn.Sequential(*stage))
            in_ch = width
        self.bn2 = nn.BatchNorm2d(in_ch, eps=BN_EPS, **kw)
        self.dropout = nn.Dropout(p=0.0)
        self.fc = nn.Linear(config.fc_in, config.embedding_dim, **kw)
        self.features = nn.BatchNorm1d(config.embedding_dim, eps=BN_EPS, **kw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.prelu(self.bn1(self.conv1(x)))                            # (B, 64, 112, 112)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))          # (B, 512, 7, 7)
        x = self.dropout(torch.flatten(self.bn2(x), 1))                    # (B, 25088)
        return self.features(self.fc(x))                                   # (B, 512)


def detect_config(state: Mapping[str, torch.Tensor], path: str | Path = "<state dict>") -> IResNetConfig:
    """The IResNet preset whose block counts and fc shape match ``state``'s keys.

    Raises:
        CheckpointError: no ``fc.weight``/``layerK.i`` keys (not an IResNet backbone), or block
            counts that match no preset.
    """
    counts = []
    for stage in range(1, 5):
        prefix = f"layer{stage}."
        blocks = {key[len(prefix):].split(".", 1)[0] for key in state if key.startswith(prefix)}
        counts.append(len(blocks))
    fc = state.get("fc.weight")
    if fc is None or 0 in counts:
        raise CheckpointError(
            f"{SLOT}: '{path}' is not an IResNet backbone (blocks per stage {tuple(counts)}, "
            f"fc.weight {'missing' if fc is None else 'present'}). Expected {PUBLIC_FILE}.")
    for name, preset in IRESNET_PRESETS.items():
        if preset.layers == tuple(counts):
            side = int(round((fc.shape[1] / STAGE_WIDTHS[-1]) ** 0.5)) * 16
            return IResNetConfig(layers=preset.layers, embedding_dim=int(fc.shape[0]), input_size=side)
    raise CheckpointError(
        f"{SLOT}: '{path}' has {tuple(counts)} blocks per stage, which is none of "
        f"{ {n: p.layers for n, p in IRESNET_PRESETS.items()} }.")


def load_arcface(path: str | Path) -> IResNet:
    """Build the IResNet that fits the public ``backbone.pth`` at ``path`` and load it strictly.

    Returns the model in eval mode, float32, on CPU.

    Raises:
        FileNotFoundError: no file at ``path`` (names the public file and ``--arcface``).
        CheckpointError: unreadable file, unknown depth, missing/unexpected keys or wrong shapes.
    """
    path = require_file(path, slot=SLOT, public=PUBLIC_FILE, flag=CLI_FLAG)
    state = read_state_dict(path, SLOT)
    config = detect_config(state, path)
    if config.input_size != INPUT_SIZE:
        raise CheckpointError(f"{SLOT}: '{path}' has fc.weight {tuple(state['fc.weight'].shape)}, "
                              f"which is not the {INPUT_SIZE} px layout (in features {config.fc_in}).")
    model = IResNet(config)
    load_strict(model, state, slot=SLOT, path=path, hint=f" Expected {PUBLIC_FILE}.")
    return model.float().eval()


def faces_to_tensor(faces: np.ndarray) -> torch.Tensor:
    """uint8 (N, 112, 112, 3) RGB -> float32 (N, 3, 112, 112) in [-1, 1] as (x/255 - 0.5)/0.5."""
    faces = np.asarray(faces)
    if faces.dtype != np.uint8 or faces.ndim != 4 or faces.shape[1:] != (INPUT_SIZE, INPUT_SIZE, 3):
        raise ValueError(f"faces must be uint8 (N, {INPUT_SIZE}, {INPUT_SIZE}, 3) aligned RGB crops, "
                         f"got {faces.dtype} {faces.shape}; align them with face_align.align_faces.")
    x = torch.from_numpy(np.ascontiguousarray(faces)).permute(0, 3, 1, 2).float()   # (N, 3, H, W)
    return (x / 255.0 - 0.5) / 0.5


@torch.no_grad()
def identity_embeddings(model: nn.Module, faces: np.ndarray, *, batch: int = 32,
                        device: str | torch.device = "cpu") -> np.ndarray:
    """ArcFace embeddings of aligned faces.

    Args:
        model: a loaded IResNet (``load_arcface``); it is moved to ``device`` and set to eval.
        faces: uint8 (N, 112, 112, 3) RGB faces aligned to ``face_align.ARCFACE_TEMPLATE``.
            Input normalisation: RGB, (x / 255 - 0.5) / 0.5, as arcface_torch's inference script.
        batch: faces per forward pass.

    Returns:
        (N, 512) float64, each row of unit L2 norm.
    """
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}.")
    x = faces_to_tensor(faces)                                             # (N, 3, 112, 112)
    model = model.to(device).eval()
    chunks = [model(x[i:i + batch].to(device)).double().cpu() for i in range(0, len(x), batch)]
    emb = torch.cat(chunks) if chunks else torch.zeros(0, model.config.embedding_dim, dtype=torch.float64)
    return torch.nn.functional.normalize(emb, dim=1).numpy()               # (N, 512)
