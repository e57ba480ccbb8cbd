"""Pure edits of motion sequences: time alignment, LivePortrait-style relative driving, pose override
and expression replacement, and the Pose Override node's per-axis mix. Every function returns new
tensors / a new MotionSequence.

Motion layout (motion/layout.py): exp 0:63 (21 keypoints x 3), pitch/yaw/roll 63:66 degrees,
t 66:69, scale 69. A "pose" is the last 7 values: (pitch, yaw, roll, tx, ty, tz, scale).

Pose override (`pose_override`):
    target pose P (n,7) from the pose source:
        "generated"      the motion's own pose (nothing changes unless expression_only)
        "driving motion" a driving video's motion, time-aligned (loop / pingpong / hold / stretch),
                         relative to its first frame (LivePortrait's relative mode) or absolute
        "image"          a still image's pose (constant)
        "source"         the source portrait's pose (constant: a still head)
    pose' = pose + s_axis (P - pose)  for pitch, yaw, roll and position (t, scale), then + offsets
    expression_only: s = 1 on every axis (and "generated" falls back to the source pose)
    lip_only: the expression keeps the motion's lip keypoints only; the rest comes from the pose
              source (driving frames, relative) or the source portrait
"""
from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Sequence

import torch

from ..motion.layout import ANGLES, EXP, EXP_DIM, MOTION_DIM, NUM_KP, POSE, POSE_DIM, SCALE
from ..motion.sequence import MotionSequence, scale_pose
from .source import PortraitSource

LIP_KEYPOINTS = (6, 12, 14, 17, 19, 20)      # LivePortrait's lip region (its animation_region "lip")
EYE_KEYPOINTS = (11, 13, 15, 16, 18)         # LivePortrait's eye region (its animation_region "eyes")
LENGTH_POLICIES = ("loop", "pingpong", "hold", "stretch")
MAX_OFFSET_DEG = 90.0                        # the pose bins span +-97.5 degrees


def _finite_tensor(x, name: str) -> torch.Tensor:
    t = torch.as_tensor(x).float()
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} contains NaN or inf; re-extract or regenerate it")
    return t


def _positive(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive number (e.g. 25), got {value!r}")
    return float(value)


def _source_positions(m: int, src_fps: float, n: int, dst_fps: float, policy: str) -> torch.Tensor:
    """(n,) fractional source frame index for each output frame (float64)."""
    i = torch.arange(n, dtype=torch.float64)
    if policy == "stretch":                                  # whole clip onto n frames, ends on ends
        return i * ((m - 1) / (n - 1)) if n > 1 else torch.zeros(1, dtype=torch.float64)
    pos = ((i + 0.5) * (src_fps / dst_fps) - 0.5).clamp(min=0)   # frame centres in time
    if m == 1 or policy == "hold":
        return pos.clamp(max=m - 1)
    if policy == "loop":
        return torch.remainder(pos, m)                       # m-1 -> 0 wraps (periodic clip)
    period = 2 * (m - 1)                                     # pingpong: 0..m-1..1, 0..
    pos = torch.remainder(pos, period)
    return torch.where(pos > m - 1, period - pos, pos)


def match_length(values: torch.Tensor, src_fps: float, n: int, dst_fps: float, policy: str = "loop") -> torch.Tensor:
    """(M,C) frames at src_fps -> (n,C) frames at dst_fps, time-aligned, linear interpolation.

    Output frame i reads source position p_i = (i + 0.5) src_fps / dst_fps - 0.5 (frame centres; p = i
    when the rates match), then past the clip's end:
        loop:     p mod M          (the last frame is followed by the first)
        pingpong: p reflected with period 2(M - 1): 0, 1, .., M-1, M-2, .., 1, 0, 1, ..
        hold:     min(p, M - 1)    (the last frame is held)
        stretch:  p_i = i (M - 1) / (n - 1), ignoring the rates: the whole clip resampled onto n frames.
    """
    if policy not in LENGTH_POLICIES:
        raise ValueError(f"policy must be one of {LENGTH_POLICIES}, got {policy!r}")
    v = _finite_tensor(values, "values")
    if v.ndim != 2 or v.shape[0] < 1:
        raise ValueError(f"values must be (frames, channels) with at least one frame, got {tuple(v.shape)}")
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"n (the number of output frames) must be an integer >= 1, got {n!r}")
    src_fps, dst_fps = _positive(src_fps, "src_fps"), _positive(dst_fps, "dst_fps")
    m = v.shape[0]
    pos = _source_positions(m, src_fps, int(n), dst_fps, policy)           # n
    lo = pos.floor().long().clamp(0, m - 1)
    hi = (lo + 1) % m if policy == "loop" else (lo + 1).clamp(max=m - 1)
    w = (pos - lo).to(v.dtype)[:, None]                                     # n,1
    return v[lo] * (1 - w) + v[hi] * w                                      # n,C


def _motion_rows(x, name: str) -> torch.Tensor:
    t = _finite_tensor(x, name)
    if t.ndim != 2 or t.shape[1] != MOTION_DIM or t.shape[0] < 1:
        raise ValueError(f"{name} must be (frames, {MOTION_DIM}) motion vectors, got {tuple(t.shape)}")
    return t


def relative_driving(driving: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
    """LivePortrait's relative motion in the 70-d layout: driving (M,70) + source (70,) -> (M,70).

        exp_i   = exp_s + (exp_d,i - exp_d,0)
        angle_i = angle_s + (angle_d,i - angle_d,0)      pitch, yaw, roll in degrees
        t_i     = t_s + (t_d,i - t_d,0)
        scale_i = scale_s * scale_d,i / scale_d,0
    Frame 0 therefore reproduces the source exactly.
    """
    d = _motion_rows(driving, "driving")
    s = _finite_tensor(source, "source").reshape(-1)
    if s.shape[0] != MOTION_DIM:
        raise ValueError(f"source must be one {MOTION_DIM}-d motion vector (PortraitSource.vector()), "
                         f"got {s.shape[0]} values")
    if float(d[0, SCALE]) <= 0:
        raise ValueError(f"driving frame 0 has scale {float(d[0, SCALE]):g}; a face scale must be > 0")
    out = s[None] + (d - d[:1])                                             # M,70 additive parts
    out[:, SCALE] = s[SCALE] * d[:, SCALE] / d[:1, SCALE]                   # M,1 multiplicative
    return out


def _per_frame(x, n: int, width: int, name: str, fix: str) -> torch.Tensor:
    """(width,) or (n,width) (or (n,21,3)-style reshapes of it) -> (n,width)."""
    t = _finite_tensor(x, name)
    if t.numel() == width:
        return t.reshape(1, width).expand(n, width)
    if t.ndim >= 2 and t.shape[0] == n and t[0].numel() == width:
        return t.reshape(n, width)
    raise ValueError(f"{name} must be ({width},) or ({n}, {width}) for this {n}-frame motion, got "
                     f"{tuple(t.shape)}; {fix}")


def _numbers(values, n: int, name: str, low: float, high: float) -> tuple:
    vals = tuple(values) if isinstance(values, (tuple, list)) else None
    if vals is None or len(vals) != n or not all(isinstance(v, numbers.Real) and math.isfinite(v) for v in vals):
        raise ValueError(f"{name} must be {n} finite numbers, got {values!r}")
    if not all(low <= v <= high for v in vals):
        raise ValueError(f"{name} must lie in [{low:g}, {high:g}], got {values!r}")
    return tuple(float(v) for v in vals)


def _with_values(motion: MotionSequence, values: torch.Tensor) -> MotionSequence:
    """A copy of `motion` with new values (normalised dropped: it no longer matches)."""
    return dataclasses.replace(motion, values=values, normalised=None)


def _check_motion(motion, name: str = "motion") -> torch.Tensor:
    if not isinstance(motion, MotionSequence):
        raise ValueError(f"{name} must be a MotionSequence (from generate_motion or extract_driving), "
                         f"got {type(motion).__name__}")
    return _motion_rows(motion.values, f"{name}.values")


def override_pose(motion: MotionSequence, target_pose, strength: Sequence[float] = (1.0, 1.0, 1.0, 1.0),
                  offsets: Sequence[float] = (0.0, 0.0, 0.0)) -> MotionSequence:
    """Mix the motion's head pose with a target pose per axis, then add angle offsets.

        pose' = pose + s_axis (target - pose)     s = strength (pitch, yaw, roll, position) in [0, 1];
                                                  "position" applies to t (3) and scale
        (pitch, yaw, roll)' += offsets            degrees, in [-90, 90]
    target_pose: (7,) (a constant pose) or (n,7) per frame, (pitch, yaw, roll, tx, ty, tz, scale).
    The expression is untouched.
    """
    v = _check_motion(motion)
    n = v.shape[0]
    target = _per_frame(target_pose, n, POSE_DIM, "target_pose",
                        "time-align a driving pose with match_length(values, fps, len(motion), motion.fps)")
    s = _numbers(strength, 4, "strength (pitch, yaw, roll, position)", 0.0, 1.0)
    off = _numbers(offsets, 3, "offsets (pitch, yaw, roll) in degrees", -MAX_OFFSET_DEG, MAX_OFFSET_DEG)
    weight = torch.tensor([s[0], s[1], s[2], s[3], s[3], s[3], s[3]])     # 7: per pose channel
    out = v.clone()
    out[:, POSE] = v[:, POSE] + weight * (target - v[:, POSE])              # n,7
    out[:, ANGLES] += torch.tensor(off)                                     # n,3
    return _with_values(motion, out)


def replace_expression(motion: MotionSequence, base_exp, keep: Sequence[int] = LIP_KEYPOINTS) -> MotionSequence:
    """exp' = base_exp except on the keypoints in `keep`, which keep the motion's own exp.

    base_exp: (63,) / (21,3) (constant) or (n,63) / (n,21,3) per frame. With keep=LIP_KEYPOINTS the
    motion drives only the lips (lip-only mode); keep=() replaces the whole expression. Pose unchanged.
    """
    v = _check_motion(motion)
    n = v.shape[0]
    base = _per_frame(base_exp, n, EXP_DIM, "base_exp", "pass one expression or one per motion frame")
    idx = tuple(keep)
    if not all(isinstance(k, numbers.Integral) and not isinstance(k, bool) and 0 <= k < NUM_KP for k in idx):
        raise ValueError(f"keep must list keypoint indices in 0..{NUM_KP - 1} (e.g. LIP_KEYPOINTS), got {keep!r}")
    exp = base.reshape(n, NUM_KP, 3).clone()                                # n,21,3
    own = v[:, EXP].reshape(n, NUM_KP, 3)
    exp[:, list(idx)] = own[:, list(idx)]
    out = v.clone()
    out[:, EXP] = exp.reshape(n, EXP_DIM)
    return _with_values(motion, out)


__all__ = ["LIP_KEYPOINTS", "EYE_KEYPOINTS", "LENGTH_POLICIES", "match_length", "relative_driving",
           "override_pose", "replace_expression"]


# ---- the Pose Override node's edit: one pose source mixed per axis -------------------------------
POSE_SOURCES = ("generated", "driving motion", "image", "source")
DRIVING_MODES = ("relative", "absolute")


def pose_override(motion: MotionSequence, source: PortraitSource, pose_source: str = "generated",
                  driving: MotionSequence | None = None, pose_image: PortraitSource | None = None,
                  strength=(1.0, 1.0, 1.0, 1.0), offsets=(0.0, 0.0, 0.0), lip_only: bool = False,
                  expression_only: bool = False, driving_mode: str = "relative",
                  length_policy: str = "loop") -> MotionSequence:
    """-> a new MotionSequence (same frames and fps as `motion`). See the module docstring."""
    if pose_source not in POSE_SOURCES:
        raise ValueError(f"pose_source must be one of {POSE_SOURCES}, got {pose_source!r}")
    if driving_mode not in DRIVING_MODES:
        raise ValueError(f"driving_mode must be one of {DRIVING_MODES}, got {driving_mode!r}")
    n = len(motion)
    src = source.vector().float()                                              # 70
    base_exp = src[EXP]                                                        # 63, the source expression
    if pose_source == "driving motion":
        if driving is None:
            raise ValueError("pose_source 'driving motion' needs a driving motion: connect Extract Motion (run on "
                             "the driving video's frames) to driving_motion")
        frames = match_length(driving.values.float(), driving.fps, n, motion.fps, length_policy)    # n,70
        if driving_mode == "relative":
            frames = relative_driving(frames, src)
        target, base_exp = frames[:, POSE], frames[:, EXP]
    elif pose_source == "image":
        if pose_image is None:
            raise ValueError("pose_source 'image' needs a pose image: connect Extract Motion (run on the still "
                             "image) to pose_image")
        target = pose_image.vector().float()[POSE]
    elif pose_source == "source" or expression_only:
        target = src[POSE]
    else:                                                                      # generated: keep the pose
        target = motion.values[:, POSE].float()
    if expression_only:
        strength = (1.0, 1.0, 1.0, 1.0)
    out = override_pose(motion, target, strength=tuple(strength), offsets=tuple(offsets))
    if lip_only:
        out = replace_expression(out, base_exp, keep=LIP_KEYPOINTS)
    return out


def scale_head_motion(motion: MotionSequence, source: PortraitSource, scale: float) -> MotionSequence:
    """pose' = pose_s + scale (pose - pose_s) about the source portrait's pose (motion.sequence.scale_pose)."""
    return scale_pose(motion, source.vector().float()[POSE], scale)


def still_motion(source: PortraitSource, frames: int, fps: float) -> MotionSequence:
    """The source portrait held still for `frames` frames (a neutral motion to edit or render)."""
    values = source.vector().float()[None].expand(frames, -1).clone()         # N,70
    return MotionSequence(values=values, kp=source.motion["kp"].float().reshape(1, 21, 3), fps=fps, trained=True,
                          origin="driving")

