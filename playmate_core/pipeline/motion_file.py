"""A MotionSequence on disk: a small safetensors file (Save Motion / Load Motion nodes).

    tensors:  values (N,70) float32, kp (1,21,3) float32, normalised (N,70) float32 (optional)
    metadata: format="playmate-motion", version="1", fps, trained, origin, layout (motion/layout.py)

Loading is strict: anything else is refused with a ValueError naming the file. Bounds checked on load
(a hand-made or damaged file must not reach the renderer or the mp4 writer):
    fps in [MIN_FPS, MAX_FPS] (timebase)      frames in [1, MAX_FRAMES] (the longest audio at MAX_FPS)
    every value finite and within BOUNDS per column (expression, angles, translation, scale, kp)
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from ..audio.bounds import DEFAULT_MAX_SECONDS
from ..motion.sequence import MotionSequence
from ..motion.layout import ANGLES, EXP, MOTION_DIM, NUM_KP, SCALE, TRANS, layout_json
from ..timebase import MAX_FPS, check_fps
from .atomic import atomic_path

MOTION_SUFFIX = ".motion.safetensors"
FORMAT, VERSION = "playmate-motion", "1"
ORIGINS = ("audio", "driving", "joyvasa")
REQUIRED_META = ("format", "version", "fps", "trained", "origin", "layout")
MAX_FRAMES = int(DEFAULT_MAX_SECONDS * MAX_FPS)
# Plausible ranges, generous so that an untrained model's noise still saves and loads (LivePortrait's own
# motion stays within ~0.1 expression, ~60 degrees, ~0.2 translation, 0.5-3 scale): (columns, low, high, unit).
BOUNDS = ((EXP, -10.0, 10.0, "expression offsets"), (ANGLES, -360.0, 360.0, "pitch/yaw/roll in degrees"),
          (TRANS, -100.0, 100.0, "translation"), (SCALE, -100.0, 100.0, "scale"))
KP_BOUND = 10.0
MAX_BYTES = 2 * MAX_FRAMES * MOTION_DIM * 4 + (1 << 20)       # values + normalised + header room


def save_motion_file(path: str | Path, seq: MotionSequence, staging_dir: str | Path | None = None) -> Path:
    """Write `seq` to `path` (atomically: temporary file + rename) and return the path.

    Conventionally `path` ends with MOTION_SUFFIX (".motion.safetensors"). staging_dir: see atomic_path.
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
    with atomic_path(path, staging_dir=staging_dir) as tmp:
        save_file(tensors, str(tmp), metadata=meta)
    return Path(path)


def _check_values(values: torch.Tensor, what: str) -> None:
    if values.ndim != 2 or values.shape[1] != MOTION_DIM or not 1 <= values.shape[0] <= MAX_FRAMES:
        raise ValueError(f"{what}: values must be (frames in 1..{MAX_FRAMES}, {MOTION_DIM}), got {tuple(values.shape)}")
    if not torch.isfinite(values).all():
        raise ValueError(f"{what}: values contain NaN or inf")
    for cols, low, high, unit in BOUNDS:
        part = values[:, cols]
        if bool((part < low).any() or (part > high).any()):
            raise ValueError(f"{what}: {unit} range from {float(part.min()):.4g} to {float(part.max()):.4g}, outside "
                             f"the plausible [{low:g}, {high:g}]")


def _refuse(path: Path, problem: str) -> ValueError:
    return ValueError(f"'{path}' is not a valid Playmate motion file ({problem}); it must be a file written by "
                      f"Playmate's Save Motion node (save_motion_file, *{MOTION_SUFFIX})")


def _read(path: Path) -> tuple[dict, dict]:
    from safetensors import safe_open
    if not path.is_file():
        raise FileNotFoundError(f"motion file '{path}' does not exist; write one with Playmate's Save Motion node")
    if path.stat().st_size > MAX_BYTES:
        raise _refuse(path, f"{path.stat().st_size} bytes, more than a motion of {MAX_FRAMES} frames needs")
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
    if not isinstance(trained, bool):
        raise _refuse(path, f"trained is {meta['trained']!r}, expected true or false")
    try:
        check_fps(fps, "its fps")
    except ValueError as exc:
        raise _refuse(path, str(exc)) from exc
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
    if not bool(torch.isfinite(kp).all()) or float(kp.abs().max()) > KP_BOUND:
        raise _refuse(path, f"kp must be finite and within +-{KP_BOUND:g}")
    if normalised is not None and tuple(normalised.shape) != tuple(values.shape):
        raise _refuse(path, f"normalised has shape {tuple(normalised.shape)}, values {tuple(values.shape)}")
    return MotionSequence(values=values, kp=kp, fps=fps, trained=trained,
                          normalised=None if normalised is None else normalised.float(), origin=origin)


__all__ = ["MOTION_SUFFIX", "save_motion_file", "load_motion_file"]
