"""Labels CSV for prepare_data: clip_id or path, identity, emotion, intensity (all but one key optional).

    clip_id,identity,emotion,intensity          path,identity,emotion,intensity
    M003_angry_3_001,M003,angry,3               spk1/clip.mp4,spk1,,

`path` is relative to --videos (or absolute). Emotions are normalised to playmate_core's
EMOTION_LABELS (lower case; "anger" -> "angry", "surprise" -> "surprised", ...); intensity is 1, 2, 3
or empty. Without a row: identity = the clip's folder relative to --videos (or the clip id).
"""
from __future__ import annotations

import csv
from pathlib import Path

from playmate_core.motion.playmate.emotion import EMOTION_LABELS

EMOTION_ALIASES = {"anger": "angry", "disgust": "disgusted", "fearful": "fear", "happiness": "happy",
                   "sadness": "sad", "surprise": "surprised", "neutrality": "neutral"}


def read_labels(path: Path | None, root: Path) -> dict:
    """labels CSV (clip_id or path, identity, emotion, intensity) -> {clip_id or resolved path: row}."""
    if path is None:
        return {}
    if not path.is_file():
        raise FileNotFoundError(f"--labels file '{path}' not found; pass a CSV with columns clip_id or path, "
                                f"identity, emotion, intensity (or leave --labels out).")
    out = {}
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        cols = set(reader.fieldnames or [])
        if not cols & {"clip_id", "path"}:
            raise ValueError(f"--labels '{path}' needs a 'clip_id' or 'path' column; found {sorted(cols)}")
        for row in reader:
            if row.get("path"):
                p = Path(row["path"])
                out[str((p if p.is_absolute() else root / p).resolve())] = row
            if row.get("clip_id"):
                out[row["clip_id"]] = row
    return out


def label_fields(row: dict | None, clip_id: str, path: Path, root: Path) -> dict:
    row = row or {}
    parent = path.parent.relative_to(root).as_posix()
    identity = row.get("identity") or (parent.replace("/", "__") if parent != "." else clip_id)
    emotion = (row.get("emotion") or "").strip().lower() or None
    emotion = EMOTION_ALIASES.get(emotion, emotion)
    if emotion is not None and emotion not in EMOTION_LABELS:
        raise ValueError(f"labels: clip '{clip_id}' has emotion {row['emotion']!r}; use one of {EMOTION_LABELS} "
                         f"(or leave it empty)")
    intensity = row.get("intensity") or None
    if intensity is not None:
        intensity = int(intensity)
        if intensity not in (1, 2, 3):
            raise ValueError(f"labels: clip '{clip_id}' has intensity {intensity}; use 1, 2 or 3 (or leave it empty)")
    return {"identity": identity, "emotion": emotion, "intensity": intensity}
