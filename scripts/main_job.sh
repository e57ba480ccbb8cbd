#!/usr/bin/env bash
# The main job: a real headless ComfyUI 0.3.75 with this repo as a custom-node pack runs workflow (a)
# (workflows/audio_to_video_api.json: LoadImage + LoadAudio -> Playmate nodes -> CreateVideo -> SaveVideo)
# on the bundled inputs (workflows/assets/face.png, a real photo; speech.wav, real espeak-ng speech)
# and prints the path of the output mp4.
#
# Models: no Playmate weights are published and this machine downloads nothing, so by default the
# server gets tiny RANDOM models written by tools/make_demo_models.py: the pipeline is real, the
# pictures are not (an untrained renderer draws noise over the face; the motion model says UNTRAINED).
# Real weights: PLAYMATE_LIVEPORTRAIT=<folder with the five LivePortrait files> and
# PLAYMATE_MOTION=<trained stage-1 .safetensors> PLAYMATE_AUDIO_ENCODER=<HF folder it was trained with>.
#
# Env: PLAYMATE_VENV (.venv-comfyui), PLAYMATE_BASE (.comfy-main), PLAYMATE_OUT (output/),
#      PLAYMATE_STEPS (25), PLAYMATE_FPS (25).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${PLAYMATE_VENV:-$ROOT/.venv-comfyui}"
BASE="${PLAYMATE_BASE:-$ROOT/.comfy-main}"
OUT="${PLAYMATE_OUT:-$ROOT/output}"
PY="${PYTHON:-python3}"
say() { echo "[main job] $*" >&2; }

say "1/4 installing ComfyUI 0.3.75 + this pack's dependencies into $VENV (first run only)"
"$PY" tools/comfyui/server.py install --venv "$VENV"

say "2/4 starting a headless ComfyUI with this pack linked as custom_nodes/ComfyUI-Playmate"
read -r PID URL < <("$VENV/bin/python" tools/comfyui/server.py start --venv "$VENV" --base-dir "$BASE")
trap '"$VENV/bin/python" tools/comfyui/server.py stop "$PID" >/dev/null 2>&1 || true' EXIT

SETS=(--set "5.steps=${PLAYMATE_STEPS:-25}" --set "5.fps=${PLAYMATE_FPS:-25}")
if [ -n "${PLAYMATE_LIVEPORTRAIT:-}" ]; then
    rm -rf "$BASE/models/liveportrait" && ln -s "$(cd "$PLAYMATE_LIVEPORTRAIT" && pwd)" "$BASE/models/liveportrait"
    say "LivePortrait weights: $PLAYMATE_LIVEPORTRAIT"
fi
if [ -n "${PLAYMATE_MOTION:-}" ]; then
    ln -sf "$(cd "$(dirname "$PLAYMATE_MOTION")" && pwd)/$(basename "$PLAYMATE_MOTION")" "$BASE/models/playmate/"
    SETS+=(--set "3.motion_model=$(basename "$PLAYMATE_MOTION")")
fi
if [ -n "${PLAYMATE_AUDIO_ENCODER:-}" ]; then
    ln -sfn "$(cd "$PLAYMATE_AUDIO_ENCODER" && pwd)" "$BASE/models/audio_encoders/$(basename "$PLAYMATE_AUDIO_ENCODER")"
    SETS+=(--set "3.audio_encoder=$(basename "$PLAYMATE_AUDIO_ENCODER")")
fi

say "3/4 submitting workflows/audio_to_video_api.json to $URL (POST /prompt) and waiting"
mkdir -p "$OUT"
"$VENV/bin/python" tools/comfyui/client.py run workflows/audio_to_video_api.json --server "$URL" \
    --upload workflows/assets/face.png --upload workflows/assets/speech.wav "${SETS[@]}" \
    --download "$OUT" --summary "$OUT/main_job_summary.json" --timeout 3600 >/dev/null

say "4/4 done"
VIDEO=$("$VENV/bin/python" -c 'import json,sys; s=json.load(open(sys.argv[1])); print(next(f["saved_to"] for f in s["files"] if f["filename"].endswith(".mp4")))' "$OUT/main_job_summary.json")
echo "$VIDEO"
