"""The time base every part shares: fps as an exact rational and THE frame count N = ceil(duration * fps).

Audio features, generated motion, rendered frames, the mp4 and the nodes all use `frame_count`, so a
clip of S samples at any fps gives the same N everywhere (12.5, 25, 29.97 = 30000/1001 fps alike).
It sits at the bottom of the core (it imports nothing of it) so that audio/ can use it without
importing motion/; `playmate_core.motion.sequence` re-exports it beside MotionSequence.
"""
from __future__ import annotations

import math
import numbers
from fractions import Fraction

MAX_FPS_DENOMINATOR = 1001          # 29.97 -> 2997/100, 30000/1001 stays exact
FLOAT_SECONDS_GRID = 1_000_000      # float durations are taken to the nearest microsecond
MIN_FPS, MAX_FPS = 1.0, 120.0       # the video frame rates Playmate makes and reads (widgets, files, mp4)


def fps_fraction(fps: float | int | Fraction) -> Fraction:
    """fps as an exact rational: 25 -> 25, 12.5 -> 25/2, 29.97 -> 2997/100, 30000/1001 stays 30000/1001."""
    if isinstance(fps, bool) or not isinstance(fps, numbers.Real) or not math.isfinite(float(fps)) or fps <= 0:
        raise ValueError(f"fps must be a positive number (e.g. 25), got {fps!r}")
    if isinstance(fps, (Fraction, int)):
        return Fraction(fps)
    return Fraction(float(fps)).limit_denominator(MAX_FPS_DENOMINATOR)


def check_fps(fps, what: str = "fps") -> float:
    """A video frame rate in [MIN_FPS, MAX_FPS], else ValueError naming the range. Returns it as given."""
    ok = isinstance(fps, numbers.Real) and not isinstance(fps, bool) and math.isfinite(float(fps))
    if not ok or not MIN_FPS <= float(fps) <= MAX_FPS:
        raise ValueError(f"{what} is {fps!r}; Playmate makes and reads video at {MIN_FPS:g} to {MAX_FPS:g} fps. "
                         f"Use a frame rate in that range (25 is typical).")
    return fps


def _exact(amount: int | float | Fraction) -> Fraction:
    if isinstance(amount, (int, Fraction)) and not isinstance(amount, bool):
        return Fraction(amount)
    if isinstance(amount, numbers.Real) and math.isfinite(float(amount)):
        return Fraction(round(float(amount) * FLOAT_SECONDS_GRID), FLOAT_SECONDS_GRID)
    raise ValueError(f"a duration must be a finite number, got {amount!r}")


def frame_count(amount: int | float | Fraction, fps: float | Fraction, rate: int | float | Fraction = 1) -> int:
    """N = ceil(amount / rate * fps): the number of video frames covering `amount` units at `rate` units/s.

    frame_count(num_samples, fps, 16000) for audio samples, frame_count(n, out_fps, model_fps) for n frames
    at another rate, frame_count(seconds, fps) for a duration. Integers and Fractions are exact (1 s at
    25 fps is 25 frames, not 26); float amounts are taken to the nearest microsecond first.
    """
    f = fps_fraction(fps) / fps_fraction(rate) * _exact(amount)
    return max(0, -(-f.numerator // f.denominator))
