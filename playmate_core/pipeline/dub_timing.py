"""Video dubbing, time: which source-video frame every output frame shows (pure, exact rationals).

The output always has N = frame_count(audio samples, fps, sample rate) frames (THE frame count of
playmate_core.timebase): the audio decides the length, the video is fitted to it. Output frame j
(j = 0..N-1) covers [j / fps_out, (j + 1) / fps_out); it shows the source frame on screen at its centre:

    p_j = floor((j + 1/2) * fps_src / fps_out)         (p_j = j when the rates are equal)

and when the video (M frames) is shorter than p_j, the length policy decides:

    trim      min(p_j, M-1)  the video is cut at the audio's end; a video SHORTER than the audio (the last
                             output frame starts after the video's end) is an error: choose another policy
    loop      p_j mod M      0, 1, .., M-1, 0, 1, ..
    pingpong  p_j reflected with period 2(M - 1): 0, 1, .., M-1, M-2, .., 1, 0, 1, ..
    hold      min(p_j, M-1)  the last frame is held
    stretch   floor((j + 1/2) * M / N)   the whole video spread over the audio (faster or slower),
                             ignoring both frame rates

All arithmetic is on Fractions, so 29.97 (2997/100) and 30000/1001 fps never drift over long clips.
"""
from __future__ import annotations

import numbers
from fractions import Fraction

import numpy as np

from ..timebase import check_fps, fps_fraction, frame_count

DUB_POLICIES = ("trim", "loop", "pingpong", "hold", "stretch")


def _count(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def video_seconds(frames: int, fps) -> Fraction:
    """Duration of `frames` frames at `fps` (exact)."""
    return Fraction(_count(frames, "frames")) / fps_fraction(fps)


def output_frame_count(num_samples: int, sample_rate: int, fps) -> int:
    """N = ceil(num_samples / sample_rate * fps): the dub's length, set by the audio (timebase.frame_count)."""
    n = frame_count(_count(num_samples, "the audio's sample count"), fps, _count(sample_rate, "sample_rate"))
    return max(n, 1)


def source_frame_indices(m: int, src_fps, n: int, dst_fps, policy: str = "pingpong") -> np.ndarray:
    """(n,) int64: the source frame (0..m-1) shown by each of the n output frames (see the module docstring).

    m: frames in the source video at src_fps; n: output frames at dst_fps. Raises ValueError for an
    unknown policy, or for "trim" when the video is shorter than the output (naming both durations).
    """
    if policy not in DUB_POLICIES:
        raise ValueError(f"length policy must be one of {DUB_POLICIES}, got {policy!r}")
    m, n = _count(m, "the video's frame count"), _count(n, "the output frame count")
    src, dst = fps_fraction(src_fps), fps_fraction(dst_fps)
    j = np.arange(n, dtype=np.int64)
    if policy == "stretch":                                   # floor((2j + 1) m / 2n)
        return (2 * j + 1) * m // (2 * n)
    ratio = src / dst                                         # source frames per output frame
    num, den = ratio.numerator, ratio.denominator
    pos = ((2 * j + 1) * num) // (2 * den)                    # (n,) floor((j + 1/2) src / dst), exact
    if policy == "trim":                                      # the last frame may overhang the video's end
        if Fraction(n - 1) / dst >= Fraction(m) / src:        # ... but it must start before it
            raise ValueError(
                f"the video ({float(video_seconds(m, src)):.3f} s, {m} frames) is shorter than the audio "
                f"({float(Fraction(n) / dst):.3f} s at {float(dst):g} fps); length policy 'trim' only cuts a longer "
                f"video: choose loop, pingpong, hold or stretch")
        return np.minimum(pos, m - 1)
    if policy == "hold" or m == 1:
        return np.minimum(pos, m - 1)
    if policy == "loop":
        return pos % m
    period = 2 * (m - 1)                                      # pingpong
    pos = pos % period
    return np.where(pos > m - 1, period - pos, pos)


def resolve_output_fps(fps, source_fps) -> Fraction:
    """The output frame rate (exact): `fps` when given (> 0), else (None or 0) the source video's own rate.
    Either must lie in timebase's [MIN_FPS, MAX_FPS]."""
    if fps is None or (isinstance(fps, numbers.Real) and not isinstance(fps, bool) and fps == 0):
        rate = fps_fraction(source_fps)
        check_fps(float(rate), "the source video's frame rate (fps 0 = the source's)")
        return rate
    return fps_fraction(check_fps(fps, "the dub's output fps"))


__all__ = ["DUB_POLICIES", "source_frame_indices", "output_frame_count", "resolve_output_fps", "video_seconds"]
