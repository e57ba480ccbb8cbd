"""A plot of a motion sequence as an RGB image (OpenCV drawing only, no matplotlib).

    title:  frames, fps, duration, origin, "UNTRAINED model" when seq.trained is False
    upper:  pitch, yaw, roll (degrees) over time, with the editor's head-angle offsets (edit:head_*) thin
    middle: mouth opening m_t = max_k y_k - min_k y_k over the lip keypoints' expression offsets
    lower:  (only when the motion carries tracks, pipeline/tracks.py) the blink closure, the silence
            weight and the expression editor's control values over time
    x axis: seconds (frame i at i / fps)
"""
from __future__ import annotations

import math
import numbers

import cv2
import numpy as np
import torch

from ..motion.sequence import MotionSequence
from ..motion.layout import ANGLES, EXP, MOTION_DIM, NUM_KP
from .pose_edit import LIP_KEYPOINTS
from .tracks import EDIT_PREFIX, motion_tracks

BACKGROUND, AXIS, GRID, TEXT = (255, 255, 255), (60, 60, 60), (225, 225, 225), (20, 20, 20)
WARN = (200, 30, 30)
POSE_COLOURS = {"pitch": (214, 39, 40), "yaw": (31, 119, 180), "roll": (44, 160, 44)}   # RGB
MOUTH_COLOUR = (148, 103, 189)
TRACK_COLOURS = {"blink": (23, 190, 207), "silence": (127, 127, 127)}
EDIT_COLOURS = [(255, 127, 14), (227, 119, 194), (140, 86, 75), (188, 189, 34), (31, 119, 180), (214, 39, 40),
                (44, 160, 44), (148, 103, 189), (23, 190, 207), (127, 127, 127)]
POSE_EDITS = {EDIT_PREFIX + "head_" + k: k for k in ("pitch", "yaw", "roll")}
FONT = cv2.FONT_HERSHEY_SIMPLEX
MIN_SIZE = (320, 200)            # width, height


def mouth_opening(values: np.ndarray) -> np.ndarray:
    """(N,70) motion -> (N,) vertical spread of the lip keypoints' exp: max_k y_k - min_k y_k, k in LIP_KEYPOINTS."""
    lips_y = np.asarray(values, np.float64)[:, EXP].reshape(-1, NUM_KP, 3)[:, LIP_KEYPOINTS, 1]   # N,6
    return lips_y.max(axis=1) - lips_y.min(axis=1)


def nice_step(span: float, target: int = 5) -> float:
    """A 1/2/5 x 10^k step giving about `target` intervals over `span` (> 0)."""
    raw = span / max(1, target)
    base = 10 ** math.floor(math.log10(raw))
    return next(m * base for m in (1, 2, 5, 10) if m * base >= raw)


def _text(img, text, org, scale, colour=TEXT, thickness=1) -> None:
    cv2.putText(img, text, (int(org[0]), int(org[1])), FONT, scale, colour, thickness, cv2.LINE_AA)


def _label(value: float, step: float) -> str:
    decimals = max(0, -int(math.floor(math.log10(step)))) if step < 1 else 0
    return f"{value:.{decimals}f}"


def _y_range(series: list) -> tuple[float, float]:
    lo = min(float(np.min(y)) for y, _, _ in series)
    hi = max(float(np.max(y)) for y, _, _ in series)
    pad = max((hi - lo) * 0.08, 1e-3 * max(1.0, abs(hi)), 1e-6)
    return lo - pad, hi + pad


def _panel(img, box, t_end, series, ylabel, scale, thin: int = 0) -> None:
    """Axes in box (x0, y0, x1, y1) with y grid and labels, x ticks in seconds, one polyline per series."""
    x0, y0, x1, y1 = box
    lo, hi = _y_range(series)
    step = nice_step(hi - lo, 4)
    for v in np.arange(math.ceil(lo / step) * step, hi, step):
        y = y1 - (v - lo) / (hi - lo) * (y1 - y0)
        cv2.line(img, (x0, int(y)), (x1, int(y)), GRID, 1)
        _text(img, _label(v, step), (4, y + 4), scale * 0.8)
    xstep = nice_step(t_end, 6)
    for s in np.arange(0, t_end + 1e-9, xstep):
        x = x0 + s / t_end * (x1 - x0)
        cv2.line(img, (int(x), y1), (int(x), y1 + 4), AXIS, 1)
        _text(img, f"{_label(s, xstep)}s", (x - 10, y1 + 16 * scale / 0.45), scale * 0.8)
    cv2.rectangle(img, (x0, y0), (x1, y1), AXIS, 1)
    for j, (y, colour, _) in enumerate(series):
        width = 1 if j >= len(series) - thin else 2
        n = len(y)
        xs = x0 + (np.arange(n) / max(n - 1, 1)) * (x1 - x0) if n > 1 else np.array([(x0 + x1) / 2])
        ys = y1 - (np.asarray(y, np.float64) - lo) / (hi - lo) * (y1 - y0)
        pts = np.stack([xs, ys], axis=1).round().astype(np.int32)                 # N,2
        if n > 1:
            cv2.polylines(img, [pts], False, colour, width, cv2.LINE_AA)
        else:
            cv2.circle(img, tuple(int(v) for v in pts[0]), 3, colour, -1)
    (w, h), _ = cv2.getTextSize(ylabel, FONT, scale, 1)
    cv2.rectangle(img, (x0 + 1, y0 + 1), (x0 + 10 + w, y0 + 8 + h), BACKGROUND, -1)   # label above the curves
    _text(img, ylabel, (x0 + 6, y0 + 4 + h), scale)


def _legend(img, series, right: int, top: int, scale) -> None:
    x = right
    for _, colour, name in reversed(series):
        (w, _), _ = cv2.getTextSize(name, FONT, scale, 1)
        x -= w + 34
        cv2.line(img, (x, top - 4), (x + 20, top - 4), colour, 3)
        _text(img, name, (x + 24, top), scale)


def draw_motion_preview(seq: MotionSequence, width: int = 960, height: int = 540) -> np.ndarray:
    """-> (height, width, 3) uint8 RGB plot of `seq` (see module docstring)."""
    if not isinstance(seq, MotionSequence):
        raise ValueError(f"draw_motion_preview needs a MotionSequence, got {type(seq).__name__}")
    for name, v, low in (("width", width, MIN_SIZE[0]), ("height", height, MIN_SIZE[1])):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < low or v > 8192:
            raise ValueError(f"{name} must be an integer in {low}..8192 pixels, got {v!r}")
    values = np.asarray(seq.values.detach().cpu().float() if hasattr(seq.values, "detach") else seq.values,
                        np.float64)
    if values.ndim != 2 or values.shape[1] != MOTION_DIM or len(values) < 1 or not np.isfinite(values).all():
        raise ValueError(f"the motion's values must be finite (frames >= 1, {MOTION_DIM}), got {values.shape}")
    img = np.full((height, width, 3), BACKGROUND, np.uint8)
    scale = max(0.35, min(width, 2 * height) / 2000)
    line = int(28 * scale / 0.45)
    n, fps = len(values), float(seq.fps)
    title = f"{n} frames @ {fps:g} fps ({n / fps:.2f} s)   origin: {seq.origin}"
    _text(img, title, (10, line * 0.8), scale * 1.1, TEXT, 1)
    if not seq.trained:
        (w, _), _ = cv2.getTextSize(title, FONT, scale * 1.1, 1)
        _text(img, "UNTRAINED model", (24 + w, line * 0.8), scale * 1.1, WARN, 2)
    left, right, gap = max(int(width * 0.08), int(64 * scale / 0.45)), width - 12, int(line * 1.4)
    tracks = motion_tracks(seq)
    pose_edits, others = _split_tracks(tracks)
    shares = (0.42, 0.26, 0.32) if others else (0.55, 0.45)
    tops = [line + 8 + int((height - line - 8) * sum(shares[:k])) for k in range(len(shares) + 1)]
    boxes = [(left, top, right, bottom - gap) for top, bottom in zip(tops, tops[1:])]      # gap: the x labels
    t_end = max(n - 1, 1) / fps
    angles = values[:, ANGLES]
    pose = [(angles[:, i], POSE_COLOURS[k], k) for i, k in enumerate(("pitch", "yaw", "roll"))]
    edits = [(v, POSE_COLOURS[k], f"{k} edit") for v, k in pose_edits]
    _panel(img, boxes[0], t_end, pose + edits, "head pose (deg)", scale, thin=len(edits))
    _legend(img, pose + edits, right - 6, boxes[0][1] + int(18 * scale / 0.45), scale)
    mouth = [(mouth_opening(values), MOUTH_COLOUR, "mouth")]
    _panel(img, boxes[1], t_end, mouth, "mouth opening (lip exp spread)", scale)
    if others:
        _panel(img, boxes[2], t_end, others, "tracks: blink, silence, edits", scale)
        _legend(img, others, right - 6, boxes[2][1] + int(18 * scale / 0.45), scale)
    return img


def _split_tracks(tracks: dict) -> tuple[list, list]:
    """-> ([(values, pose key)] for head-angle edits, [(values, colour, label)] for every other track)."""
    pose, others, k = [], [], 0
    for name, curve in tracks.items():
        y = np.asarray(torch.as_tensor(curve).detach().cpu().double().reshape(-1))
        if not np.isfinite(y).all():
            continue
        if name in POSE_EDITS:
            pose.append((y, POSE_EDITS[name]))
            continue
        colour = TRACK_COLOURS.get(name)
        if colour is None:
            colour, k = EDIT_COLOURS[k % len(EDIT_COLOURS)], k + 1
        others.append((y, colour, name[len(EDIT_PREFIX):] if name.startswith(EDIT_PREFIX) else name))
    return pose, others


__all__ = ["draw_motion_preview", "mouth_opening"]
