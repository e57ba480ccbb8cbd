#!/usr/bin/env bash
# The main job: a real headless ComfyUI 0.3.75 with this repo as a custom-node pack runs a shipped
# workflow on the bundled inputs (workflows/assets/face.png, a real photo; speech.wav, real espeak-ng speech)
# and prints the path of the output mp4.
#
# Models (scripts/main_job_models.py): with network access and PLAYMATE_DOWNLOAD='if missing' (the default,
# like Playmate Load Models' download option) the public weights are downloaded into $PLAYMATE_BASE/models
# (JoyVASA's motion generator + template + chinese-hubert-base's config, LivePortrait's five files; ~935 MB,
# MIT, each licence printed; from $HF_ENDPOINT, default https://huggingface.co) and the JoyVASA workflow
# (workflows/api/joyvasa_audio_to_video_api.json) makes the video with them. A trained Playmate stage-1
# checkpoint in models/playmate wins over them (workflow (a), audio_to_video_api.json). Offline, or with
# PLAYMATE_DOWNLOAD=never, what is missing gets tiny RANDOM demo models (tools/make_demo_models.py) and a
# loud notice says that the video is not a trained model's output.
#
# Env: PLAYMATE_VENV (.venv-comfyui), PLAYMATE_BASE (.comfy-main), PLAYMATE_OUT (output/),
#      PLAYMATE_DOWNLOAD ('if missing' | never), HF_ENDPOINT, PLAYMATE_STEPS (workflow (a): 25),
#      PLAYMATE_FPS (the workflow's own), PLAYMATE_AUDIO_ENCODER_NAME (wav2vec2-base-960h).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${PLAYMATE_VENV:-$ROOT/.venv-comfyui}"
BASE="${PLAYMATE_BASE:-$ROOT/.comfy-main}"
OUT="${PLAYMATE_OUT:-$ROOT/output}"
PY="${PYTHON:-python3}"
say() { echo "[main job] $*" >&2; }

say "1/5 installing ComfyUI 0.3.75 + this pack's dependencies into $VENV (first run only)"
"$PY" tools/comfyui/server.py install --venv "$VENV"

say "2/5 public weights (PLAYMATE_DOWNLOAD=${PLAYMATE_DOWNLOAD:-if missing}, hub ${HF_ENDPOINT:-https://huggingface.co})"
"$VENV/bin/python" scripts/main_job_models.py fetch "$BASE/models"

say "3/5 starting a headless ComfyUI with this pack linked as custom_nodes/ComfyUI-Playmate"
read -r PID URL < <("$VENV/bin/python" tools/comfyui/server.py start --venv "$VENV" --base-dir "$BASE")
trap '"$VENV/bin/python" tools/comfyui/server.py stop "$PID" >/dev/null 2>&1 || true' EXIT

NOTICE="$BASE/main_job_notice.txt"
WORKFLOW=""
SETS=()
while read -r kind item; do
    if [ "$kind" = workflow ]; then WORKFLOW="$item"; else SETS+=(--set "$item"); fi
done < <("$VENV/bin/python" scripts/main_job_models.py plan "$BASE/models" 2>"$NOTICE")
cat "$NOTICE" >&2
[ -n "$WORKFLOW" ] || { say "scripts/main_job_models.py chose no workflow"; exit 1; }

say "4/5 submitting ${WORKFLOW#"$ROOT"/} to $URL (POST /prompt) and waiting"
mkdir -p "$OUT"
"$VENV/bin/python" tools/comfyui/client.py run "$WORKFLOW" --server "$URL" \
    --upload workflows/assets/face.png --upload workflows/assets/speech.wav "${SETS[@]}" \
    --download "$OUT" --summary "$OUT/main_job_summary.json" --timeout 3600 >/dev/null

say "5/5 done"
VIDEO=$("$VENV/bin/python" -c 'import json,sys; s=json.load(open(sys.argv[1])); print(next(f["saved_to"] for f in s["files"] if f["filename"].endswith(".mp4")))' "$OUT/main_job_summary.json")
cat "$NOTICE" >&2
echo "$VIDEO"
