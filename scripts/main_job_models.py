"""Pick the models the main job runs with, from what is in ComfyUI's model folders.

Real weights win when present: LivePortrait weights in models/liveportrait that are not the demo
set, a trained stage-1 checkpoint in models/playmate (its audio encoder: the folder named in
$PLAYMATE_AUDIO_ENCODER, else wav2vec2-base-960h when present). Anything missing falls back to the
tiny random demo models, and the notice printed to stderr says so loudly.

    python scripts/main_job_models.py MODELS_DIR      -> stdout: one `--set NODE.INPUT=VALUE` pair per line
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playmate_core.face.config import FaceEngineConfig  # noqa: E402
from playmate_core.face.weights import read_face_config  # noqa: E402

LOADER = "3"                                               # PlaymateLoadModels in workflows/api/audio_to_video_api.json
DEMO_ENCODER = "wav2vec2-tiny-random"
DEMO_MOTION = "playmate-motion-tiny-untrained.safetensors"


def _checkpoint_meta(path: Path) -> dict:
    from safetensors import safe_open
    try:
        with safe_open(str(path), framework="pt") as f:
            return f.metadata() or {}
    except Exception:                                      # not a safetensors file: not ours
        return {}


def trained_stage1(folder: Path) -> Path | None:
    """The first checkpoint in `folder` that holds a trained stage-1 motion model."""
    for path in sorted(folder.glob("*.safetensors")) if folder.is_dir() else []:
        meta = _checkpoint_meta(path)
        if meta.get("playmate_format") == "motion" and "stage1" in json.loads(meta.get("parts", "[]")) \
                and json.loads(meta.get("stage1_trained", "false")):
            return path
    return None


def main(models_dir: str) -> int:
    root = Path(models_dir)
    sets, demo = [], []
    lp = root / "liveportrait"
    if read_face_config(lp) == FaceEngineConfig.tiny():
        demo.append(f"LivePortrait: tiny RANDOM demo weights ({lp}); put the five real files there for real faces")
    motion = trained_stage1(root / "playmate")
    if motion is None:
        sets.append(f"{LOADER}.motion_model={DEMO_MOTION}")
        sets.append(f"{LOADER}.audio_encoder={DEMO_ENCODER}")
        demo.append(f"motion model: tiny UNTRAINED demo ({root / 'playmate' / DEMO_MOTION}); no Playmate weights are "
                    f"published: train one with trainer/ and put it in {root / 'playmate'}")
    else:
        encoder = os.environ.get("PLAYMATE_AUDIO_ENCODER_NAME") or "wav2vec2-base-960h"
        sets.append(f"{LOADER}.motion_model={motion.name}")
        sets.append(f"{LOADER}.audio_encoder={encoder}")
    bar = "!" * 100
    if demo:
        print(f"\n{bar}\n!! NOTICE: this video is NOT the output of a trained model.\n"
              + "".join(f"!!   - {line}\n" for line in demo) + f"{bar}\n", file=sys.stderr)
    else:
        print(f"[main job] real weights: LivePortrait in {lp}, motion model {motion}", file=sys.stderr)
    for item in sets:
        print(item)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
