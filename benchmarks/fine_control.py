"""Cost of the fine controls on this machine: blinks & silence and the expression editor per second of motion,
and the expression editor's on-node preview (rendering) per call.

    python benchmarks/fine_control.py                  # full-size LivePortrait networks, random weights
    python benchmarks/fine_control.py --quick          # fewer repeats, 20 s of motion

Measured (median of --repeats, after one warm-up call):
  * blinks & silence: `add_idle` on N seconds of speech at 25 fps (pause detection on the waveform + both
    edits), and its parts (`find_pauses`, the two edits); reported as ms per second of motion;
  * expression edit: `apply_expression` with all 13 controls as keyframed curves, ms per second of motion;
  * editor preview: `edit_expression` on a still portrait with the full-size face engine (W + G at 512,
    random weights: the same cost as the real ones): one frame, and a 2 s keyframed still previewed at
    its first, middle and last frame; W + G alone on one frame is timed in the same run for reference
    (the preview costs about one W + G per shown frame, whatever the machine's load).
Speech: ../shared/real-media/speech_16k_mono_20s.wav when present (looped), else espeak-ng speech with
pauses, else a synthetic syllable signal. Prints a JSON report and a Markdown table.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

REAL_SPEECH = ROOT.parent / "shared" / "real-media" / "speech_16k_mono_20s.wav"
FPS = 25.0


def speech(seconds: float) -> tuple[np.ndarray, str]:
    """(S,) 16 kHz speech of `seconds` and where it came from."""
    from playmate_core.audio import load_audio_file
    n = int(seconds * 16000)
    if REAL_SPEECH.is_file():
        wave = load_audio_file(REAL_SPEECH)[0].numpy()
        return np.resize(wave, n), f"real speech ({REAL_SPEECH.name}, looped)"
    if shutil.which("espeak-ng"):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "s.wav"
            text = "Good morning. Today we talk about portraits. They move when we speak. " * 20
            subprocess.run(["espeak-ng", "-w", str(path), text], check=True, capture_output=True)
            return np.resize(load_audio_file(path)[0].numpy(), n), "espeak-ng speech"
    t = np.arange(n) / 16000
    return 0.3 * np.sin(2 * np.pi * 150 * t) * (np.sin(2 * np.pi * 0.4 * t) > 0), "synthetic bursts"


def motion(n: int):
    from playmate_core.motion import MotionSequence
    g = torch.Generator().manual_seed(0)
    values = torch.randn(n, 70, generator=g) * 0.01
    values[:, 69] = 1.5
    return MotionSequence(values=values, kp=torch.randn(1, 21, 3, generator=g) * 0.2, fps=FPS, trained=False)


def timed(fn, repeats: int) -> float:
    """Median seconds of `fn()` over `repeats` calls after one warm-up."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def engine_and_source():
    """Full-size LivePortrait networks (random weights) and the astronaut portrait, cropped around its face."""
    from skimage.data import astronaut
    from playmate_core import FaceEngine, FaceEngineConfig, build_face_modules
    from playmate_core.crop import FaceCropper
    from playmate_core.pipeline import prepare_source
    torch.manual_seed(0)
    cfg = FaceEngineConfig.liveportrait()
    engine = FaceEngine(build_face_modules(cfg), cfg)
    cropper = FaceCropper(backend="mediapipe")
    return engine, prepare_source(engine, cropper, astronaut())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60.0, help="seconds of motion for the per-second costs")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--preview-repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--quick", action="store_true", help="20 s of motion, 2 repeats")
    args = ap.parse_args()
    if args.quick:
        args.seconds, args.repeats, args.preview_repeats = 20.0, 2, 1
    torch.set_num_threads(args.threads)
    from playmate_core.audio.pauses import find_pauses
    from playmate_core.pipeline.blinks import add_blinks
    from playmate_core.pipeline.expression_edit import (apply_expression, control_ranges, edit_expression,
                                                        expression_controls)
    from playmate_core.pipeline.idle import add_idle
    from playmate_core.pipeline.silence import close_mouth, silence_weights

    wave, speech_kind = speech(args.seconds)
    m = motion(int(np.ceil(args.seconds * FPS)))
    per_s = 1000.0 / args.seconds
    pauses = find_pauses(wave, 16000, 0.35)
    weights = silence_weights(pauses, len(m), FPS)
    curves = "\n".join(f"{name}: 0:0, {args.seconds / 2:g}:{hi / 2:g}, {args.seconds:g}:{lo / 2:g}"
                       for name, (lo, hi) in control_ranges().items())
    controls = expression_controls({}, curves)
    report = {
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                    "threads": args.threads, "torch": torch.__version__,
                    "load_avg_at_start": os.getloadavg()[0]},
        "speech": speech_kind, "seconds": args.seconds, "fps": FPS, "pauses_found": len(pauses),
        "ms_per_s": {
            "blinks & silence (add_idle, all)": per_s * timed(lambda: add_idle(m, wave, 16000, 15, 0), args.repeats),
            "  pause detection (find_pauses)": per_s * timed(lambda: find_pauses(wave, 16000, 0.35), args.repeats),
            "  mouth closing (close_mouth)": per_s * timed(lambda: close_mouth(m, weights), args.repeats),
            "  blinks (add_blinks)": per_s * timed(lambda: add_blinks(m, 15, 0), args.repeats),
            "expression edit, 13 keyframed controls (apply_expression)":
                per_s * timed(lambda: apply_expression(m, controls), args.repeats),
        },
    }
    engine, source = engine_and_source()
    sliders = {"smile": 0.6, "brow": 0.3, "eye_openness": -0.2, "pupil_x": 0.4, "head_yaw": 8.0}
    x_s = source.x_s
    report["preview_s"] = {
        "W + G alone, one frame (reference)": timed(lambda: engine.warp_decode(source.f_s, x_s, x_s),
                                                     args.preview_repeats),
        "editor preview, still portrait, 1 frame": timed(
            lambda: edit_expression(engine, source, None, sliders, preview="first"), args.preview_repeats),
        "editor preview, 2 s keyframed still, first/middle/last (3 frames)": timed(
            lambda: edit_expression(engine, source, None, {}, curves, still_seconds=2.0, fps=FPS,
                                    preview="first, middle, last"), args.preview_repeats)}
    report["load_avg_at_end"] = os.getloadavg()[0]
    print(json.dumps(report, indent=1))
    print("\n| what | cost |\n|---|---|")
    for name, v in report["ms_per_s"].items():
        print(f"| {name.strip()} | {v:.2f} ms per second of motion |")
    for which, v in report["preview_s"].items():
        print(f"| {which} (full-size networks, 512 crop) | {v:.2f} s per call |")


if __name__ == "__main__":
    main()
