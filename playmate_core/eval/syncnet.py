"""SyncNet v2 (Chung & Zisserman, "Out of time", ACCV-W 2016): the Sync-C / Sync-D embedding network.

Two streams map a 0.2 s clip of lips and the matching 0.2 s of audio to 1024-d embeddings whose
Euclidean distance is small when they are in sync:

    lip stream    (B, 3, 5, 224, 224) BGR pixel values 0..255, 5 frames at 25 fps
                  Conv3d 5x7x7 (all 5 frames at once) -> 2D-style 1x3x3 / 1x5x5 convs -> (B, 512, 1, 1, 1)
                  -> Linear 512 -> BN -> ReLU -> Linear 1024                   -> (B, 1024)
    audio stream  (B, 1, 13, 20) MFCCs (13 coefficients x 20 frames at 100 Hz)
                  Conv2d 3x3 stack -> Conv2d 5x4                                -> (B, 512, 1, 1)
                  -> Linear 512 -> BN -> ReLU -> Linear 1024                   -> (B, 1024)

Public weights: ``syncnet_v2.model`` from the authors (Oxford VGG), see ``SYNCNET_URL``. It is a
plain state dict of the inner network (what ``torch.load`` gives: an OrderedDict, keys such as
``netcnnaud.0.weight``, ``netcnnlip.18.weight``, ``netfclip.3.bias``). Module names and the positions
inside each ``nn.Sequential`` (ReLU and pooling slots included) are kept so the keys match as they
are. Declared key map (:data:`WRAPPER_PREFIXES`, :func:`public_to_module_keys`):

* a ``__S__.`` prefix (the attribute name of the reference's wrapper object) is removed when present;
* BatchNorm ``num_batches_tracked`` counters are optional: files written before PyTorch 0.4.1 have
  none, and in eval mode they are never read. When *all* are absent they are filled with 0.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import torch
from torch import nn

from playmate_core.loading import CheckpointError, load_strict, read_state_dict

from .weights import require_file

SYNCNET_FILE = "syncnet_v2.model"
SYNCNET_URL = "http://www.robots.ox.ac.uk/~vgg/software/lipsync/data/syncnet_v2.model"
CLI_FLAG = "--syncnet"
SLOT = "SyncNet"
WRAPPER_PREFIXES = ("__S__.",)
BN_COUNTER = "num_batches_tracked"
LOAD_HINT = (f" Expected the public SyncNet v2 weights '{SYNCNET_FILE}' ({SYNCNET_URL}), "
             f"given with {CLI_FLAG} PATH.")

# Trunk layouts: (out_channels, kernel, stride, padding, pool) per conv; pool is (kernel, stride,
# padding) or None. Every conv is followed by BatchNorm and ReLU, then the pool if any.
AUDIO_TRUNK = (
    (64, (3, 3), (1, 1), (1, 1), ((1, 1), (1, 1), (0, 0))),   # identity pool: keeps the key indices
    (192, (3, 3), (1, 1), (1, 1), ((3, 3), (1, 2), (0, 0))),
    (384, (3, 3), (1, 1), (1, 1), None),
    (256, (3, 3), (1, 1), (1, 1), None),
    (256, (3, 3), (1, 1), (1, 1), ((3, 3), (2, 2), (0, 0))),
    (512, (5, 4), (1, 1), (0, 0), None),
)
LIP_TRUNK = (
    (96, (5, 7, 7), (1, 2, 2), (0, 0, 0), ((1, 3, 3), (1, 2, 2), (0, 0, 0))),
    (256, (1, 5, 5), (1, 2, 2), (0, 1, 1), ((1, 3, 3), (1, 2, 2), (0, 1, 1))),
    (256, (1, 3, 3), (1, 1, 1), (0, 1, 1), None),
    (256, (1, 3, 3), (1, 1, 1), (0, 1, 1), None),
    (256, (1, 3, 3), (1, 1, 1), (0, 1, 1), ((1, 3, 3), (1, 2, 2), (0, 0, 0))),
    (512, (1, 6, 6), (1, 1, 1), (0, 0, 0), None),
)


@dataclass(frozen=True)
class SyncNetConfig:
    """SyncNet v2 sizes (the public file's; the trunks' layouts are fixed above)."""

    trunk_dim: int = 512        # channels out of each conv trunk = width of the hidden FC layer
    embed_dim: int = 1024       # output embedding size
    lip_frames: int = 5         # frames per visual window (25 fps -> 0.2 s)
    lip_size: int = 224         # square face crop side, pixels
    mfcc_coeffs: int = 13
    mfcc_frames: int = 20       # MFCC frames per audio window (100 Hz -> 0.2 s)


def _conv_trunk(layout, in_channels: int, dims: int) -> nn.Sequential:
    """Conv -> BN -> ReLU [-> MaxPool] per layout row, flattened into one Sequential."""
    conv, norm, pool = ((nn.Conv2d, nn.BatchNorm2d, nn.MaxPool2d) if dims == 2
                        else (nn.Conv3d, nn.BatchNorm3d, nn.MaxPool3d))
    layers: list[nn.Module] = []
    for out_channels, kernel, stride, padding, pooling in layout:
        layers += [conv(in_channels, out_channels, kernel, stride, padding), norm(out_channels), nn.ReLU()]
        if pooling is not None:
            layers.append(pool(*pooling))
        in_channels = out_channels
    return nn.Sequential(*layers)


def _embedding_head(trunk_dim: int, embed_dim: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(trunk_dim, trunk_dim), nn.BatchNorm1d(trunk_dim), nn.ReLU(),
                         nn.Linear(trunk_dim, embed_dim))


class SyncNet(nn.Module):
    """Lip and audio embedding streams (attribute names are the public file's key prefixes)."""

    def __init__(self, config: SyncNetConfig = SyncNetConfig(), device=None, dtype=None) -> None:
        super().__init__()
        if AUDIO_TRUNK[-1][0] != config.trunk_dim or LIP_TRUNK[-1][0] != config.trunk_dim:
            raise ValueError(f"trunk_dim must be {AUDIO_TRUNK[-1][0]} (the fixed trunk layout's width).")
        self.config = config
        self.netcnnaud = _conv_trunk(AUDIO_TRUNK, 1, dims=2)
        self.netfcaud = _embedding_head(config.trunk_dim, config.embed_dim)
        self.netcnnlip = _conv_trunk(LIP_TRUNK, 3, dims=3)
        self.netfclip = _embedding_head(config.trunk_dim, config.embed_dim)
        if device is not None or dtype is not None:
            self.to(device=device, dtype=dtype)
        # Parameters keep PyTorch's default initialisation: useful weights only come from the file.

    def embed_audio(self, mfcc: torch.Tensor) -> torch.Tensor:
        """(B, 1, 13, 20) MFCC windows -> (B, 1024) audio embeddings."""
        trunk = self.netcnnaud(mfcc)                           # (B, 512, 1, 1)
        return self.netfcaud(trunk.flatten(1))                 # (B, 1024)

    def embed_lip(self, lips: torch.Tensor) -> torch.Tensor:
        """(B, 3, 5, 224, 224) BGR 0..255 clips -> (B, 1024) visual embeddings."""
        trunk = self.netcnnlip(lips)                           # (B, 512, 1, 1, 1)
        return self.netfclip(trunk.flatten(1))                 # (B, 1024)

    def forward(self, lips: torch.Tensor, mfcc: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Both embeddings: ((B, 1024) lip, (B, 1024) audio)."""
        return self.embed_lip(lips), self.embed_audio(mfcc)


def public_to_module_keys(state: Mapping[str, torch.Tensor], module: nn.Module) -> dict:
    """Apply the declared key map (module docstring): strip wrapper prefixes, add absent BN counters."""
    mapped = {}
    for key, value in state.items():
        for prefix in WRAPPER_PREFIXES:
            key = key.removeprefix(prefix)
        mapped[key] = value
    counters = [k for k in module.state_dict() if k.endswith(BN_COUNTER)]
    if not any(k in mapped for k in counters):
        mapped.update({k: torch.zeros((), dtype=torch.long) for k in counters})
    return mapped


def load_syncnet(path) -> nn.Module:
    """Build SyncNet v2 and load ``syncnet_v2.model`` strictly; eval mode, float32, on CPU.

    Raises:
        FileNotFoundError: no file at ``path`` (names the public file and ``--syncnet``).
        CheckpointError: unreadable file, not a state dict, or wrong keys/shapes.
    """
    path = require_file(path, slot=SLOT, public=f"the public file '{SYNCNET_FILE}' (Oxford VGG, {SYNCNET_URL}, about "
                        f"54 MB)", flag=f"{CLI_FLAG} PATH")
    state = read_state_dict(path, SLOT)
    if not isinstance(state, Mapping):
        raise CheckpointError(f"{SLOT}: '{path}' holds a {type(state).__name__}, not a state dict.{LOAD_HINT}")
    model = SyncNet()
    load_strict(model, public_to_module_keys(state, model), slot=SLOT, path=path, hint=LOAD_HINT)
    return model.float().eval()
