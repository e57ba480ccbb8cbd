"""Pose override: mix a motion's head pose with another pose source, per axis (PoseOverride node).

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


from .motion.generate import MotionSequence
from .motion.layout import EXP, POSE
from .pipeline.pose_edit import LIP_KEYPOINTS, match_length, override_pose, relative_driving, replace_expression
from .pipeline.source import PortraitSource

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
    """pose' = pose_s + scale (pose - pose_s) on pitch, yaw, roll, t and scale (expression untouched).

    0 = a still head at the source pose, 1 = unchanged, > 1 = livelier. For backends whose pose is not
    generated around the source pose with a pose_scale of their own (JoyVASA)."""
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0 <= scale <= 10:
        raise ValueError(f"pose_scale must be a number in [0, 10], got {scale!r}")
    if scale == 1:
        return motion
    values = motion.values.clone()
    pose_s = source.vector().float()[POSE]                                    # 7
    values[:, POSE] = pose_s + float(scale) * (values[:, POSE] - pose_s)
    return MotionSequence(values=values, kp=motion.kp, fps=motion.fps, trained=motion.trained, origin=motion.origin)


def still_motion(source: PortraitSource, frames: int, fps: float) -> MotionSequence:
    """The source portrait held still for `frames` frames (a neutral motion to edit or render)."""
    values = source.vector().float()[None].expand(frames, -1).clone()         # N,70
    return MotionSequence(values=values, kp=source.motion["kp"].float().reshape(1, 21, 3), fps=fps, trained=True,
                          origin="driving")


__all__ = ["POSE_SOURCES", "DRIVING_MODES", "pose_override", "scale_head_motion", "still_motion"]
