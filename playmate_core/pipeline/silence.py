"""The mouth eases closed in pauses of the speech, for any motion, in LivePortrait's lip keypoints.

Pauses come from the audio itself (playmate_core.audio.pauses: level-free energy detection). For each
pause [a, b] of at least `min_pause` seconds, the closing weight at frame centre t = (i + 0.5) / fps is

    w(t) = strength * smoothstep((t - a) / e) * smoothstep((b - t) / e),   e = min(ease, (b - a) / 2)

so the mouth closes over `ease` seconds after the last word and opens again in the `ease` seconds
before the next one (0 outside pauses). Frames after the end of the audio count as silence.

Closing acts on the vertical expression offsets of the six lip keypoints (LIP_KEYPOINTS) only:

    y_k <- y_k + w (mean_lips(y) - y_k)

so the lips' vertical spread, the mouth opening that Motion Preview plots, shrinks by the factor
(1 - w): at w = 1 the lips sit at the face's canonical vertical layout, whatever the motion did. The
lips' x and z (width, rounding) and everything else are untouched.
"""
from __future__ import annotations

import math
import numbers

import numpy as np
import torch

from ..motion.layout import EXP, NUM_KP
from ..motion.sequence import MotionSequence
from .keypoint_map import LIP_KEYPOINTS, Y
from .tracks import edited

EASE_S = 0.12            # default ramp into and out of a pause


def _unit(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) \
            or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
    return float(value)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def silence_weights(pauses: list, n: int, fps: float, strength: float = 1.0, ease: float = EASE_S) -> np.ndarray:
    """(n,) closing weight 0..strength per frame for pauses [(start_s, end_s)] (see the module doc)."""
    strength = _unit(strength, "silence strength")
    if isinstance(ease, bool) or not isinstance(ease, numbers.Real) or not 0 <= ease <= 5:
        raise ValueError(f"ease must be a number of seconds in [0, 5], got {ease!r}")
    t = (np.arange(n) + 0.5) / fps
    w = np.zeros(n)
    for a, b in pauses:
        e = max(min(float(ease), (b - a) / 2), 1e-6)
        w = np.maximum(w, _smoothstep((t - a) / e) * _smoothstep((b - t) / e) * ((t > a) & (t < b)))
    return strength * w


def close_mouth(motion: MotionSequence, weights) -> MotionSequence:
    """Pull the lips' vertical offsets to their mean by weight w_i per frame; adds a "silence" track."""
    if not isinstance(motion, MotionSequence):
        raise ValueError(f"close_mouth needs a MotionSequence, got {type(motion).__name__}")
    n = len(motion)
    w = torch.as_tensor(np.asarray(weights, np.float64)).reshape(-1)
    if w.shape[0] != n or not torch.isfinite(w).all() or float(w.min()) < 0 or float(w.max()) > 1:
        raise ValueError(f"weights must be {n} numbers in [0, 1], got {tuple(w.shape)} values")
    values = motion.values.clone()
    exp = values[:, EXP].reshape(n, NUM_KP, 3)                                   # view into values
    lips = list(LIP_KEYPOINTS)
    y = exp[:, lips, Y]                                                          # N,6
    w = w.to(values.dtype)[:, None]
    exp[:, lips, Y] = y + w * (y.mean(dim=1, keepdim=True) - y)
    return edited(motion, values, {"silence": w[:, 0]})


def pauses_for_motion(pauses: list, audio_seconds: float, motion_seconds: float, min_pause: float) -> list:
    """The audio's pauses, with the time after the audio's end (when the motion is longer) as silence too."""
    out = [tuple(p) for p in pauses]
    if motion_seconds > audio_seconds:
        if out and abs(out[-1][1] - audio_seconds) < 1e-3:
            out[-1] = (out[-1][0], motion_seconds)
        elif motion_seconds - audio_seconds >= min_pause:
            out.append((audio_seconds, motion_seconds))
    return out


__all__ = ["silence_weights", "close_mouth", "pauses_for_motion", "EASE_S"]
