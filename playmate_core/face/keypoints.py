"""Implicit-keypoint and head-pose math of LivePortrait, as pure batch-first functions.

Conventions (as the public checkpoints were trained with):
* angles in DEGREES; pitch rotates about x, yaw about y, roll about z;
* keypoints are ROW vectors (B,N,3) in the normalised [-1,1]^3 space of the 16x64x64 feature
  volume (x -> image width, y -> height, z -> depth), so they are rotated as `x @ R`.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import torch

NUM_BINS = 66          # head-pose classification bins of M
BIN_WIDTH_DEG = 3.0    # each bin covers 3 degrees
BIN_OFFSET_DEG = -97.5  # centre of bin 0; bins span [-97.5, 97.5]
RATIO_EPS = 1e-6       # denominator eps of the eye/lip openness ratios

# Landmark index quadruples (a, b, c, d) for ratio = |p_a - p_b| / (|p_c - p_d| + eps):
# vertical opening over horizontal width. Layout names are those of `playmate_core.crop`.
_MEDIAPIPE = {"left_eye": (159, 145, 33, 133), "right_eye": (386, 374, 362, 263), "lip": (13, 14, 78, 308)}
RATIO_INDICES = {
    # LivePortrait's 203-point landmark.onnx layout
    "lp203": {"left_eye": (6, 18, 0, 12), "right_eye": (30, 42, 24, 36), "lip": (90, 102, 48, 66)},
    # MediaPipe face mesh: upper/lower eyelid over eye corners; inner lips over mouth corners
    "mediapipe478": _MEDIAPIPE,
    "mediapipe468": _MEDIAPIPE,
}


def bins_to_degrees(logits: torch.Tensor) -> torch.Tensor:
    """Expected angle of the softmax over pose bins: sum_i softmax(logits)_i * i * 3 - 97.5 degrees.

    (B,66) logits -> (B,). Any other shape (e.g. angles already in degrees, (B,1)) is returned
    unchanged, so the keypoint transform accepts either.
    """
    if logits.ndim < 2 or logits.shape[1] != NUM_BINS:
        return logits
    idx = torch.arange(NUM_BINS, dtype=logits.dtype, device=logits.device)
    prob = torch.softmax(logits, dim=1)
    return (prob * idx).sum(dim=1) * BIN_WIDTH_DEG + BIN_OFFSET_DEG


def rotation_matrix(pitch: torch.Tensor, yaw: torch.Tensor, roll: torch.Tensor) -> torch.Tensor:
    """R = (Rz(roll) . Ry(yaw) . Rx(pitch))^T from angles in degrees, each (B,) or (B,1) -> (B,3,3).

    Rx = [[1,0,0],[0,cx,-sx],[0,sx,cx]], Ry = [[cy,0,sy],[0,1,0],[-sy,0,cy]],
    Rz = [[cz,-sz,0],[sz,cz,0],[0,0,1]]. The transpose is returned because keypoints are row
    vectors: `kp @ R` applies Rz.Ry.Rx to each keypoint.
    """
    angles = [a.reshape(-1, 1) / 180 * np.pi for a in (pitch, yaw, roll)]   # B,1 radians each
    x, y, z = angles
    one, zero = torch.ones_like(x), torch.zeros_like(x)
    rx = torch.cat([one, zero, zero, zero, x.cos(), -x.sin(), zero, x.sin(), x.cos()], 1).view(-1, 3, 3)
    ry = torch.cat([y.cos(), zero, y.sin(), zero, one, zero, -y.sin(), zero, y.cos()], 1).view(-1, 3, 3)
    rz = torch.cat([z.cos(), -z.sin(), zero, z.sin(), z.cos(), zero, zero, zero, one], 1).view(-1, 3, 3)
    return (rz @ ry @ rx).transpose(1, 2)


def transform_keypoints(kp: torch.Tensor, pitch: torch.Tensor, yaw: torch.Tensor, roll: torch.Tensor,
                        exp: torch.Tensor, scale: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Paper Eq. 2: x = s * (x_c @ R + delta) + t, with only tx and ty applied (tz is ignored).

    kp, exp: (B,N,3) or (B,3N); pitch/yaw/roll: degrees (B,)/(B,1) or (B,66) bin logits;
    scale: (B,1); t: (B,3). Returns (B,N,3).
    """
    b = kp.shape[0]
    kp = kp.reshape(b, -1, 3)
    rot = rotation_matrix(bins_to_degrees(pitch), bins_to_degrees(yaw), bins_to_degrees(roll))
    x = kp @ rot + exp.reshape(b, -1, 3)                     # B,N,3
    x = x * scale.reshape(b, 1, 1)
    shift = torch.zeros_like(x[:, :1, :])                    # B,1,3
    shift[..., :2] = t.reshape(b, 3)[:, None, :2]
    return x + shift


def motion_to_degrees(raw: Mapping[str, torch.Tensor]) -> dict:
    """M's raw output -> dict(kp (B,N,3), exp (B,N,3), pitch/yaw/roll (B,1) degrees, t (B,3), scale (B,1))."""
    b = raw["kp"].shape[0]
    out = {k: bins_to_degrees(raw[k])[:, None] for k in ("pitch", "yaw", "roll")}
    out.update(kp=raw["kp"].reshape(b, -1, 3), exp=raw["exp"].reshape(b, -1, 3), t=raw["t"], scale=raw["scale"])
    return out


def distance_ratio(landmarks: np.ndarray, a: int, b: int, c: int, d: int) -> np.ndarray:
    """|p_a - p_b| / (|p_c - p_d| + 1e-6) for landmarks (B,L,2) -> (B,1)."""
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.ndim == 2:
        lm = lm[None]
    num = np.linalg.norm(lm[:, a] - lm[:, b], axis=-1)
    den = np.linalg.norm(lm[:, c] - lm[:, d], axis=-1) + RATIO_EPS
    return (num / den)[:, None]


def _indices(layout: str) -> dict:
    if layout not in RATIO_INDICES:
        raise ValueError(f"unknown landmark layout {layout!r}; expected one of {sorted(RATIO_INDICES)}")
    return RATIO_INDICES[layout]


def eye_ratios(landmarks: np.ndarray, layout: str = "lp203") -> np.ndarray:
    """Left and right eye openness (B,2): eyelid distance over eye width."""
    idx = _indices(layout)
    return np.concatenate([distance_ratio(landmarks, *idx["left_eye"]),
                           distance_ratio(landmarks, *idx["right_eye"])], axis=1)


def lip_ratio(landmarks: np.ndarray, layout: str = "lp203") -> np.ndarray:
    """Mouth openness (B,1): inner-lip distance over mouth width."""
    return distance_ratio(landmarks, *_indices(layout)["lip"])


def combined_eye_ratio(source_eye: np.ndarray, driving_eye: float | Sequence[float]) -> np.ndarray:
    """Eye-retargeting condition [c_s_left, c_s_right, c_d] (B,3); the driving side is one scalar."""
    source_eye = np.asarray(source_eye, dtype=np.float64).reshape(-1, 2)
    drv = np.broadcast_to(np.asarray(driving_eye, dtype=np.float64).reshape(-1, 1), (source_eye.shape[0], 1))
    return np.concatenate([source_eye, drv], axis=1)
