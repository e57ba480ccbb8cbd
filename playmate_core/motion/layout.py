"""The 70-d motion vector and its adaptive normalisation (motion-model.md §2.1; paper eq. 5-6).

Per frame (25 fps), a fixed layout stored in every checkpoint:

    0:63   exp        21 keypoints x 3, LivePortrait expression offsets delta
    63:66  pitch, yaw, roll   degrees (softmax expectation of the 66 bins)
    66:69  tx, ty, tz         (tz is kept for layout only; the renderer ignores it)
    69     scale

Normalisation (the model works in z-space):

    exp:  z = (exp - exp_mean) / exp_std                       global per-dim z-score
    pose: z = (pose - mu_clip) / max(sigma_clip, sigma_floor)  per-clip z-score along time

At inference the pose is de-normalised around the SOURCE image's pose:

    pose = mu_source + z * pose_std_median * pose_scale        (pose_scale 0 = still head)
"""
from __future__ import annotations

import json
from dataclasses import MISSING, asdict, dataclass, fields
from typing import Mapping, Sequence

import torch

from ..face.keypoints import bins_to_degrees

EXP_DIM = 63
POSE_DIM = 7
MOTION_DIM = EXP_DIM + POSE_DIM
NUM_KP = 21
EXP = slice(0, 63)
ANGLES = slice(63, 66)
TRANS = slice(66, 69)
SCALE = slice(69, 70)
POSE = slice(63, 70)
POSE_KEYS = ("pitch", "yaw", "roll", "tx", "ty", "tz", "scale")
# name -> [start, end) in the 70-d vector; written into every checkpoint as `motion_layout`.
MOTION_LAYOUT = {"exp": [0, 63], "pitch": [63, 64], "yaw": [64, 65], "roll": [65, 66],
                 "t": [66, 69], "scale": [69, 70]}
MOTION_KEYS = ("kp", "exp", "pitch", "yaw", "roll", "t", "scale")


def _floats(values, n: int, name: str) -> tuple:
    out = tuple(float(v) for v in (values.tolist() if isinstance(values, torch.Tensor) else values))
    if len(out) != n:
        raise ValueError(f"MotionStats.{name}: expected {n} values, got {len(out)}")
    return out


@dataclass(frozen=True)
class MotionStats:
    """Normalisation statistics of a training set (motion-model.md §2.9), stored in the checkpoint.

    exp_mean/exp_std: 63 each (std floored at 1e-4). pose_*: 7 each, in POSE_KEYS order.
    pose_std_median: typical per-clip std, the inference sigma (times pose_scale).
    pose_std_floor: 10th percentile of per-clip std, the training-time sigma floor.
    pose_mean_global: fallback mu when no source pose is given.
    Optional, recorded for analysis (not used at inference): pose_std_p90, pose_mean_std (7 each),
    raw_p001 / raw_p999 (70 each: per-dim 0.1 / 99.9 percentiles of the raw motion).
    """
    exp_mean: tuple
    exp_std: tuple
    pose_std_median: tuple
    pose_std_floor: tuple
    pose_mean_global: tuple
    pose_std_p90: tuple | None = None
    pose_mean_std: tuple | None = None
    raw_p001: tuple | None = None
    raw_p999: tuple | None = None

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None and f.default is None:
                continue
            n = EXP_DIM if f.name.startswith("exp") else MOTION_DIM if f.name.startswith("raw") else POSE_DIM
            object.__setattr__(self, f.name, _floats(value, n, f.name))
        if min(self.exp_std) <= 0 or min(self.pose_std_floor) <= 0 or min(self.pose_std_median) <= 0:
            raise ValueError("MotionStats: exp_std, pose_std_floor and pose_std_median must be > 0")

    @classmethod
    def from_dict(cls, data: Mapping) -> "MotionStats":
        names = {f.name for f in fields(cls)}
        required = {f.name for f in fields(cls) if f.default is MISSING}
        unknown, missing = sorted(set(data) - names), sorted(required - set(data))
        if unknown or missing:
            raise ValueError(f"MotionStats: unknown keys {unknown}, missing keys {missing}")
        return cls(**data)

    def to_dict(self) -> dict:
        return {k: list(v) for k, v in asdict(self).items() if v is not None}

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    def tensor(self, name: str, like: torch.Tensor) -> torch.Tensor:
        return torch.tensor(getattr(self, name), dtype=like.dtype, device=like.device)

    @classmethod
    def placeholder(cls) -> "MotionStats":
        """Plausible LivePortrait magnitudes for UNTRAINED models and tests only (no data behind them).

        exp ~ 0 +- 0.02; pitch/yaw/roll sigma 3/5/2 degrees; t sigma 0.01; scale sigma 0.01.
        """
        return cls(exp_mean=[0.0] * EXP_DIM, exp_std=[0.02] * EXP_DIM,
                   pose_std_median=[3.0, 5.0, 2.0, 0.01, 0.01, 0.01, 0.01],
                   pose_std_floor=[0.5, 0.5, 0.3, 0.002, 0.002, 0.002, 0.002],
                   pose_mean_global=[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.5])


# ---- face-engine motion dicts <-> 70-d vectors -----------------------------------------------
def motion_to_vector(motion: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """Face-engine motion dict (exp (B,21,3); pitch/yaw/roll (B,1) degrees or (B,66) bins; t (B,3);
    scale (B,1)) -> (B,70) float32 in the layout above."""
    missing = [k for k in ("exp", "pitch", "yaw", "roll", "t", "scale") if k not in motion]
    if missing:
        raise ValueError(f"motion dict is missing {missing}; pass FaceEngine.extract_motion(image) output")
    b = motion["exp"].shape[0]
    angles = [bins_to_degrees(motion[k].float()).reshape(b, 1) for k in ("pitch", "yaw", "roll")]
    parts = [motion["exp"].float().reshape(b, EXP_DIM), *angles,
             motion["t"].float().reshape(b, 3), motion["scale"].float().reshape(b, 1)]
    return torch.cat(parts, dim=1)                                            # B,70


def source_vector(source_motion: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """A batch-1 source motion dict (any tensor shapes holding one frame) -> (1,70); kp is not part of it."""
    return motion_to_vector({k: torch.as_tensor(v).reshape(1, -1) for k, v in source_motion.items() if k != "kp"})


def vector_to_motion(values: torch.Tensor, kp: torch.Tensor) -> dict:
    """(F,70) + canonical kp (1|F,21,3) -> batched motion dict that FaceEngine.transform_keypoints takes:
    kp, exp (F,21,3); pitch, yaw, roll (F,1) degrees; t (F,3); scale (F,1)."""
    f = values.shape[0]
    kp = kp.reshape(-1, NUM_KP, 3).to(values)
    return {"kp": kp.expand(f, -1, -1) if kp.shape[0] == 1 else kp,
            "exp": values[:, EXP].reshape(f, NUM_KP, 3),
            "pitch": values[:, 63:64], "yaw": values[:, 64:65], "roll": values[:, 65:66],
            "t": values[:, TRANS], "scale": values[:, SCALE]}


# ---- normalisation (paper eq. 5-6) -----------------------------------------------------------
def clip_pose_stats(pose: torch.Tensor, stats: MotionStats) -> tuple:
    """Per-clip pose statistics along time with the sigma floor (eq. 6).

    pose (...,F,7) raw -> (mu (...,7), sigma (...,7)), sigma = max(std_F(pose), pose_std_floor).
    Compute them over the WHOLE source clip, not the training window (§2.1).
    """
    mu = pose.mean(dim=-2)
    sigma = pose.std(dim=-2, unbiased=False) if pose.shape[-2] > 1 else torch.zeros_like(mu)
    return mu, torch.maximum(sigma, stats.tensor("pose_std_floor", pose))


def normalise(values: torch.Tensor, stats: MotionStats, pose_mean: torch.Tensor,
              pose_std: torch.Tensor) -> torch.Tensor:
    """Raw (...,70) -> z (...,70): exp by the global z-score (eq. 5), pose by (pose - mu) / sigma (eq. 6).

    pose_mean, pose_std: (7,) or broadcastable to (...,7) (e.g. (B,1,7) per clip).
    """
    exp = (values[..., EXP] - stats.tensor("exp_mean", values)) / stats.tensor("exp_std", values)
    pose = (values[..., POSE] - pose_mean) / pose_std
    return torch.cat([exp, pose], dim=-1)


def denormalise(z: torch.Tensor, stats: MotionStats, pose_mean: torch.Tensor,
                pose_std: torch.Tensor) -> torch.Tensor:
    """Inverse of `normalise`: exp = z * exp_std + exp_mean; pose = pose_mean + z * pose_std."""
    exp = z[..., EXP] * stats.tensor("exp_std", z) + stats.tensor("exp_mean", z)
    pose = pose_mean + z[..., POSE] * pose_std
    return torch.cat([exp, pose], dim=-1)


def inference_pose_std(stats: MotionStats, pose_scale: float, like: torch.Tensor) -> torch.Tensor:
    """sigma used at inference: pose_std_median * pose_scale (7,). pose_scale = 0 holds the source pose."""
    if not pose_scale >= 0:
        raise ValueError(f"pose_scale must be >= 0 (0 = still head, 1 = natural), got {pose_scale}")
    return stats.tensor("pose_std_median", like) * float(pose_scale)


def source_condition(source: torch.Tensor, kp: torch.Tensor, stats: MotionStats) -> tuple:
    """Source frame (1,70) raw + canonical kp -> (z_source (1,70), f_id (1,126)).

    z_source: exp globally normalised, pose z = 0 (the source pose IS the inference mu).
    f_id = [canonical kp (63), normalised source exp (63)] (motion-model.md §2.2, Proj_id).
    """
    z_exp = (source[:, EXP] - stats.tensor("exp_mean", source)) / stats.tensor("exp_std", source)
    z = torch.cat([z_exp, torch.zeros_like(source[:, POSE])], dim=1)            # 1,70
    f_id = torch.cat([kp.reshape(1, EXP_DIM).to(source), z_exp], dim=1)          # 1,126
    return z, f_id


def check_motion_dict(motion: Mapping, name: str = "source_motion") -> None:
    """Validate a single-frame face-engine motion dict at the API boundary."""
    if not isinstance(motion, Mapping):
        raise ValueError(f"{name}: expected the dict returned by FaceEngine.extract_motion(image), "
                         f"got {type(motion).__name__}")
    missing = [k for k in MOTION_KEYS if k not in motion]
    if missing:
        raise ValueError(f"{name} is missing {missing}; pass FaceEngine.extract_motion(image) output")
    if motion["kp"].numel() != EXP_DIM or motion["exp"].numel() != EXP_DIM:
        raise ValueError(f"{name}: expected ONE frame with kp and exp of 21x3 values, got kp "
                         f"{tuple(motion['kp'].shape)} and exp {tuple(motion['exp'].shape)}")
    for k in MOTION_KEYS:
        if not torch.isfinite(torch.as_tensor(motion[k]).float()).all():
            raise ValueError(f"{name}['{k}'] contains NaN or inf; re-extract the source motion")


def layout_json(names: Sequence[str] = POSE_KEYS) -> str:
    """The layout description written to checkpoints."""
    return json.dumps({"slices": MOTION_LAYOUT, "pose_keys": list(names), "dim": MOTION_DIM,
                       "angles": "degrees", "exp_normalisation": "global_zscore",
                       "pose_normalisation": "per_clip_zscore"})
