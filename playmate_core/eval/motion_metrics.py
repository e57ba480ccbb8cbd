"""Weight-free motion metrics (design `motion-model.md` §3): lip sync, silence, smoothness, seams,
pose diversity and emotion, computed from 70-d motion arrays and the audio only (numpy, CPU).

Shared by the trainer (validation), the benchmarks and the nodes. Motion layout: exp 0:63 (21x3),
pitch/yaw/roll 63:66 degrees, t 66:69, scale 69 (`playmate_core.motion.layout`). Run a metric on
generated motion, on ground truth ("ceiling") and on ground truth with another clip's audio ("floor").
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LIP_KEYPOINTS = (6, 12, 14, 17, 19, 20)      # LivePortrait keypoints that move with the lips
POSE = slice(63, 66)                         # pitch, yaw, roll (degrees)
ENERGY_WINDOW = 1280                         # samples (80 ms at 16 kHz) per energy frame
SILENCE_DB = 40.0                            # silence: this far below the utterance's peak energy
HF_CUTOFF_HZ = 6.0                           # jitter: energy above this is "high frequency"


def _exp(values: np.ndarray) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    return v.reshape(len(v), -1)[:, :63] if v.ndim == 3 or v.shape[-1] >= 63 else v


def lip_features(values: np.ndarray) -> np.ndarray:
    """(N,70) motion or (N,63)/(N,21,3) exp -> (N,18): the exp of the lip keypoints."""
    exp = _exp(values).reshape(-1, 21, 3)
    return exp[:, LIP_KEYPOINTS].reshape(len(exp), -1)


def audio_energy_db(waveform: np.ndarray, n_frames: int, fps: float = 25.0, sample_rate: int = 16000,
                    window: int = ENERGY_WINDOW) -> np.ndarray:
    """RMS energy in dB per video frame: a `window`-sample window centred on frame i's centre (i + 0.5)/fps.
    (S,) mono -> (n_frames,)."""
    x = np.asarray(waveform, dtype=np.float64).reshape(-1)
    centres = ((np.arange(n_frames) + 0.5) * sample_rate / fps).astype(np.int64)
    padded = np.pad(x, (window // 2, window // 2))
    frames = np.stack([padded[c: c + window] for c in centres])                      # N, window
    return 10 * np.log10(np.mean(frames ** 2, axis=1) + 1e-10)


@dataclass(frozen=True)
class MouthAxis:
    """Mouth opening m_t = (lip_t - mean) . axis: the first PCA axis of the lip exp, oriented so
    that it correlates positively with audio energy on the data it was fitted on."""
    mean: np.ndarray
    axis: np.ndarray

    def __call__(self, values: np.ndarray) -> np.ndarray:
        return (lip_features(values) - self.mean) @ self.axis                       # N


def fit_mouth_axis(values: np.ndarray, energy_db: np.ndarray | None = None) -> MouthAxis:
    """PCA of the lip exp over frames (N >= 2); with energy, flip the axis to correlate positively."""
    lips = lip_features(values)
    mean = lips.mean(axis=0)
    _, _, vt = np.linalg.svd(lips - mean, full_matrices=False)
    axis = vt[0]
    if energy_db is not None and np.corrcoef((lips - mean) @ axis, energy_db)[0, 1] < 0:
        axis = -axis
    return MouthAxis(mean, axis)


def lagged_correlation(mouth: np.ndarray, energy: np.ndarray, max_lag: int = 5) -> dict:
    """Pearson r of mouth m_t with energy e_{t-lag} for lag in [-max_lag, max_lag].

    Returns r at lag 0, the best r and its lag. A positive best lag means the mouth moves `lag`
    frames AFTER the audio (a lip-sync offset of lag / fps seconds).
    """
    m, e = np.asarray(mouth, np.float64), np.asarray(energy, np.float64)
    rs = {}
    for lag in range(-max_lag, max_lag + 1):
        a, b = (m[lag:], e[:len(e) - lag]) if lag >= 0 else (m[:lag], e[-lag:])
        rs[lag] = float(np.corrcoef(a, b)[0, 1]) if len(a) > 2 and a.std() > 0 and b.std() > 0 else 0.0
    best = max(rs, key=lambda k: rs[k])
    return {"r0": rs[0], "best_r": rs[best], "best_lag": best}


def silence_mask(energy_db: np.ndarray, below_peak_db: float = SILENCE_DB, min_frames: int = 5) -> np.ndarray:
    """Frames at least `below_peak_db` under the utterance's peak, in runs of >= min_frames (200 ms at 25 fps)."""
    quiet = np.asarray(energy_db) < np.max(energy_db) - below_peak_db
    mask = np.zeros_like(quiet)
    start = None
    for i, q in enumerate(np.append(quiet, False)):
        if q and start is None:
            start = i
        elif not q and start is not None:
            if i - start >= min_frames:
                mask[start:i] = True
            start = None
    return mask


def silence_closure(mouth: np.ndarray, energy_db: np.ndarray, closed_below: float,
                    below_peak_db: float = SILENCE_DB, min_frames: int = 5) -> dict:
    """Mouth closure in silence: mean opening in silence / in speech (relative to the minimum opening),
    and the fraction of silent frames whose opening is below `closed_below` (a GT closed-mouth level)."""
    m = np.asarray(mouth, np.float64)
    silent = silence_mask(energy_db, below_peak_db, min_frames)
    if not silent.any() or silent.all():
        return {"ratio": float("nan"), "closed_fraction": float("nan"), "silent_frames": int(silent.sum())}
    base = m.min()
    ratio = (m[silent] - base).mean() / max((m[~silent] - base).mean(), 1e-12)
    return {"ratio": float(ratio), "closed_fraction": float(np.mean(m[silent] < closed_below)),
            "silent_frames": int(silent.sum())}


def jitter(x: np.ndarray, fps: float = 25.0, cutoff_hz: float = HF_CUTOFF_HZ) -> dict:
    """Smoothness of (N,D) trajectories: mean |third difference| (jerk, units per frame^3), mean
    |second difference| and the fraction of (mean-removed) spectral energy above `cutoff_hz`."""
    x = np.asarray(x, np.float64).reshape(len(x), -1)
    spec = np.abs(np.fft.rfft(x - x.mean(axis=0), axis=0)) ** 2                      # F, D
    freqs = np.fft.rfftfreq(len(x), d=1.0 / fps)
    total = spec.sum()
    return {"jerk": float(np.abs(np.diff(x, n=3, axis=0)).mean()),
            "acceleration": float(np.abs(np.diff(x, n=2, axis=0)).mean()),
            "hf_ratio": float(spec[freqs > cutoff_hz].sum() / total) if total > 0 else 0.0}


def window_seams(n_frames: int, window: int = 80, stride: int = 70) -> list:
    """Both ends of every blended overlap, as generation places the windows: for window k >= 1 starting
    at s_k, frames s_k (blend starts) and s_k + overlap (the previous window's frames end)."""
    from ..motion.playmate.windows import window_starts
    overlap = window - stride
    return sorted({f for s in window_starts(n_frames, window, stride)[1:] for f in (s, s + overlap) if f < n_frames})


def seam_score(x: np.ndarray, seams: list) -> float:
    """mean |x_t - x_{t-1}| at the seam frames / median |x_t - x_{t-1}| elsewhere (~1: no visible seam)."""
    x = np.asarray(x, np.float64).reshape(len(x), -1)
    step = np.abs(np.diff(x, axis=0)).mean(axis=1)                                  # N-1: step into frame t+1
    at = np.array([s - 1 for s in seams if 1 <= s < len(x)], dtype=np.int64)
    if len(at) == 0:
        return float("nan")
    rest = np.delete(step, at)
    return float(step[at].mean() / max(np.median(rest), 1e-12))


def pose_diversity(values: np.ndarray) -> dict:
    """Per-clip std of pitch, yaw, roll (degrees) and delta_p = mean |frame-to-frame angle change|."""
    pose = np.asarray(values, np.float64)[:, POSE]
    std = pose.std(axis=0)
    return {"std_pitch": float(std[0]), "std_yaw": float(std[1]), "std_roll": float(std[2]),
            "delta_p": float(np.abs(np.diff(pose, axis=0)).mean()) if len(pose) > 1 else 0.0}


class NearestCentroid:
    """Emotion from motion: class centroids of per-clip features (e.g. identity-centred mean exp)."""

    def __init__(self, features: np.ndarray, labels: list):
        f = np.asarray(features, np.float64)
        self.classes = sorted(set(labels))
        lab = np.asarray(labels)
        self.centroids = np.stack([f[lab == c].mean(axis=0) for c in self.classes])  # C, F

    def predict(self, features: np.ndarray) -> list:
        d = ((np.asarray(features, np.float64)[:, None] - self.centroids[None]) ** 2).sum(-1)   # M, C
        return [self.classes[i] for i in d.argmin(axis=1)]

    def accuracy(self, features: np.ndarray, labels: list) -> dict:
        pred = self.predict(features)
        confusion = {(t, p): 0 for t in self.classes for p in self.classes}
        for t, p in zip(labels, pred):
            confusion[(t, p)] = confusion.get((t, p), 0) + 1
        return {"accuracy": float(np.mean([t == p for t, p in zip(labels, pred)])), "confusion": confusion}


def expression_centre(motions) -> np.ndarray:
    """(63,) mean expression over every frame of one identity's clips (each (N_i,70) motion or (N_i,63) exp):
    the reference an emotion feature is measured from (the person's average face, so that who the
    person is cancels out and what remains is how the expression departs from it)."""
    return np.concatenate([_exp(m) for m in motions]).mean(axis=0)


def emotion_feature(values: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """(N,70) motion of one clip -> (63,) its mean expression minus `centre` (the identity's
    expression_centre, or a known neutral face): the per-clip feature NearestCentroid classifies."""
    return _exp(values).mean(axis=0) - np.asarray(centre, np.float64).reshape(-1)
