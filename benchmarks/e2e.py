"""End-to-end benchmark: workflows through a real headless ComfyUI, seconds per output frame and peak RSS.

For each model size (tiny demo models; full-size random LivePortrait 256->512 + base motion model +
wav2vec2-base-sized encoder) and each audio length (real espeak-ng speech from workflows/assets,
repeated), a FRESH server runs one workflow, so the server's peak RSS (VmHWM) belongs to that run:
  frames  workflow (a): Render Frames -> CreateVideo -> SaveVideo (every frame held as an IMAGE batch)
  file    workflow (d): Render Video (file-backed mp4, frame by frame) + Save Motion
Then the same server runs the prompt again with another seed to time a warm second prompt (models
are reused from the cache, not reloaded).

    python benchmarks/e2e.py --venv .venv-comfyui [--sizes tiny,full] [--seconds 10,60] [--paths frames,file]
                             [--fps-tiny 25] [--fps-full 25] [--steps 10] [--json out.json]

Prints a table; numbers for the README's Performance section. Nothing is downloaded.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools" / "comfyui"))

from client import ComfyClient  # noqa: E402
from server import ComfyServer, is_installed  # noqa: E402

ASSETS = REPO / "workflows" / "assets"
API = REPO / "workflows" / "api"
WORKFLOWS = {"frames": API / "audio_to_video_api.json", "file": API / "long_audio_to_file_api.json"}
FULL = {"motion": "playmate-motion-base-random.safetensors", "encoder": "wav2vec2-base-random"}


def write_full_models(models: Path) -> None:
    """Full-size RANDOM models (run inside the server's venv): LivePortrait's public architecture,
    the base motion preset and a wav2vec2-base-sized encoder, through the real save paths."""
    import torch
    sys.path.insert(0, str(REPO))
    from playmate_core import FaceEngineConfig, build_face_modules, build_motion_model, save_motion_checkpoint, save_weights
    from playmate_core.audio.encoder import build_random_encoder
    torch.manual_seed(0)
    save_weights(build_face_modules(FaceEngineConfig.liveportrait()), models / "liveportrait", "safetensors")
    enc = build_random_encoder("base")
    enc.save_pretrained(str(models / "audio_encoders" / FULL["encoder"]))
    (models / "playmate").mkdir(parents=True, exist_ok=True)
    save_motion_checkpoint(models / "playmate" / FULL["motion"], build_motion_model("base"), part="stage1", trained=False)


def speech(seconds: float, out: Path) -> Path:
    """The bundled speech (22.05 kHz mono 16-bit) repeated and cut to `seconds`."""
    with wave.open(str(ASSETS / "speech.wav")) as w:
        rate, pcm = w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), np.int16)
    n = int(round(seconds * rate))
    clip = np.tile(pcm, math.ceil(n / len(pcm)))[:n]
    with wave.open(str(out), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(rate), w.writeframes(clip.tobytes())
    return out


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_one(venv: Path, work: Path, size: str, seconds: float, path: str, fps: float, steps: int,
            warm_max_s: float = float("inf")) -> dict:
    base = work / f"{size}-{path}-{seconds:g}s"
    models = base / "models"
    py = venv / "bin" / "python"
    if size == "tiny":
        subprocess.run([str(py), str(REPO / "tools" / "make_demo_models.py"), "--models-dir", str(models)],
                       check=True, capture_output=True)
    else:
        subprocess.run([str(py), __file__, "--write-full-models", str(models)], check=True)
    wf = json.loads(WORKFLOWS[path].read_text())
    wf["2"]["inputs"]["audio"] = f"speech_{seconds:g}s.wav"
    wf["5"]["inputs"].update(fps=fps, steps=steps)
    if size == "full":
        wf["3"]["inputs"].update(motion_model=FULL["motion"], audio_encoder=FULL["encoder"])
    with ComfyServer(base, venv=venv, extra_args=["--cache-none"]).start() as srv:
        client = ComfyClient(srv.url, timeout=120)
        client.upload(ASSETS / "face.png")
        client.upload(speech(seconds, base / f"speech_{seconds:g}s.wav"))
        cold = client.run(wf, timeout=6 * 3600)
        if cold.status != "success":
            raise RuntimeError(f"{size}/{path}/{seconds}s: {cold.status}: {cold.error}\n{srv.log_tail()}")
        rss = peak_rss_mb(srv.pid)
        frames = math.ceil(seconds * fps - 1e-9)
        warm, reused = None, None
        if seconds <= warm_max_s:                       # a second prompt with the same models (another seed)
            wf["5"]["inputs"]["seed"] = 1
            warm = client.run(wf, timeout=6 * 3600)
            reused = "reused from the cache" in srv.log_text()
    return {"size": size, "path": path, "audio_s": seconds, "fps": fps, "steps": steps, "frames": frames,
            "cold_s": round(cold.elapsed_s, 1), "s_per_frame": round(cold.elapsed_s / frames, 3),
            "warm_s": round(warm.elapsed_s, 1) if warm else None,
            "warm_s_per_frame": round(warm.elapsed_s / frames, 3) if warm else None,
            "peak_rss_mb": round(rss), "models_reused_on_second_prompt": reused}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--venv", type=Path, default=REPO / ".venv-comfyui")
    ap.add_argument("--sizes", default="tiny,full")
    ap.add_argument("--seconds", default="10,60")
    ap.add_argument("--paths", default="frames,file")
    ap.add_argument("--fps-tiny", type=float, default=25.0)
    ap.add_argument("--fps-full", type=float, default=25.0)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warm-max-seconds", type=float, default=float("inf"),
                    help="run the second (warm) prompt only for audio up to this length")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--write-full-models", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.write_full_models:
        write_full_models(a.write_full_models)
        return 0
    if not is_installed(a.venv):
        sys.exit(f"no ComfyUI in {a.venv}: run python tools/comfyui/server.py install --venv {a.venv}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="playmate-e2e-bench-") as tmp:
        for size in a.sizes.split(","):
            for seconds in (float(s) for s in a.seconds.split(",")):
                for path in a.paths.split(","):
                    fps = a.fps_tiny if size == "tiny" else a.fps_full
                    t0 = time.time()
                    rows.append(run_one(a.venv, Path(tmp), size, seconds, path, fps, a.steps, a.warm_max_seconds))
                    print(f"  done {size}/{path}/{seconds:g}s in {time.time() - t0:.0f} s", file=sys.stderr)
    cpu = platform.processor() or platform.machine()
    print(f"\nmachine: {os.cpu_count()} cores ({cpu}), torch threads default; ComfyUI 0.3.75 --cpu --cache-none")
    print("| models | path | audio | fps | frames | s / frame (cold) | s / frame (2nd prompt) | peak RSS | models reused |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        warm = "-" if r["warm_s"] is None else f"{r['warm_s_per_frame']:.3f}"
        reused = {None: "-", True: "yes", False: "NO"}[r["models_reused_on_second_prompt"]]
        print(f"| {r['size']} | {r['path']} | {r['audio_s']:g} s | {r['fps']:g} | {r['frames']} | {r['s_per_frame']:.3f} | "
              f"{warm} | {r['peak_rss_mb']} MB | {reused} |")
    for size in {r["size"] for r in rows}:
        f = {r["audio_s"]: r["peak_rss_mb"] for r in rows if r["size"] == size and r["path"] == "file"}
        if len(f) >= 2:
            lo, hi = min(f), max(f)
            print(f"{size}, file-backed: peak RSS {hi:g} s / {lo:g} s = {f[hi] / f[lo]:.2f}x (goal <= 1.2x)")
    if a.json:
        a.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
