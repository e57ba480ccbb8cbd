"""Weight-free motion metrics on saved motion files (`*.motion.safetensors`) and their audio.

Reuses `playmate_core.eval.motion_metrics` (design `motion-model.md` §3) on the 70-d motion (N,70) of each
clip and its 16 kHz audio (S,):

    energy e_t   RMS dB per video frame (80 ms window centred on frame t)
    mouth  m_t   lip exp (N,18) projected on ONE mouth axis: the first PCA axis of the lip exp of all
                 given clips pooled, signed to correlate positively with the pooled energy. With no GT
                 motion the axis and its sign come from the evaluated motion itself, so `lip_r` is an
                 optimistic estimate: compare it with the same report on ground-truth motion.
    lip_r, lip_best_r, lip_lag   Pearson r(m_t, e_t) at lag 0, the best r over ±5 frames and its lag
                 (positive: the mouth moves after the audio)
    silence_ratio  mean opening in silence / in speech (silence: 40 dB under the peak for >= 5 frames);
                 closed_fraction: silent frames under the 10th percentile of all openings
    jerk_exp, hf_exp, jerk_pose   mean |third difference| and > 6 Hz energy share (exp; pose in degrees)
    seam_score   step size at window seams / elsewhere (generation windows 80, stride 70; ~1 is seamless)
    std_pitch/yaw/roll, delta_p   pose diversity (degrees, mean |frame-to-frame change|)

The report holds each clip's values and the mean over clips (NaN-aware).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from . import motion_metrics as mm
from .media import MOTION_SUFFIX, MediaError, natural_key

log = logging.getLogger("playmate")

WINDOW, STRIDE = 80, 70           # generation windows (motion/denoiser.py window, windows.py OVERLAP 10)
CLOSED_PERCENTILE = 10.0          # "closed mouth" level without GT: this percentile of all openings
EXP, POSE = slice(0, 63), slice(63, 66)


@dataclass(frozen=True)
class MotionClip:
    """values: (N,70) motion; fps: its frame rate; waveform: (S,) 16 kHz mono audio of the clip."""
    stem: str
    values: np.ndarray
    fps: float
    waveform: np.ndarray


def find_motion_files(root: str | Path) -> dict[str, Path]:
    """{stem: path} of the `<stem>.motion.safetensors` files in `root` (the --motion folder)."""
    root = Path(root)
    if not root.is_dir():
        raise MediaError(f"--motion '{root}' is not a folder; pass the folder of *{MOTION_SUFFIX} files written "
                         f"by the Save Motion node.")
    files = sorted((p for p in root.iterdir() if p.is_file() and p.name.endswith(MOTION_SUFFIX)),
                   key=lambda p: natural_key(p.name))
    if not files:
        raise MediaError(f"--motion '{root}' holds no *{MOTION_SUFFIX} files; save the motion of each clip with "
                         f"the Save Motion node, named like its video (clip01{MOTION_SUFFIX}).")
    return {p.name[: -len(MOTION_SUFFIX)]: p for p in files}


def load_motion_clips(root: str | Path, audio_for: Callable[[str], np.ndarray]) -> list[MotionClip]:
    """Read every motion file of `root`; `audio_for(stem)` gives its (S,) 16 kHz audio."""
    from ..pipeline.motion_file import load_motion_file

    clips = []
    for stem, path in find_motion_files(root).items():
        seq = load_motion_file(path)
        clips.append(MotionClip(stem, seq.values.numpy().astype(np.float64), float(seq.fps),
                                np.asarray(audio_for(stem), dtype=np.float64)))
    return clips


def _fit_axis(clips: list[MotionClip]) -> mm.MouthAxis:
    values = np.concatenate([c.values for c in clips])                               # ΣN,70
    energy = np.concatenate([mm.audio_energy_db(c.waveform, len(c.values), c.fps) for c in clips])
    return mm.fit_mouth_axis(values, energy)


def clip_metrics(clip: MotionClip, axis: mm.MouthAxis, closed_below: float, *,
                 window: int = WINDOW, stride: int = STRIDE) -> dict:
    """All metrics of one clip (see the module doc); NaN where a metric is undefined (e.g. no silence)."""
    v = clip.values                                                                   # N,70
    energy = mm.audio_energy_db(clip.waveform, len(v), clip.fps)                      # N
    mouth = axis(v)                                                                   # N
    lip = mm.lagged_correlation(mouth, energy)
    silence = mm.silence_closure(mouth, energy, closed_below)
    exp_j, pose_j = mm.jitter(v[:, EXP], clip.fps), mm.jitter(v[:, POSE], clip.fps)
    seams = mm.window_seams(len(v), window, stride)
    return {"frames": len(v), "lip_r": lip["r0"], "lip_best_r": lip["best_r"], "lip_lag": float(lip["best_lag"]),
            "silence_ratio": silence["ratio"], "closed_fraction": silence["closed_fraction"],
            "silent_frames": silence["silent_frames"], "jerk_exp": exp_j["jerk"], "hf_exp": exp_j["hf_ratio"],
            "jerk_pose": pose_j["jerk"], "seam_score": mm.seam_score(v[:, EXP], seams) if seams else float("nan"),
            **mm.pose_diversity(v)}


def _nanmean(values: list) -> float:
    arr = np.asarray(values, dtype=np.float64)
    return float(np.nanmean(arr)) if np.isfinite(arr).any() else float("nan")


def motion_report(clips: list[MotionClip], *, window: int = WINDOW, stride: int = STRIDE) -> dict:
    """{'per_clip': {stem: metrics}, 'mean': {metric: mean over clips}, 'settings': {...}, 'notes': [...]}."""
    if not clips:
        raise MediaError("no motion clips to evaluate; give --motion DIR with *.motion.safetensors files.")
    short = [c.stem for c in clips if len(c.values) < 4]
    if short:
        raise MediaError(f"motion clip(s) {short} have fewer than 4 frames; jerk and lip correlation need more.")
    notes = []
    for c in clips:
        audio_frames = len(c.waveform) * c.fps / 16000.0
        if abs(audio_frames - len(c.values)) > 2:
            notes.append(f"{c.stem}: motion has {len(c.values)} frames, its audio lasts {audio_frames:.1f} frames")
    axis = _fit_axis(clips)
    openings = np.concatenate([axis(c.values) for c in clips])
    closed_below = float(np.percentile(openings, CLOSED_PERCENTILE))
    per_clip = {c.stem: clip_metrics(c, axis, closed_below, window=window, stride=stride) for c in clips}
    keys = [k for k in next(iter(per_clip.values())) if k not in ("frames", "silent_frames")]
    mean = {k: _nanmean([m[k] for m in per_clip.values()]) for k in keys}
    log.info("motion metrics on %d clip(s): lip r %.3f, jerk(exp) %.3g", len(clips), mean["lip_r"], mean["jerk_exp"])
    return {"per_clip": per_clip, "mean": mean, "notes": notes,
            "settings": {"window": window, "stride": stride, "closed_percentile": CLOSED_PERCENTILE,
                         "mouth_axis": "first PCA axis of the pooled generated lip exp, signed by pooled energy"}}
