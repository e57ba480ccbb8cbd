"""Motion rows of benchmarks/gpu.py: real-time factor (compute seconds per second of generated motion).

    job = {"kind": "motion", "preset": "base", "dtype": "bf16", "seconds": 20, "steps": 25, "w_a": 1.5, ...}
    job = {"kind": "joyvasa", "preset": "released", "dtype": "fp32", "seconds": 20, "keys": [{"steps": 50}, ...]}

motion: the Playmate model (random weights) from precomputed random audio features, so the audio
encoder is excluded (as benchmarks/motion.py); audio CFG w_a batched as 2 trunk passes per step; one
window of warm-up first. joyvasa: the released geometry (HuBERT-base inside, F 256, D 73, 100-frame
windows, CFG 2.8) with random weights, from the RAW waveform, so its audio encoder IS included (its
share is in the notes); "tiny" is the test geometry of playmate_core.motion.joyvasa.export.
"""
from __future__ import annotations

import time

import torch

from gpu_common import SAMPLE_RATE, Device, each_key, emit, seconds_once, speech_like, zero_source_motion


def run_motion(job: dict) -> None:
    from playmate_core.motion import build_motion_model, generate_motion
    dev = Device.of(job)
    dev.reset_peak()
    torch.manual_seed(0)
    model = build_motion_model(job["preset"]).to(dev.device, dev.dtype)
    cfg = model.config
    n = int(job["seconds"] * model.fps)
    feats = torch.randn(n, cfg.audio_layers, cfg.audio_dim, generator=torch.Generator().manual_seed(0))
    run = dict(source_motion=zero_source_motion(), w_a=job["w_a"], steps=job["steps"])

    def measure(i: int, key: dict) -> None:
        generate_motion(model, features=feats[:cfg.window], **{**run, "steps": 2})      # warm-up
        dev.reset_peak()
        calls = []
        t0 = time.perf_counter()
        seq = generate_motion(model, features=feats, callback=lambda d, total: calls.append(total), **run)
        seconds = time.perf_counter() - t0
        if not torch.isfinite(seq.values).all():
            raise RuntimeError("generated motion is not finite")
        windows = calls[-1] // job["steps"]
        emit(job, i, value=seconds / job["seconds"], unit="RTF (s/s)", peak_mb=dev.peak_mb(),
             notes=f"{job['seconds']:g} s of motion, {windows} windows, {1000 * seconds / calls[-1]:.1f} ms/step, "
                   f"w_a {job['w_a']}, {model.parameter_counts()['total'] / 1e6:.1f} M params, features precomputed")

    each_key(job, measure)


def build_joyvasa(preset: str):
    from playmate_core.motion.joyvasa.config import JoyVASAConfig
    from playmate_core.motion.joyvasa.export import TINY_HUBERT, TINY_JOYVASA, build_random_joyvasa
    if preset == "tiny":
        return build_random_joyvasa(TINY_JOYVASA, TINY_HUBERT)
    return build_random_joyvasa(JoyVASAConfig())


def run_joyvasa(job: dict) -> None:
    from playmate_core.motion.joyvasa import generate_joyvasa_motion
    dev = Device.of(job)
    dev.reset_peak()
    model = build_joyvasa(job["preset"]).to(dev.device, dev.dtype)
    wav = speech_like(job["seconds"])
    src = zero_source_motion()
    generate_joyvasa_motion(model, wav[:SAMPLE_RATE], SAMPLE_RATE, src, steps=2)            # warm-up

    def measure(i: int, key: dict) -> None:
        steps = key["steps"] or model.cfg.n_diff_steps          # None: all of the checkpoint's steps (reference)
        dev.reset_peak()
        with torch.inference_mode():
            chunk = wav[:model.cfg.window_samples]
            chunk = torch.nn.functional.pad(chunk, (0, model.cfg.window_samples - chunk.shape[0]))
            chunk = chunk[None].to(dev.device, dev.dtype)                                       # 1,window
            encode_s = min(seconds_once(lambda: model.encode_window(chunk), dev) for _ in range(3))
        calls = []
        t0 = time.perf_counter()
        seq = generate_joyvasa_motion(model, wav, SAMPLE_RATE, src, steps=key["steps"],
                                      callback=lambda d, total: calls.append(total))
        seconds = time.perf_counter() - t0
        if not torch.isfinite(seq.values).all():
            raise RuntimeError("generated motion is not finite")
        windows = calls[-1] // steps
        emit(job, i, value=seconds / job["seconds"], unit="RTF (s/s)", peak_mb=dev.peak_mb(),
             notes=f"{job['preset']} geometry, {job['seconds']:g} s raw audio, {windows} windows, CFG 2.8, audio "
                   f"encoder ~{100 * min(1.0, windows * encode_s / seconds):.0f} % of the time, "
                   f"{model.parameter_counts()['total'] / 1e6:.1f} M params")

    each_key(job, measure)
