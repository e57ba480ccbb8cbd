"""The motion every backend returns and every renderer reads: MotionSequence, time resampling, frame count.

    MotionSequence(values (N,70) in layout.py's order, kp (1,21,3), fps, trained, origin)
    resample_frames(values, src_fps, dst_fps, n_out)      linear in time, any frame rates
    scale_pose(motion, center_pose, scale)                 head motion about a pose (0 = still head)
    frame_count(amount, fps, rate)                          THE N = ceil(duration * fps) (playmate_core.timebase)
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..timebase import fps_fraction, frame_count
from .layout import POSE, vector_to_motion

__all__ = ["MotionSequence", "resample_frames", "scale_pose", "frame_count", "fps_fraction"]


@dataclass
class MotionSequence:
    """Generated motion. values: (N,70) de-normalised, float32, CPU, layout of layout.py.
    kp: (1,21,3) the source canonical keypoints. normalised: (N,70) z-space output of the model.
    trained: False when the model's weights are not trained (then the motion is noise).
    origin: where the motion comes from: "audio" (generate_motion), "driving" (extracted from video
    frames, playmate_core.pipeline.extract_driving) or "joyvasa".
    tracks: optional per-frame control curves for display (name -> (N,) float32), written by the motion
    edits of playmate_core.pipeline (e.g. "blink", "silence", "edit:smile") and drawn by Motion Preview;
    informational only (rendering reads `values`), not saved in motion files."""
    values: torch.Tensor
    kp: torch.Tensor
    fps: float
    trained: bool
    normalised: torch.Tensor | None = None
    origin: str = "audio"
    tracks: dict | None = None

    def __len__(self) -> int:
        return self.values.shape[0]

    @property
    def duration(self) -> float:
        return len(self) / self.fps

    def motion(self) -> dict:
        """All frames as one batched motion dict: kp, exp (N,21,3); pitch, yaw, roll (N,1); t (N,3); scale (N,1)."""
        return vector_to_motion(self.values, self.kp)

    def frames(self) -> list:
        """Per-frame motion dicts of batch 1 ({kp, exp, pitch, yaw, roll, t, scale}) that
        FaceEngine.transform_keypoints renders directly."""
        batched = self.motion()
        return [{k: v[i:i + 1] for k, v in batched.items()} for i in range(len(self))]


def resample_frames(values: torch.Tensor, src_fps: float, dst_fps: float, n_out: int) -> torch.Tensor:
    """Linear interpolation in time between frame rates: (N,C) at src_fps -> (n_out,C) at dst_fps.

    Output frame i (centre (i + 0.5) / dst_fps s) reads source position (i + 0.5) * src_fps / dst_fps - 0.5,
    clamped to the first/last source frame. Angles are in degrees and vary smoothly, so linear
    interpolation of every channel is adequate.
    """
    pos = (torch.arange(n_out, dtype=torch.float64) + 0.5) * (src_fps / dst_fps) - 0.5
    pos = pos.clamp(0, values.shape[0] - 1)
    lo = pos.floor().long()
    hi = (lo + 1).clamp(max=values.shape[0] - 1)
    w = (pos - lo).to(values.dtype)[:, None]                                   # n_out,1
    return values[lo] * (1 - w) + values[hi] * w


def scale_pose(motion: MotionSequence, center: torch.Tensor, scale: float) -> MotionSequence:
    """pose' = center + scale (pose - center) on pitch, yaw, roll, t and scale (expression untouched).

    center: (7,) a pose in layout order (usually the source portrait's). 0 = a still head at `center`,
    1 = unchanged, > 1 = livelier. For backends without a pose scale of their own (JoyVASA)."""
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0 <= scale <= 10:
        raise ValueError(f"pose_scale must be a number in [0, 10], got {scale!r}")
    if scale == 1:
        return motion
    values = motion.values.clone()                                              # N,70
    center = center.to(values.dtype)
    values[:, POSE] = center + float(scale) * (values[:, POSE] - center)
    return MotionSequence(values=values, kp=motion.kp, fps=motion.fps, trained=motion.trained, origin=motion.origin)
