"""A MotionSequence on disk: a small safetensors file (Save Motion / Load Motion nodes).

    tensors:  values (N,70) float32, kp (1,21,3) float32, normalised (N,70) float32 (optional)
    metadata: format="playmate-motion", version="1", fps, trained, origin, layout (motion/layout.py)

Loading is strict: anything else is refused with a ValueError naming the file.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import torch

from ..motion.sequence import MotionSequence
from ..motion.layout import MOTION_DIM, NUM_KP, layout_json
from .atomic import atomic_path

MOTION_SUFFIX = ".motion.safetensors"
FORMAT, VERSION = "playmate-motion", "1"
ORIGINS = ("audio", "driving", "joyvasa")
REQUIRED_META = ("format", "version", "fps", "trained", "origin", "layout")


def save_motion_file(path: str | Path, seq: MotionSequence) -> Path:
    """Write `seq` to `path` (atomically: temporary file + rename) and return the path.

    Conventionally `path` ends with MOTION_SUFFIX (".motion.safetensors").
    """
    from safetensors.torch import save_file
    if not isinstance(seq, MotionSequence):
        raise ValueError(f"save_motion_file needs a MotionSequence, got {type(seq).__name__}")
    values = torch.as_tensor(seq.values).detach().float().cpu().contiguous()
    _check_values(values, "the motion to save")
    tensors = {"values": values, "kp": torch.as_tensor(seq.kp).detach().float().cpu().reshape(1, NUM_KP, 3).contiguous()}
    if seq.normalised is not None:
        tensors["normalised"] = torch.as_tensor(seq.normalised).detach().float().cpu().contiguous()
    meta = {"format": FORMAT, "version": VERSION, "fps": repr(float(seq.fps)), "trained": json.dumps(bool(seq.trained)),
            "origin": str(seq.origin), "layout": layout_json()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)
    return Path(path)


def _check_values(values: torch.Tensor, what: str) -> None:
    if values.ndim != 2 or values.shape[1] != MOTION_DIM or values.shape[0] < 1:
        raise ValueError(f"{what}: values must be (frames >= 1, {MOTION_DIM}), got {tuple(values.shape)}")
    if not torch.isfinite(values).all():
        raise ValueError(f"{what}: values contain NaN or inf")


def _refuse(path: Path, problem: str) -> ValueError:
    return ValueError(f"'{path}' is not a valid Playmate motion file ({problem}); it must be a file written by "
                      f"Playmate's Save Motion node (save_motion_file, *{MOTION_SUFFIX})")


def _read(path: Path) -> tuple[dict, dict]:
    from safetensors import safe_open
    if not path.is_file():
        raise FileNotFoundError(f"motion file '{path}' does not exist; write one with Playmate's Save Motion node")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:  # noqa: BLE001 - every decoder failure means "not a readable file"
        raise _refuse(path, f"unreadable safetensors: {type(exc).__name__}: {exc}") from exc
    return tensors, meta


def _parse_meta(path: Path, meta: dict) -> tuple[float, bool, str]:
    if meta.get("format") != FORMAT:
        raise _refuse(path, f"format is {meta.get('format')!r}, expected {FORMAT!r}")
    missing = [k for k in REQUIRED_META if k not in meta]
    if missing:
        raise _refuse(path, f"missing metadata {missing}")
    if meta["version"] != VERSION:
        raise _refuse(path, f"version {meta['version']!r}; this Playmate reads version {VERSION}")
    try:
        fps, trained, layout = float(meta["fps"]), json.loads(meta["trained"]), json.loads(meta["layout"])
    except (ValueError, json.JSONDecodeError) as exc:
        raise _refuse(path, f"unparsable metadata ({exc})") from exc
    if not (math.isfinite(fps) and fps > 0) or not isinstance(trained, bool):
        raise _refuse(path, f"fps {meta['fps']!r} / trained {meta['trained']!r} out of range")
    if meta["origin"] not in ORIGINS:
        raise _refuse(path, f"origin {meta['origin']!r}, expected one of {ORIGINS}")
    current = json.loads(layout_json())
    if not isinstance(layout, dict) or layout.get("slices") != current["slices"] or layout.get("dim") != MOTION_DIM:
        raise _refuse(path, "its 70-d motion layout differs from this version's")
    return fps, trained, meta["origin"]


def load_motion_file(path: str | Path) -> MotionSequence:
    """Read a file written by `save_motion_file` -> MotionSequence (CPU float32). Strict (see module doc)."""
    path = Path(path)
    tensors, meta = _read(path)
    fps, trained, origin = _parse_meta(path, meta)
    unknown = sorted(set(tensors) - {"values", "kp", "normalised"})
    if "values" not in tensors or "kp" not in tensors or unknown:
        raise _refuse(path, f"tensors {sorted(tensors)}; expected values, kp and optionally normalised")
    values, kp, normalised = tensors["values"].float(), tensors["kp"].float(), tensors.get("normalised")
    try:
        _check_values(values, "values")
    except ValueError as exc:
        raise _refuse(path, str(exc)) from exc
    if tuple(kp.shape) != (1, NUM_KP, 3):
        raise _refuse(path, f"kp has shape {tuple(kp.shape)}, expected (1, {NUM_KP}, 3)")
    if normalised is not None and tuple(normalised.shape) != tuple(values.shape):
        raise _refuse(path, f"normalised has shape {tuple(normalised.shape)}, values {tuple(values.shape)}")
    return MotionSequence(values=values, kp=kp, fps=fps, trained=trained,
                          normalised=None if normalised is None else normalised.float(), origin=origin)


__all__ = ["MOTION_SUFFIX", "save_motion_file", "load_motion_file"]
