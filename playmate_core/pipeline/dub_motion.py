"""Video dubbing, what moves: a frame's own motion with the generated lips (and, by a strength, expression).

For source frame k with its own motion o_k (70-d, layout.py) and the generated motion g_j of output frame j:

    exp'[n] = o_k[n] + s_lip (g_j[n] - o_k[n])     n in LIP_KEYPOINTS     (s_lip = 1: the new speech's lips)
    exp'[n] = o_k[n]                               n in EYE_KEYPOINTS     (the frame's own eyes and blinks)
    exp'[n] = o_k[n] + s_exp (g_j[n] - o_k[n])     every other keypoint   (s_exp = 0: the frame's own face)
    pitch, yaw, roll, t, scale = o_k's              the frame's own head pose, always

The lips are taken absolutely (not relative to a first frame), because the original lips are saying
something else. With g_j = o_k the result is o_k exactly: a no-op dub renders LivePortrait's own
reconstruction of the frame.
"""
from __future__ import annotations

import math
import numbers

import torch

from ..motion.layout import EXP, MOTION_DIM, NUM_KP
from .pose_edit import EYE_KEYPOINTS, LIP_KEYPOINTS


def _strength(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) \
            or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a number in [0, 1] (0 = the video's own, 1 = the generated), got {value!r}")
    return float(value)


def keypoint_weights(lip_strength: float = 1.0, expression_strength: float = 0.0) -> torch.Tensor:
    """(70,) float32 weight of the generated motion per channel (the table in the module docstring)."""
    s_lip = _strength(lip_strength, "lip_strength")
    s_exp = _strength(expression_strength, "expression_strength")
    per_kp = torch.full((NUM_KP,), s_exp)                            # 21
    per_kp[list(LIP_KEYPOINTS)] = s_lip
    per_kp[list(EYE_KEYPOINTS)] = 0.0
    weights = torch.zeros(MOTION_DIM)                                # 70: pose channels stay 0
    weights[EXP] = per_kp.repeat_interleave(3)                       # 63 = 21 x (x, y, z)
    return weights


def dub_motion(own: torch.Tensor, generated: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """own, generated: (B,70) or (70,) motion vectors -> (same shape) own + weights * (generated - own)."""
    if own.shape[-1] != MOTION_DIM or generated.shape[-1] != MOTION_DIM:
        raise ValueError(f"motion vectors must have {MOTION_DIM} values, got {tuple(own.shape)} and "
                         f"{tuple(generated.shape)}")
    w = weights.to(own)
    return own + w * (generated.to(own) - own)


__all__ = ["keypoint_weights", "dub_motion"]
