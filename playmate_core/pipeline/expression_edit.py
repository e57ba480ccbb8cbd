"""The expression editor: named controls (smile, brows, eyes, winks, gaze, mouth shapes, head angles),
each a constant or a keyframed curve, applied to any motion or to a still portrait, with a rendered preview.

Per frame i (t_i = i / fps) and control c with value v = curve_c(t_i) (keyframes.py):

    exp_i   += max(v, 0) P_c + max(-v, 0) N_c         P_c, N_c (21,3): keypoint_map.control_offsets(c)
    angle_i += v                                      head_pitch / head_yaw / head_roll, in degrees

Every other value of the motion is unchanged; each control's keypoints and meaning are listed in
keypoint_map.CONTROLS. The edited motion carries an "edit:<control>" track per control in use.

A still portrait is a motion too: the source's own motion held for one frame (or `still_seconds` of
frames, so that curves play out), `pose_edit.still_motion`.
"""
from __future__ import annotations

import math
import numbers
from typing import Callable, Mapping

import numpy as np
import torch

from ..face.engine import FaceEngine
from ..motion.layout import ANGLES, EXP, NUM_KP
from ..motion.sequence import MotionSequence
from ..timebase import frame_count
from .keyframes import Curve, parse_keyframes
from .keypoint_map import CONTROL_NAMES, CONTROLS, POSE_CONTROLS, control_offsets
from .pose_edit import still_motion
from .render import render_frames
from .source import RENDER_SIZE, PortraitSource
from .tracks import EDIT_PREFIX, edited

PREVIEWS = ("first, middle, last", "first", "middle", "last", "none")
MAX_STILL_S = 60.0


def control_ranges() -> dict:
    """name -> (low, high) of every control, in CONTROL_NAMES order."""
    return {name: (c.low, c.high) for name, c in CONTROLS.items()}


def expression_controls(constants: Mapping[str, float] | None = None, keyframes: str = "") -> dict:
    """Constants (e.g. slider values; 0 = off) and keyframe text (keyframes.py syntax) -> {name: Curve}.

    A control with a keyframe line must have its constant at 0: the curve is its value over time."""
    constants = dict(constants or {})
    unknown = sorted(set(constants) - set(CONTROL_NAMES))
    if unknown:
        raise ValueError(f"unknown expression controls {unknown}; controls are {', '.join(CONTROL_NAMES)}")
    ranges = control_ranges()
    curves = parse_keyframes(keyframes or "", ranges)
    out: dict = {}
    for name in CONTROL_NAMES:
        value = constants.get(name, 0.0)
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise ValueError(f"expression control {name} must be a number, got {value!r}")
        if name in curves:
            if value != 0:
                raise ValueError(f"{name} has both a value ({value:g}) and a keyframe curve; set {name} to 0 to use "
                                 f"the curve, or delete its keyframes line to use the value")
            out[name] = curves[name]
        elif value != 0:
            low, high = ranges[name]
            if not low <= value <= high:
                raise ValueError(f"expression control {name} = {value:g} is outside [{low:g}, {high:g}]")
            out[name] = Curve((0.0,), (float(value),))
    return out


def apply_expression(motion: MotionSequence, controls: Mapping[str, Curve]) -> MotionSequence:
    """`motion` with every control's curve applied (see the module doc) and its "edit:<name>" tracks."""
    if not isinstance(motion, MotionSequence):
        raise ValueError(f"apply_expression needs a MotionSequence, got {type(motion).__name__}")
    n, fps = len(motion), float(motion.fps)
    t = np.arange(n) / fps
    values = motion.values.clone()
    exp = torch.zeros(n, NUM_KP, 3, dtype=values.dtype)                             # N,21,3 offsets
    tracks = {}
    for name, curve in controls.items():
        if name not in CONTROLS:
            raise ValueError(f"unknown expression control {name!r}; controls are {', '.join(CONTROL_NAMES)}")
        v = torch.from_numpy(curve.at(t)).to(values.dtype)                          # N
        tracks[EDIT_PREFIX + name] = v
        if name in POSE_CONTROLS:
            values[:, ANGLES.start + POSE_CONTROLS.index(name)] += v
            continue
        pos, neg = control_offsets(name, motion.kp)                                 # 21,3 each
        exp += v.clamp(min=0)[:, None, None] * pos.to(values) + (-v).clamp(min=0)[:, None, None] * neg.to(values)
    values[:, EXP] += exp.reshape(n, NUM_KP * 3)
    return edited(motion, values, tracks)


def still_source_motion(source: PortraitSource, still_seconds: float = 0.0, fps: float = 25.0) -> MotionSequence:
    """The portrait's own motion held still: one frame (still_seconds 0) or ceil(still_seconds x fps) frames."""
    if not isinstance(source, PortraitSource):
        raise ValueError(f"source must be a PortraitSource (Playmate Extract Motion), got {type(source).__name__}")
    for name, v, low, high in (("still_seconds", still_seconds, 0, MAX_STILL_S), ("fps", fps, 1, 120)):
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not low <= v <= high:
            raise ValueError(f"{name} must be a number in [{low:g}, {high:g}], got {v!r}")
    return still_motion(source, max(1, frame_count(float(still_seconds), fps)), float(fps))


def preview_indices(n: int, which: str) -> list:
    """Frame indices shown for a preview choice (PREVIEWS) of an n-frame motion, without repeats."""
    if which not in PREVIEWS:
        raise ValueError(f"preview must be one of {PREVIEWS}, got {which!r}")
    picks = {"first": [0], "middle": [(n - 1) // 2], "last": [n - 1], "none": [],
             "first, middle, last": [0, (n - 1) // 2, n - 1]}[which]
    return sorted(set(picks))


def preview_frames(engine: FaceEngine, source: PortraitSource, motion: MotionSequence, which: str = PREVIEWS[0],
                   callback: Callable[[int, int], None] | None = None) -> np.ndarray:
    """Render the chosen frames of `motion` as 512x512 crops -> (k,512,512,3) uint8 (k = 0 for "none")."""
    idx = preview_indices(len(motion), which)
    if not idx:
        return np.zeros((0, RENDER_SIZE, RENDER_SIZE, 3), np.uint8)
    picked = MotionSequence(values=motion.values[idx], kp=motion.kp, fps=motion.fps, trained=motion.trained,
                            origin=motion.origin)
    return np.stack(list(render_frames(engine, source, picked, paste_back=False, callback=callback)))


def edit_expression(engine: FaceEngine | None, source: PortraitSource, motion: MotionSequence | None = None,
                    constants: Mapping[str, float] | None = None, keyframes: str = "", still_seconds: float = 0.0,
                    fps: float = 25.0, preview: str = PREVIEWS[0],
                    callback: Callable[[int, int], None] | None = None) -> tuple:
    """The Expression Edit node's one call -> (edited motion, preview frames (k,512,512,3) uint8).

    motion None edits the still portrait (still_source_motion(source, still_seconds, fps)); otherwise
    still_seconds and fps are unused. engine None renders no preview (k = 0)."""
    controls = expression_controls(constants, keyframes)
    base = still_source_motion(source, still_seconds, fps) if motion is None else motion
    out = apply_expression(base, controls)
    frames = preview_frames(engine, source, out, preview, callback) if engine is not None else \
        np.zeros((0, RENDER_SIZE, RENDER_SIZE, 3), np.uint8)
    return out, frames


__all__ = ["PREVIEWS", "control_ranges", "expression_controls", "apply_expression", "still_source_motion",
           "preview_indices", "preview_frames", "edit_expression"]
