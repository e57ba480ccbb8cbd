"""Prepared motion dataset: manifest, normalisation statistics, random 90-frame training windows.

Folder layout (written by trainer/prepare_data.py):
    <root>/manifest.jsonl               one JSON object per clip: clip_id, frames, fps, identity,
                                        emotion, intensity, motion, audio (paths relative to root)
    <root>/motion/<clip>.safetensors    "motion" (N,70) float32 raw layout order, "kp" (21,3) float32
    <root>/audio/<clip>.safetensors     "features" (N,L,D) float16 audio-encoder hidden states

One item = one clip -> one random window of P + T = 90 consecutive frames (10 prev + 80 current),
drawn from a generator seeded by (seed, epoch, clip index), so items are reproducible on any rank,
in any worker and after a resume. Clips shorter than `min_frames` are skipped (never looped).
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from playmate_core.motion.playmate.denoiser import context_indices
from playmate_core.motion.playmate.emotion import EMOTION_LABELS, INTENSITY_LEVELS
from playmate_core.motion.layout import EXP, MOTION_DIM, POSE, MotionStats, clip_pose_stats, normalise, source_condition

log = logging.getLogger("playmate.trainer")

PREV, WINDOW, AUDIO_CONTEXT = 10, 80, 2


class DatasetError(ValueError):
    """A prepared dataset is missing, empty or inconsistent; the message names the file."""


@dataclass
class Clip:
    clip_id: str
    frames: int
    motion: torch.Tensor       # N,70 float32 raw
    kp: torch.Tensor           # 21,3
    audio_path: Path
    emotion: int               # index into EMOTION_LABELS, len(EMOTION_LABELS) = null
    intensity: int             # 0..2, 3 = unknown
    audio_shape: tuple = ()    # (L, D) of the audio features
    identity: str = ""         # the person (validation holds out whole identities)


def _read_tensors(path: Path, names: tuple) -> dict:
    from safetensors import safe_open
    if not path.is_file():
        raise DatasetError(f"'{path}' listed in the manifest does not exist; re-run trainer/prepare_data.py "
                           f"or remove the clip from manifest.jsonl")
    with safe_open(str(path), framework="pt") as f:
        missing = [n for n in names if n not in f.keys()]
        if missing:
            raise DatasetError(f"'{path}' has no tensor(s) {missing}; re-run trainer/prepare_data.py")
        return {n: f.get_tensor(n) for n in names}


def audio_header(path: Path) -> tuple:
    """(N, L, D) of an audio feature file, from its header (no data read)."""
    from safetensors import safe_open
    if not path.is_file():
        raise DatasetError(f"'{path}' listed in the manifest does not exist; re-run trainer/prepare_data.py "
                           f"or remove the clip from manifest.jsonl")
    with safe_open(str(path), framework="pt") as f:
        if "features" not in f.keys():
            raise DatasetError(f"'{path}' has no 'features' tensor; re-run trainer/prepare_data.py")
        shape = tuple(f.get_slice("features").get_shape())
    if len(shape) != 3:
        raise DatasetError(f"'{path}': features must be (N, L, D), got {shape}; re-run trainer/prepare_data.py")
    return shape


def read_manifest(root: str | Path) -> list:
    """-> list of manifest dicts; errors name the folder or file and the fix."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"dataset folder '{root}' does not exist; pass the output folder of "
                           f"trainer/prepare_data.py to --data")
    path = root / "manifest.jsonl"
    if not path.is_file():
        raise DatasetError(f"'{path}' does not exist; '{root}' is not a prepared dataset (run trainer/prepare_data.py)")
    rows = []
    for i, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise DatasetError(f"'{path}' line {i} is not valid JSON ({exc})") from exc
    if not rows:
        raise DatasetError(f"'{path}' lists no clips; prepare some videos first")
    return rows


def _labels(row: dict, where: str) -> tuple:
    emo, inten = row.get("emotion"), row.get("intensity")
    if emo is not None and str(emo).lower() not in EMOTION_LABELS:
        raise DatasetError(f"{where}: unknown emotion {emo!r}; use one of {EMOTION_LABELS} or null")
    if inten is not None and inten not in INTENSITY_LEVELS:
        raise DatasetError(f"{where}: intensity must be 1, 2, 3 or null, got {inten!r}")
    e = len(EMOTION_LABELS) if emo is None else EMOTION_LABELS.index(str(emo).lower())
    return e, len(INTENSITY_LEVELS) if inten is None else INTENSITY_LEVELS.index(inten)


def load_clips(root: str | Path, min_frames: int = PREV + WINDOW) -> list:
    """Read the manifest and every motion file (audio stays on disk); skip short clips (logged)."""
    root = Path(root)
    clips, short = [], 0
    for row in read_manifest(root):
        where = f"'{root / 'manifest.jsonl'}' clip {row.get('clip_id')!r}"
        missing = [k for k in ("clip_id", "frames", "motion", "audio") if k not in row]
        if missing:
            raise DatasetError(f"{where} has no {missing}; re-run trainer/prepare_data.py")
        if int(row["frames"]) < min_frames:
            short += 1
            continue
        data = _read_tensors(root / row["motion"], ("motion", "kp"))
        motion = data["motion"].float()
        if motion.ndim != 2 or motion.shape[1] != MOTION_DIM or motion.shape[0] != int(row["frames"]):
            raise DatasetError(f"'{root / row['motion']}': motion has shape {tuple(motion.shape)}, the manifest "
                               f"says ({row['frames']}, {MOTION_DIM}); re-run trainer/prepare_data.py")
        audio_path = root / row["audio"]
        shape = audio_header(audio_path)
        if shape[0] != motion.shape[0]:
            raise DatasetError(f"'{audio_path}': {shape[0]} audio frames, the motion file has {motion.shape[0]}; "
                               f"re-run trainer/prepare_data.py for clip {row['clip_id']!r}")
        if clips and shape[1:] != clips[0].audio_shape:
            raise DatasetError(f"'{audio_path}': features (layers, dim) {shape[1:]} differ from "
                               f"{clips[0].audio_shape} of '{clips[0].audio_path}'; prepare all clips with one encoder")
        clips.append(Clip(str(row["clip_id"]), motion.shape[0], motion, data["kp"].float().reshape(21, 3),
                          audio_path, *_labels(row, where), audio_shape=shape[1:],
                          identity=str(row.get("identity") or row["clip_id"])))
    if short:
        log.info("skipped %d clip(s) shorter than %d frames (clips are never looped)", short, min_frames)
    if not clips:
        raise DatasetError(f"no clip in '{root}' has >= {min_frames} frames; a training window needs "
                           f"{PREV + WINDOW} consecutive frames")
    return clips


def split_identities(clips: list, fraction: float = 0.0, names: str = "") -> tuple[list, list]:
    """-> (train clips, held-out clips). Held out: the identities in `names` (comma-separated), else
    ceil(fraction x identities) of them chosen by the sha1 of their names (stable when clips are added)."""
    import hashlib
    import math
    identities = sorted({c.identity for c in clips})
    held = {n.strip() for n in names.split(",") if n.strip()}
    unknown = sorted(held - set(identities))
    if unknown:
        raise DatasetError(f"val.identities names {unknown}, which no clip has; identities: {identities[:20]}")
    if not held and fraction > 0:
        if len(identities) < 2:
            raise DatasetError(f"val.fraction {fraction} needs at least 2 identities to hold one out; the dataset "
                               f"has {len(identities)} (set val.fraction=0 or label identities)")
        by_hash = sorted(identities, key=lambda n: hashlib.sha1(n.encode()).hexdigest())
        held = set(by_hash[:min(len(identities) - 1, math.ceil(fraction * len(identities)))])
    train = [c for c in clips if c.identity not in held]
    if not train:
        raise DatasetError("every identity is held out for validation; hold out fewer (val.identities)")
    return train, [c for c in clips if c.identity in held]


def compute_stats(clips: list, max_percentile_frames: int = 1_000_000) -> MotionStats:
    """Adaptive-normalisation statistics (paper eq. 5-6, motion-model.md §2.9), accumulated in float64
    clip by clip (memory does not grow with the dataset).

    exp: global per-dim mean / std over all frames (std floored at 1e-4).
    pose: per-clip std over the whole clip -> median (inference sigma), 10th percentile (sigma floor),
    90th percentile (floors at 1e-6); per-clip means -> their mean (fallback mu) and std.
    raw_p001 / raw_p999: per-dim 0.1 / 99.9 percentiles over (at most `max_percentile_frames`
    evenly strided) frames.
    """
    total = sum(c.frames for c in clips)
    stride = max(1, -(-total // max_percentile_frames))
    s1 = torch.zeros(63, dtype=torch.float64)
    s2 = torch.zeros(63, dtype=torch.float64)
    pose_std, pose_mean, sample = [], [], []
    for c in clips:
        m = c.motion.double()                                                  # N,70
        s1 += m[:, EXP].sum(0)
        s2 += (m[:, EXP] ** 2).sum(0)
        pose_std.append(m[:, POSE].std(0, unbiased=False))
        pose_mean.append(m[:, POSE].mean(0))
        sample.append(c.motion[::stride])
    exp_mean = s1 / total
    exp_std = (s2 / total - exp_mean ** 2).clamp(min=0).sqrt().clamp(min=1e-4)
    pose_std, pose_mean = torch.stack(pose_std), torch.stack(pose_mean)       # C,7
    q = lambda x, p: torch.quantile(x, p, dim=0).clamp(min=1e-6)              # noqa: E731
    raw = torch.cat(sample).numpy()                                           # <= max frames, 70
    return MotionStats(exp_mean=exp_mean, exp_std=exp_std, pose_std_median=q(pose_std, 0.5),
                       pose_std_floor=q(pose_std, 0.1), pose_std_p90=q(pose_std, 0.9),
                       pose_mean_global=pose_mean.mean(0), pose_mean_std=pose_mean.std(0, unbiased=False),
                       raw_p001=np.percentile(raw, 0.1, axis=0), raw_p999=np.percentile(raw, 99.9, axis=0))


class MotionWindows(Dataset):
    """dataset[(index, seed)] -> one training window dict (see `__getitem__`)."""

    def __init__(self, clips: list, stats: MotionStats):
        self.clips = clips
        self.use_stats(stats)
        self.val_clips: list = []          # held-out clips (split_identities), evaluated by trainer/validation.py
        self.provenance: dict = {}         # trainer/provenance.py dataset_provenance
        self.manifest_meta: dict = {}

    def use_stats(self, stats: MotionStats) -> None:
        self.stats = stats
        self.pose_stats = [clip_pose_stats(c.motion[:, POSE], stats) for c in self.clips]   # (mu (7,), sigma (7,))

    def __len__(self) -> int:
        return len(self.clips)

    def _audio(self, clip: Clip, start: int, stop: int) -> torch.Tensor:
        """Frames [start, stop) with +-2 context, clamped as the model's Proj_a -> (stop-start+4, L, D) float32."""
        from safetensors import safe_open
        idx = context_indices(start, stop, clip.frames, AUDIO_CONTEXT)
        lo, hi = int(idx.min()), int(idx.max()) + 1
        with safe_open(str(clip.audio_path), framework="pt") as f:
            sl = f.get_slice("features")
            block = sl[lo:hi]
        return block[idx - lo].float()

    def __getitem__(self, key) -> dict:
        """key = (clip index, seed). Returns
            x0 (80,70) z current frames; prev (10,70) z GT prev frames; ref (70,) z reference frame
            (exp normalised, pose by the clip's mu/sigma); f_id (126,); audio (94,L,D) for the 90
            tokens +-2 frames; emotion, intensity (int indices); clip_id (str); start (int).
        """
        index, seed = key
        clip = self.clips[index]
        g = torch.Generator().manual_seed(int(seed))
        span = PREV + WINDOW
        start = int(torch.randint(0, clip.frames - span + 1, (1,), generator=g))
        outside = clip.frames - span
        if outside > 0:                                                        # reference outside the window
            r = int(torch.randint(0, outside, (1,), generator=g))
            ref = r if r < start else r + span
        else:
            ref = int(torch.randint(0, clip.frames, (1,), generator=g))
        mu, sigma = self.pose_stats[index]
        z = normalise(clip.motion[start:start + span], self.stats, mu, sigma)   # 90,70
        ref_raw = clip.motion[ref:ref + 1]                                       # 1,70
        _, f_id = source_condition(ref_raw, clip.kp, self.stats)
        return {"x0": z[PREV:], "prev": z[:PREV], "ref": normalise(ref_raw, self.stats, mu, sigma)[0],
                "f_id": f_id[0], "audio": self._audio(clip, start, start + span),
                "emotion": clip.emotion, "intensity": clip.intensity, "clip_id": clip.clip_id, "start": start}
