"""Emotion labels from the public datasets' own conventions (prepare_data --label-format).

    csv         --labels labels.csv: clip_id or path, identity, emotion, intensity (trainer/labels_csv.py)
    mead        no file: read from MEAD's folder names, <actor>/video/<view>/<emotion>/level_<n>/<take>.mp4
                (also flattened names such as M003_front_angry_level_2_001.mp4): identity = the actor id
                (M003, W011, ...), emotion = the emotion folder, intensity = the level (1-3)
    celebvtext  --labels FOLDER of CelebV-Text's emotion descriptions, one <clip>.txt per video named like
                the video (or a JSON file {clip: text or {"emotion": ...}}): the emotion is the label whose
                words occur most often in the clip's text (ties: the earliest); identity = the YouTube id
                (the clip name without its trailing _<n>)
Every reader returns, per video, the same row a labels CSV gives (identity, emotion, intensity), so
label_fields() normalises all of them.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from .labels_csv import EMOTION_ALIASES, read_labels

FORMATS = ("csv", "mead", "celebvtext")
MEAD_ACTOR = re.compile(r"^[MW]\d{3}$")
# words of CelebV-Text's emotion sentences -> our labels (playmate_core.motion.labels.EMOTION_LABELS)
EMOTION_WORDS = {"angry": ("angry", "anger", "furious"), "contempt": ("contempt", "contemptuous", "scornful"),
                 "disgusted": ("disgusted", "disgust"), "fear": ("fear", "fearful", "scared", "afraid"),
                 "happy": ("happy", "happiness", "smiling", "smiles", "joyful", "laughing"),
                 "neutral": ("neutral", "calm", "expressionless"), "sad": ("sad", "sadness", "unhappy"),
                 "surprised": ("surprised", "surprise", "astonished")}


def mead_row(path: Path, root: Path) -> dict | None:
    """MEAD labels from the folder/file names of one video; None when the names do not follow MEAD."""
    tokens = [t.lower() for part in path.relative_to(root).with_suffix("").parts for t in re.split(r"[_\s]+", part)]
    tokens += [p.lower() for p in path.relative_to(root).parts[:-1]]
    actor = next((t.upper() for t in tokens if MEAD_ACTOR.match(t.upper())), None)
    emotion = next((EMOTION_ALIASES.get(t, t) for t in tokens if EMOTION_ALIASES.get(t, t) in EMOTION_WORDS), None)
    joined = "_".join(tokens)
    level = re.search(r"level[_-]?(\d)", joined)
    if emotion is None:
        return None
    return {"identity": actor or "", "emotion": emotion, "intensity": level.group(1) if level else ""}


def text_emotion(text: str) -> str | None:
    words = re.findall(r"[a-z]+", text.lower())
    counts = {label: sum(w in forms for w in words) for label, forms in EMOTION_WORDS.items()}
    first = {label: min((i for i, w in enumerate(words) if w in forms), default=len(words))
             for label, forms in EMOTION_WORDS.items()}
    best = max(counts, key=lambda lab: (counts[lab], -first[lab]))
    return best if counts[best] else None


def read_celebvtext(path: Path) -> dict:
    """{clip stem: row} from a folder of <clip>.txt descriptions or a JSON file."""
    if not path.exists():
        raise FileNotFoundError(f"--labels '{path}' not found; for --label-format celebvtext pass the folder of "
                                f"CelebV-Text emotion descriptions (<clip>.txt files) or a JSON file")
    if path.is_dir():
        texts = {f.stem: f.read_text(errors="replace") for f in sorted(path.rglob("*.txt"))}
    else:
        data = json.loads(path.read_text())
        data = data.get("clips", data) if isinstance(data, dict) else {}
        texts = {k: v if isinstance(v, str) else (v.get("emotion") or json.dumps(v)) for k, v in data.items()}
    if not texts:
        raise ValueError(f"--labels '{path}' holds no CelebV-Text emotion descriptions (.txt files or JSON entries)")
    return {stem: {"clip_id": stem, "identity": re.sub(r"_\d+$", "", stem), "emotion": text_emotion(text) or "",
                   "intensity": ""} for stem, text in texts.items()}


def read_label_rows(fmt: str, labels: Path | None, root: Path, videos: list) -> dict:
    """-> {resolved video path (or clip_id, csv): row} for the videos with labels (rows as a labels CSV)."""
    if fmt not in FORMATS:
        raise ValueError(f"--label-format must be one of {FORMATS}, got {fmt!r}")
    if fmt == "mead":
        rows = {str(v.resolve()): mead_row(v, root) for v in videos}
        if not any(rows.values()):
            raise ValueError(f"--label-format mead: no video under '{root}' has a MEAD emotion in its folder or file "
                             f"names (expected <actor>/video/<view>/<emotion>/level_<n>/<take>.mp4)")
        return {k: v for k, v in rows.items() if v}
    if labels is None:
        if fmt == "celebvtext":
            raise ValueError("--label-format celebvtext needs --labels: the folder of its emotion descriptions")
        return {}
    if fmt == "celebvtext":
        by_stem = read_celebvtext(labels)
        return {str(v.resolve()): by_stem[v.stem] for v in videos if v.stem in by_stem}
    return read_labels(labels, root)                   # keyed by resolved path and by clip_id
