"""Real-time factor and peak RSS of the motion model (stage 1 + emotion module), and of the audio encoder.

    python benchmarks/motion.py                 # full table (takes a few minutes on 2 cores)
    python benchmarks/motion.py --quick         # tiny preset, 2 steps: a smoke test of this script
    python benchmarks/motion.py --only base/float32/25 --repeats 5 --no-encoder   # just those rows

RTF = compute seconds per second of generated motion, for ~20 s of motion (500 frames at 25 fps,
7 windows of 80 frames) from synthetic audio features, so the audio encoder is excluded; < 1 is
faster than real time. Each row runs in a fresh subprocess (its peak RSS is its own: interpreter +
model + activations), after a 1-window warm-up; the 20 s generation is timed --repeats times and the
row reports the median (and the minimum: on a shared machine the minimum is the least disturbed run).
dtype "auto" is what Playmate Load Models' precision=auto gives the motion model on this CPU
(playmate_core.motion.precision: bf16 with AMX / AVX512-BF16, else fp32).
Models are randomly initialised (timing does not depend on the weights). Guidance modes (per
denoising step):

    none           w_a = 1, no emotion: 1 trunk pass                               (stage-1 model)
    audio CFG      w_a = 1.5: trunk for null audio and audio, batched (2)          (stage-1 model)
    audio+emotion  eq. 8 with w_a = w_e = 1.5, emotion 'happy'                    (model with emotion module)
                   pose-locked pair (generate.py): the emotion-free chain (2 trunk passes, 2 emotion-block
                   passes) + the emotion chain (2 trunk passes; emotion blocks for eps(0,0) and eps(a,e):
                   the eps(a,0) pass has coefficient w_a - w_e = 0 and is skipped), all in one batch of 4
    all 3 branches eq. 8 with w_a = 1.5, w_e = 2.0: as above with the emotion chain's eps(a,0) pass too

The audio encoder row times `encode` of a random wav2vec2-base-sized model (playmate_core.audio).

JoyVASA rows (playmate_core.motion.joyvasa, issue 7): the released geometry at full size (HuBERT-base audio
encoder fine-tuned inside the checkpoint, F 256, D 73, 10 + 100-frame windows, 50 DDPM steps, audio CFG
2.8 batched as 2), random weights, from the RAW 20 s waveform, so the audio encoder IS included
(its share is reported). `--joyvasa` runs only these rows.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODES = {"none": (None, 1.0, 1.0, False), "audio CFG": (None, 1.5, 1.5, False),
         "audio+emotion CFG": ("happy", 1.5, 1.5, True), "all 3 branches": ("happy", 1.5, 2.0, True)}
SECONDS, FPS = 20.0, 25


def worker(preset: str, dtype: str, steps: int, mode: str, threads: int, repeats: int = 1) -> dict:
    sys.path.insert(0, str(ROOT))
    import torch
    torch.set_num_threads(threads)
    from playmate_core.motion import build_motion_model, generate_motion
    emotion, w_a, w_e, with_module = MODES[mode]
    torch.manual_seed(0)
    label = dtype
    if dtype == "auto":                                   # what the nodes pick on this CPU
        from playmate_core.motion.precision import auto_cpu_motion_dtype
        dtype = str(auto_cpu_motion_dtype()).removeprefix("torch.")
        label = f"auto = {dtype}"
    model = build_motion_model(preset, emotion=with_module).to(dtype=getattr(torch, dtype))
    cfg = model.config
    src = {"kp": torch.zeros(1, 21, 3), "exp": torch.zeros(1, 21, 3), "pitch": torch.zeros(1, 1),
           "yaw": torch.zeros(1, 1), "roll": torch.zeros(1, 1), "t": torch.zeros(1, 3), "scale": torch.ones(1, 1)}
    n = int(SECONDS * FPS)
    feats = torch.randn(n, cfg.audio_layers, cfg.audio_dim, generator=torch.Generator().manual_seed(0))
    run = dict(source_motion=src, emotion=emotion, w_a=w_a, w_e=w_e, steps=steps)
    generate_motion(model, features=feats[:cfg.window], **{**run, "steps": 2})        # warm-up, packs weights
    calls, times, load = [], [], [os.getloadavg()[0]]
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        generate_motion(model, features=feats, callback=lambda i, total: calls.append(total), **run)
        times.append(time.perf_counter() - t0)
    load.append(os.getloadavg()[0])
    seconds = statistics.median(times)
    return {"preset": preset, "dtype": label, "steps": steps, "mode": mode, "seconds": seconds,
            "seconds_min": min(times), "repeats": len(times), "rtf": seconds / SECONDS, "rtf_min": min(times) / SECONDS,
            "windows": calls[-1] // steps, "ms_per_step": 1000 * seconds / calls[-1], "load_1min": load,
            "params_m": model.parameter_counts()["total"] / 1e6,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "threads": torch.get_num_threads()}


def encoder_worker(threads: int) -> dict:
    sys.path.insert(0, str(ROOT))
    import torch
    torch.set_num_threads(threads)
    try:
        from playmate_core.audio import build_random_encoder, encoder_seconds_per_audio_second
    except ImportError as exc:
        return {"skipped": f"audio front-end not importable ({exc})"}
    sec = encoder_seconds_per_audio_second(build_random_encoder("base"), seconds=10.0)
    return {"seconds_per_audio_second": sec, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def joyvasa_worker(steps: str, threads: int, quick: bool = False) -> dict:
    sys.path.insert(0, str(ROOT))
    import math
    import torch
    torch.set_num_threads(threads)
    from playmate_core.motion.joyvasa import generate_joyvasa_motion
    from playmate_core.motion.joyvasa.export import TINY_HUBERT, TINY_JOYVASA, build_random_joyvasa
    from playmate_core.motion.joyvasa.config import JoyVASAConfig
    model = build_random_joyvasa(TINY_JOYVASA if quick else JoyVASAConfig(), TINY_HUBERT if quick else None)
    n_steps = None if steps == "all" else int(steps)
    g = torch.Generator().manual_seed(0)
    s = int(SECONDS * 16000)
    wav = torch.randn(s, generator=g) * 0.1 * torch.sin(torch.arange(s) / 16000 * 2 * math.pi * 2.5).abs()
    src = {"kp": torch.zeros(1, 21, 3), "exp": torch.zeros(1, 21, 3), "pitch": torch.zeros(1, 1),
           "yaw": torch.zeros(1, 1), "roll": torch.zeros(1, 1), "t": torch.zeros(1, 3), "scale": torch.ones(1, 1)}
    generate_joyvasa_motion(model, wav[:16000], 16000, src, steps=2)                  # warm-up
    with torch.inference_mode():
        t0 = time.perf_counter()
        model.encode_window(wav[None, :model.cfg.window_samples])
        encode_s = time.perf_counter() - t0
    calls = []
    t0 = time.perf_counter()
    generate_joyvasa_motion(model, wav, 16000, src, steps=n_steps, callback=lambda i, total: calls.append(total))
    seconds = time.perf_counter() - t0
    windows = calls[-1] // (n_steps or model.cfg.n_diff_steps)
    return {"preset": "joyvasa-tiny" if quick else "joyvasa (released size)", "dtype": "float32",
            "steps": n_steps or model.cfg.n_diff_steps, "mode": "audio CFG 2.8", "seconds": seconds,
            "rtf": seconds / SECONDS, "windows": windows,
            "ms_per_step": 1000 * (seconds - windows * encode_s) / calls[-1],
            "encoder_share": windows * encode_s / seconds, "params_m": model.parameter_counts()["total"] / 1e6,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "threads": torch.get_num_threads()}


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo (Linux), else what platform knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _subprocess(args: list) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"benchmark worker {args} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def plan(quick: bool) -> list:
    if quick:
        return [("tiny", "float32", 2, mode) for mode in MODES]
    rows = [(p, "float32", s, m) for p in ("tiny", "base") for s in (25, 50) for m in MODES]
    return rows + [("base", dt, s, m) for dt in ("bfloat16", "auto") for s in (25, 50) for m in MODES]


def to_markdown(rows: list, encoder: dict) -> str:
    lines = ["| model | dtype | params (M) | DDIM steps | guidance | windows | seconds for 20 s | RTF (median) "
             "| RTF (min) | ms / step | peak RSS (MB) |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['preset']} | {r['dtype']} | {r['params_m']:.1f} | {r['steps']} | {r['mode']} | "
                     f"{r['windows']} | {r['seconds']:.2f} | **{r['rtf']:.3f}** | {r.get('rtf_min', r['rtf']):.3f} | "
                     f"{r['ms_per_step']:.1f} | {r['peak_rss_mb']:.0f} |")
    if "skipped" in encoder:
        lines.append(f"\nAudio encoder: skipped ({encoder['skipped']}).")
    else:
        lines.append(f"\nAudio encoder (random wav2vec2-base size, fp32): {encoder['seconds_per_audio_second']:.3f} s "
                     f"per second of audio (RTF), peak RSS {encoder['peak_rss_mb']:.0f} MB.")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--quick", action="store_true", help="tiny preset, 2 steps (smoke test)")
    p.add_argument("--no-encoder", action="store_true", help="skip the audio encoder row")
    p.add_argument("--json", help="also write the rows here")
    p.add_argument("--repeats", type=int, default=3, help="timed 20 s generations per row (median reported)")
    p.add_argument("--only", action="append", metavar="PRESET/DTYPE/STEPS[/MODE]",
                   help="run only the Playmate rows matching this prefix (repeatable), e.g. base/float32/25")
    p.add_argument("--worker", nargs=4, metavar=("PRESET", "DTYPE", "STEPS", "MODE"), help=argparse.SUPPRESS)
    p.add_argument("--encoder-worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--joyvasa", action="store_true", help="only the JoyVASA rows")
    p.add_argument("--joyvasa-worker", metavar="STEPS", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.joyvasa_worker:
        print(json.dumps(joyvasa_worker(args.joyvasa_worker, args.threads, args.quick)))
        return
    if args.worker:
        preset, dtype, steps, mode = args.worker
        print(json.dumps(worker(preset, dtype, int(steps), mode, args.threads, args.repeats)))
        return
    if args.encoder_worker:
        print(json.dumps(encoder_worker(args.threads)))
        return
    import torch
    print(f"machine: {cpu_name()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"threads {args.threads}", file=sys.stderr)
    rows = []
    for steps in ([] if args.only else ["all"] if args.quick else ["all", "25"]):
        extra = ["--quick"] if args.quick else []
        row = _subprocess(["--joyvasa-worker", steps, "--threads", str(args.threads), *extra])
        rows.append(row)
        print(f"  {row['preset']} {row['steps']} steps: RTF {row['rtf']:.2f} (audio encoder "
              f"{100 * row['encoder_share']:.0f} %), peak RSS {row['peak_rss_mb']:.0f} MB", file=sys.stderr)
    selected = [r for r in plan(args.quick)
                if not args.only or any("/".join(map(str, r)).startswith(o) for o in args.only)]
    for preset, dtype, steps, mode in ([] if args.joyvasa else selected):
        row = _subprocess(["--worker", preset, dtype, str(steps), mode, "--threads", str(args.threads),
                           "--repeats", str(args.repeats)])
        rows.append(row)
        print(f"  {preset} {dtype} {steps} steps {mode}: RTF {row['rtf']:.2f} (min {row['rtf_min']:.2f}, "
              f"{row['repeats']} runs), {row['ms_per_step']:.1f} ms/step, peak RSS {row['peak_rss_mb']:.0f} MB, "
              f"1-min load before/after {row['load_1min'][0]:.1f}/{row['load_1min'][1]:.1f}", file=sys.stderr)
    encoder = {"skipped": "--joyvasa (JoyVASA rows include their own encoder)"} if args.joyvasa else \
        {"skipped": "--no-encoder"} if args.no_encoder or args.quick else \
        _subprocess(["--encoder-worker", "--threads", str(args.threads)])
    print(to_markdown(rows, encoder))
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "encoder": encoder}, indent=1))


if __name__ == "__main__":
    main()
