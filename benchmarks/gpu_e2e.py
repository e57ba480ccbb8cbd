"""End-to-end row of benchmarks/gpu.py: seconds per output frame, audio + portrait -> pasted-back frames.

    job = {"kind": "e2e", "face_preset": "liveportrait", "motion_preset": "base", "encoder": "base",
           "face_dtype": "fp16", "motion_dtype": "bf16", "seconds": 8, "steps": 25, "device": "cuda", ...}

What one Playmate graph does, through the public core API (no ComfyUI): load_face_engine from random
full-size LivePortrait weights written to a temporary folder (safetensors layout) -> prepare_source on
skimage's astronaut (mediapipe landmarks, or fixed ones where mediapipe is not installed) ->
generate_motion from a raw waveform (random wav2vec2-base-sized AudioEncoder + random motion model,
audio CFG 1.5) -> render_frames with stitching and paste-back (512 crop onto the 512x512 image), batch
1 like the nodes. Frames are consumed as uint8 arrays; video encoding is not included. A 1 s pass of
everything runs first (warm-up; not in the smoke run). value = total seconds / frames; the parts are in
the notes.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import torch

from gpu_common import DTYPES, SAMPLE_RATE, Device, each_key, emit, make_cropper, speech_like


def load_models(job: dict, dev: Device, folder: Path) -> tuple:
    from playmate_core import build_face_modules, load_face_engine, save_weights
    from playmate_core.audio import AudioEncoder, build_random_encoder
    from playmate_core.face.config import FACE_PRESETS
    from playmate_core.motion import build_motion_model
    cfg = FACE_PRESETS[job["face_preset"]]()
    torch.manual_seed(0)
    save_weights(build_face_modules(cfg), folder, "safetensors", config=cfg)
    engine = load_face_engine(folder, device=dev.device, dtype=DTYPES[job["face_dtype"]])
    encoder = AudioEncoder(build_random_encoder(job["encoder"]), identity="random").to(dev.device)
    motion = build_motion_model(job["motion_preset"]).to(dev.device, DTYPES[job["motion_dtype"]])
    return engine, encoder, motion


def one_pass(job: dict, dev: Device, models: tuple, cropper, seconds: float) -> dict:
    """Source, motion and frames for `seconds` of audio -> {'prepare', 'motion', 'render' seconds, 'frames'}."""
    from skimage.data import astronaut
    from playmate_core import generate_motion
    from playmate_core.pipeline import prepare_source, render_frames
    engine, encoder, model = models
    wav = speech_like(seconds)
    t0 = time.perf_counter()
    source = prepare_source(engine, cropper, astronaut())
    dev.sync()
    t1 = time.perf_counter()
    seq = generate_motion(model, wav, SAMPLE_RATE, source_motion=source.motion, encoder=encoder,
                          steps=job["steps"], w_a=1.5, fps=job["fps"])
    t2 = time.perf_counter()
    frames = 0
    for frame in render_frames(engine, source, seq, paste_back=True, stitching=True):
        frames += 1
        last = frame
    dev.sync()
    t3 = time.perf_counter()
    if frames != len(seq) or last.shape[:2] != (512, 512):
        raise RuntimeError(f"rendered {frames} frames of {len(seq)}, last {last.shape}")
    return {"prepare": t1 - t0, "motion": t2 - t1, "render": t3 - t2, "frames": frames}


def run(job: dict) -> None:
    dev = Device.of(job)

    def measure(i: int, key: dict) -> None:
        with tempfile.TemporaryDirectory(prefix="playmate-gpu-e2e-") as tmp:
            dev.reset_peak()
            models = load_models(job, dev, Path(tmp) / "liveportrait")
        cropper, detector = make_cropper("mediapipe")
        if job["warmup"]:
            one_pass(job, dev, models, cropper, 1.0)
        dev.reset_peak()
        r = one_pass(job, dev, models, cropper, job["seconds"])
        total = r["prepare"] + r["motion"] + r["render"]
        emit(job, i, value=total / r["frames"], unit="s/frame", peak_mb=dev.peak_mb(),
             notes=f"{r['frames']} frames at 512 ({job['seconds']:g} s audio, {job['fps']:g} fps): prepare "
                   f"{r['prepare']:.2f} s ({detector}), audio+motion {r['motion']:.2f} s ({job['steps']} steps, "
                   f"{job['motion_preset']} {job['motion_dtype']}, encoder {job['encoder']} fp32), render+paste "
                   f"{r['render']:.2f} s ({job['face_preset']} {job['face_dtype']})")

    each_key(job, measure)
