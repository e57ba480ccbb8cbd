"""Eye blinks added to any motion, in LivePortrait's expression keypoints only (eyelids; never lips).

Schedule (deterministic per seed): at `rate` blinks a minute the clip is cut into slots of P = 60 / rate
seconds starting at a random phase; one blink falls in each slot at a random place (slot fraction
0.1..0.9), so intervals vary from about 0.2 P to 1.8 P (people's blink intervals are irregular too)
while the count over a clip stays within one of duration x rate / 60. A blink starts at least MIN_GAP_S
after the previous one ends (it is pushed later otherwise).

One blink: total duration D, log-normal around 0.22 s, clipped to 0.1..0.4 s; the lids close during the
first 30-42 % of it (closing is faster than opening) and open during the rest; the moment of full
closure falls on a frame, so every blink is seen closed at any fps. Closure c(t) in 0..1 is a smoothstep
up to the peak and back down.

Applied per frame i (t = i / fps), with keypoint_map's eye-closing offsets (both eyes):
    exp[upper lids 11, 15].y += c LID_TRAVEL        exp[lower lids 13, 16].y -= c LOWER_LID_SHARE LID_TRAVEL
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np
import torch

from ..motion.layout import EXP, NUM_KP
from ..motion.sequence import MotionSequence
from .keypoint_map import control_offsets
from .tracks import edited

MAX_RATE = 60.0                       # blinks a minute
DURATION_S = (0.10, 0.40)             # bounds of one blink's total duration
DURATION_MEDIAN_S, DURATION_SIGMA = 0.22, 0.3
CLOSING_SHARE = (0.30, 0.42)          # share of the blink spent closing
SLOT_SPAN = (0.1, 0.9)                # where in its slot a blink may fall
MIN_GAP_S = 0.5                       # open time between two blinks, at least


@dataclass(frozen=True)
class Blink:
    """One blink, in seconds: lids start closing at `start`, are fully closed at `peak`, open at `end`."""
    start: float
    peak: float
    end: float


def _rate(rate) -> float:
    if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not math.isfinite(rate) \
            or not 0 <= rate <= MAX_RATE:
        raise ValueError(f"blink rate must be a number of blinks per minute in [0, {MAX_RATE:g}] (0 = no blinks, "
                         f"people blink about 10-20 times a minute), got {rate!r}")
    return float(rate)


def blink_schedule(duration: float, rate: float, seed: int, fps: float) -> list[Blink]:
    """Blinks for a clip of `duration` seconds at `rate` per minute (see the module doc); [] for rate 0."""
    rate = _rate(rate)
    if rate == 0 or duration <= 0:
        return []
    rng = np.random.default_rng(int(seed))
    period = 60.0 / rate
    slot = -rng.uniform(0, period)                                   # random phase
    blinks: list[Blink] = []
    while slot < duration:
        length = float(np.clip(DURATION_MEDIAN_S * math.exp(DURATION_SIGMA * rng.standard_normal()), *DURATION_S))
        closing = length * rng.uniform(*CLOSING_SHARE)
        peak = slot + rng.uniform(*SLOT_SPAN) * period
        if blinks:
            peak = max(peak, blinks[-1].end + MIN_GAP_S + closing)
        peak = round(peak * fps) / fps                              # full closure on a frame
        if 0 <= peak < duration:
            blinks.append(Blink(peak - closing, peak, peak + length - closing))
        slot += period
    return blinks


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def blink_curve(blinks: list[Blink], n: int, fps: float) -> np.ndarray:
    """(n,) eyelid closure 0..1 at frame times i / fps (the largest of overlapping blinks)."""
    t = np.arange(n) / fps
    c = np.zeros(n)
    for b in blinks:
        up = _smoothstep((t - b.start) / max(b.peak - b.start, 1e-9))
        down = 1 - _smoothstep((t - b.peak) / max(b.end - b.peak, 1e-9))
        c = np.maximum(c, np.where(t <= b.peak, up, down))                  # 0 outside (start, end)
    return c


def add_blinks(motion: MotionSequence, rate: float, seed: int = 0) -> MotionSequence:
    """`motion` with blinks at `rate` per minute (seeded) on its eyelid keypoints and a "blink" track."""
    if not isinstance(motion, MotionSequence):
        raise ValueError(f"add_blinks needs a MotionSequence, got {type(motion).__name__}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    n, fps = len(motion), float(motion.fps)
    closure = blink_curve(blink_schedule(n / fps, rate, seed, fps), n, fps)          # N
    _, closing = control_offsets("eye_openness")                                     # 21,3 per unit of closure
    values = motion.values.clone()
    c = torch.from_numpy(closure).to(values.dtype)
    values[:, EXP] += (c[:, None, None] * closing.to(values)).reshape(n, NUM_KP * 3)
    return edited(motion, values, {"blink": c})


__all__ = ["Blink", "blink_schedule", "blink_curve", "add_blinks", "MAX_RATE", "MIN_GAP_S"]
