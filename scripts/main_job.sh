#!/usr/bin/env bash
# The main job: a real headless ComfyUI 0.3.75 with this repo as a custom-node pack runs workflow (a)
# (workflows/api/audio_to_video_api.json: LoadImage + LoadAudio -> Playmate nodes -> CreateVideo -> SaveVideo)
# on the bundled inputs (workflows/assets/face.png, a real photo; speech.wav, real espeak-ng speech)
# and prints the path of the output mp4.
#
# Models: real weights are used when they are in the job's model folders ($PLAYMATE_BASE/models/:
# liveportrait/ with the five LivePortrait files, playmate/ with a trained stage-1 checkpoint and
# audio_encoders/ with its encoder). What is missing gets tiny RANDOM demo models
# (tools/make_demo_models.py; this machine downloads nothing), and a loud notice says that the video
# is not a trained model's output. No Playmate weights are published anywhere: train with trainer/.
#
# Env: PLAYMATE_VENV (.venv-comfyui), PLAYMATE_BASE (.comfy-main), PLAYMATE_OUT (output/),
#      PLAYMATE_STEPS (25), PLAYMATE_FPS (25), PLAYMATE_AUDIO_ENCODER_NAME (wav2vec2-base-960h).
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
NOTICE="$BASE/main_job_notice.txt"
while read -r item; do SETS+=(--set "$item"); done < <("$VENV/bin/python" scripts/main_job_models.py "$BASE/models" 2>"$NOTICE")
cat "$NOTICE" >&2

say "3/4 submitting workflows/api/audio_to_video_api.json to $URL (POST /prompt) and waiting"
mkdir -p "$OUT"
"$VENV/bin/python" tools/comfyui/client.py run workflows/api/audio_to_video_api.json --server "$URL" \
    --upload workflows/assets/face.png --upload workflows/assets/speech.wav "${SETS[@]}" \
    --download "$OUT" --summary "$OUT/main_job_summary.json" --timeout 3600 >/dev/null

say "4/4 done"
VIDEO=$("$VENV/bin/python" -c 'import json,sys; s=json.load(open(sys.argv[1])); print(next(f["saved_to"] for f in s["files"] if f["filename"].endswith(".mp4")))' "$OUT/main_job_summary.json")
cat "$NOTICE" >&2
echo "$VIDEO"
