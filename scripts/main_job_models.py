"""Models of the main job: fetch the public weights when allowed, then pick the workflow and its models.

    python scripts/main_job_models.py fetch MODELS_DIR   # download JoyVASA (+ encoder config) and LivePortrait
                                                         # into MODELS_DIR when $PLAYMATE_DOWNLOAD is 'if missing'
                                                         # (the default) and the hub answers; never fails the job
    python scripts/main_job_models.py plan MODELS_DIR    # stdout: 'workflow PATH', then 'set NODE.INPUT=VALUE' lines

Real weights win, best first: a trained Playmate stage-1 checkpoint in models/playmate (workflow (a),
audio_to_video_api.json, with its encoder: $PLAYMATE_AUDIO_ENCODER_NAME, else wav2vec2-base-960h), else the
public JoyVASA model with real LivePortrait weights (joyvasa_audio_to_video_api.json). Otherwise the tiny random
demo models run workflow (a) and the notice on stderr says loudly that the video is not a trained model's
output. The hub is $HF_ENDPOINT (default https://huggingface.co); the fetch uses the same code as Load Playmate
Models' download option (playmate_core.model_files), atomic, each file's licence printed.
"""
from __future__ import annotations

import json
import os
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playmate_core import model_files  # noqa: E402
from playmate_core.face.config import FaceEngineConfig  # noqa: E402
from playmate_core.face.weights import FACE_CONFIG_FILENAME, read_face_config  # noqa: E402
from playmate_core.hub_download import endpoint  # noqa: E402
from playmate_core.model_choice import HUBERT_PUBLIC, JOYVASA_PUBLIC, JOYVASA_TEMPLATE, read_motion_file  # noqa: E402

WORKFLOW_A = ROOT / "workflows" / "api" / "audio_to_video_api.json"
WORKFLOW_JOYVASA = ROOT / "workflows" / "api" / "joyvasa_audio_to_video_api.json"
DEMO_ENCODER = "wav2vec2-tiny-random"
DEMO_MOTION = "playmate-motion-tiny-untrained.safetensors"
BUNDLES = ("joyvasa", "liveportrait")
STATUS = "main_job_download.txt"                    # what fetch did, read back by plan for the notice


def say(text: str) -> None:
    print(f"[main job] {text}", file=sys.stderr, flush=True)


def demo_face(folder: Path) -> bool:
    return read_face_config(folder) == FaceEngineConfig.tiny()


def folders(models: Path) -> dict:
    return {k: str(models / k) for k in ("liveportrait", "playmate", "audio_encoders")}


def reachable(timeout: float = 10.0) -> str | None:
    """None when the hub answers for JoyVASA's smallest file, else the reason."""
    url = model_files.BUNDLES["joyvasa"][1].url
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout):
            return None
    except Exception as exc:                                  # any failure means: offline for this job
        return f"{endpoint()} did not answer ({type(exc).__name__}: {exc})"


def fetch(models: Path) -> int:
    status = models / STATUS
    models.mkdir(parents=True, exist_ok=True)
    mode = os.environ.get("PLAYMATE_DOWNLOAD", "if missing")
    if mode == "never":
        status.write_text("download off (PLAYMATE_DOWNLOAD=never)")
        return 0
    lp = models / "liveportrait"
    missing = model_files.missing_files(BUNDLES, folders(models))
    if demo_face(lp):                                         # our own demo files: replaced by the real ones
        missing += [(f, p) for f, p, _ in model_files.plan_bundle("liveportrait", folders(models))
                    if (f, p) not in missing]
    if not missing:
        status.write_text("public weights already present")
        return 0
    why = reachable()
    if why is not None:
        status.write_text(f"offline: {why}")
        say(f"no download: {why}")
        return 0
    say(f"downloading {len(missing)} public file(s) from {endpoint()} into {models}")
    state = {"next": 0}

    def progress(done, total):
        if total > 10e6 and (done >= state["next"] or done == total):
            say(f"    {done / 1e6:8.1f} / {total / 1e6:.1f} MB")
            state["next"] = done + 100e6

    def on_file(i, n, remote, path):
        state["next"] = 0
        say(f"  {i + 1}/{n} {remote.url} -> {path} (licence: {remote.licence})")

    try:
        model_files.fetch_missing(missing, progress=progress, on_file=on_file)
    except model_files.DownloadError as exc:
        status.write_text(f"download failed: {exc}")
        say(f"download failed: {exc}")
        return 0
    if demo_face(lp):                   # every demo file was replaced (atomically) by a real one: drop its config
        (lp / FACE_CONFIG_FILENAME).unlink()
    status.write_text(f"downloaded {len(missing)} public file(s) from {endpoint()}")
    return 0


def trained_stage1(folder: Path) -> Path | None:
    for path in sorted(folder.glob("*.safetensors")) if folder.is_dir() else []:
        f = read_motion_file(path.name, path)
        if f is not None and f.stage1 and f.trained:
            return path
    return None


def public_joyvasa(models: Path) -> bool:
    ckpt = models / "playmate" / JOYVASA_PUBLIC
    f = read_motion_file(ckpt.name, ckpt) if ckpt.is_file() else None
    lp = models / "liveportrait"
    return bool(f and (ckpt.parent / JOYVASA_TEMPLATE).is_file() and not demo_face(lp)
                and (lp / "motion_extractor.safetensors").is_file())


def node_of(wf: dict, class_type: str) -> str:
    return next(k for k, v in wf.items() if v["class_type"] == class_type)


def plan(models: Path) -> int:
    status = (models / STATUS).read_text() if (models / STATUS).is_file() else "no download attempted"
    motion = trained_stage1(models / "playmate")
    lp = models / "liveportrait"
    demo = []
    if motion is not None:
        encoder = os.environ.get("PLAYMATE_AUDIO_ENCODER_NAME") or "wav2vec2-base-960h"
        path, loader = WORKFLOW_A, {"motion_model": motion.name, "emotion_model": "none", "audio_encoder": encoder}
        say(f"real weights: trained Playmate motion model {motion}")
    elif public_joyvasa(models):
        path, loader = WORKFLOW_JOYVASA, {"motion_model": JOYVASA_PUBLIC, "emotion_model": "none",
                                          "audio_encoder": HUBERT_PUBLIC}
        ckpt = models / "playmate" / JOYVASA_PUBLIC
        say(f"public weights: JoyVASA motion ({ckpt}) + LivePortrait ({lp}); {status}")
        if not read_motion_file(ckpt.name, ckpt).trained:
            demo.append(f"{ckpt} is marked UNTRAINED (random weights, e.g. from a test stand-in of the hub)")
    else:
        path, loader = WORKFLOW_A, {"motion_model": DEMO_MOTION, "emotion_model": "none", "audio_encoder": DEMO_ENCODER}
        demo.append(f"motion model: tiny UNTRAINED demo ({models / 'playmate' / DEMO_MOTION}); public weights: "
                    f"{status}. "
                    f"With network access, PLAYMATE_DOWNLOAD='if missing' (the default) fetches JoyVASA + LivePortrait")
    if demo_face(lp):
        demo.append(f"LivePortrait: tiny RANDOM demo weights ({lp}); put the five real files there for real faces")
    wf = json.loads(path.read_text())
    loader_id = node_of(wf, "PlaymateLoadModels")
    sets = [f"{loader_id}.{k}={v}" for k, v in {**loader, "download": "never"}.items()]
    a2m = node_of(wf, "PlaymateAudioToMotion")
    if os.environ.get("PLAYMATE_STEPS") or path == WORKFLOW_A:
        sets.append(f"{a2m}.steps={os.environ.get('PLAYMATE_STEPS') or 25}")
    if os.environ.get("PLAYMATE_FPS"):
        sets += [f"{k}.fps={os.environ['PLAYMATE_FPS']}" for k, v in wf.items()
                 if isinstance(v["inputs"].get("fps"), (int, float))]
    bar = "!" * 100
    if demo:
        print(f"\n{bar}\n!! NOTICE: this video is NOT the output of a trained model.\n"
              + "".join(f"!!   - {line}\n" for line in demo) + f"{bar}\n", file=sys.stderr)
    print(f"workflow {path}")
    for item in sets:
        print(f"set {item}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("fetch", "plan"):
        sys.exit(__doc__)
    sys.exit({"fetch": fetch, "plan": plan}[sys.argv[1]](Path(sys.argv[2])))
