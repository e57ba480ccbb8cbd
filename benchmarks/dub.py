"""Video dubbing (playmate_core.pipeline.dub): per-frame cost beside the image-to-video path, and peak RSS of a
10 s against a 60 s clip.

    python benchmarks/dub.py                  # the README table (about 20 minutes on 2 cores)
    python benchmarks/dub.py --quick          # tiny engine, a few frames: a smoke test of this script
    python benchmarks/dub.py --json out.json
    python benchmarks/dub.py --server .venv-ci   # the workflow through a fresh ComfyUI, 10 s and 60 s (peak RSS)

Input: the shipped sample's generator (tools/make_dub_sample.py: the astronaut photo moving, 384x384, 25 fps)
written at the clip's length, no cut-away, so every frame is rendered. Face engines: `tiny` (the demo models'
architecture) and `full` (LivePortrait's public architecture, 256 in, 512 out), random weights (timing and
memory do not depend on the values). Motion: the source's own pose with moving lips (N x 70), as a motion
backend would return it; its generation is not part of this benchmark (see benchmarks/motion.py).

Rows, each in a fresh subprocess (its peak RSS is its own), torch threads 2:
  cost   s/frame of the dub (pass 2 per output frame: decode, crop, F, M, W, G, paste-back) against Render
         Video's path (render_frames on a still source: W, G, paste-back), frame by frame in turn in one
         process, median after a warm-up frame; plus pass 1 per source frame (decode + MediaPipe + tracking)
         and the H.264 + AAC encode per frame (the same writer for both)
  memory dub_video of a 10 s and a 60 s clip with audio of the same length (policy trim), output at a low fps so
         the CPU run stays short (every source frame still goes through pass 1); peak RSS and its ratio
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
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SR = 16000


def _engine(kind: str):
    import torch
    from playmate_core import FaceEngine, FaceEngineConfig, build_face_modules
    torch.manual_seed(0)
    cfg = FaceEngineConfig.tiny() if kind == "tiny" else FaceEngineConfig.liveportrait()
    return FaceEngine(build_face_modules(cfg), cfg)


def _clip(path: Path, seconds: float) -> Path:
    sys.path.insert(0, str(ROOT / "tools"))
    import make_dub_sample
    make_dub_sample.CUTAWAY_S = (-1.0, -1.0)                  # no cut-away: every frame has the face
    return make_dub_sample.write_sample(path, seconds=seconds, fps=25, crf=23)


def _motion(source, seconds: float, fps: float):
    import torch
    from playmate_core.motion import MotionSequence
    from playmate_core.motion.sequence import frame_count
    n = frame_count(int(seconds * SR), fps, SR)
    values = source.vector()[None].repeat(n, 1)
    values[:, 18:21] += 0.03 * torch.sin(torch.arange(n) * 0.7)[:, None]          # lip keypoint 6 moves
    return MotionSequence(values=values, kp=source.kp, fps=fps, trained=True)


def _audio(seconds: float):
    t = np.arange(int(seconds * SR)) / SR
    return (0.2 * np.sin(2 * np.pi * 220 * t))[None].astype(np.float32), SR


def cost_worker(engine_kind: str, frames: int, threads: int) -> dict:
    """s/frame of both paths on one engine, frame by frame in turn (so a busy machine slows both alike):
    the dub's frame k, then Render Video's frame k, ...; frame 0 of each is a warm-up and not counted.
    Timed: producing the frame (decode, crop, F, M, W, G, paste-back for the dub; W, G, paste-back for the
    image path), not the H.264 encode (the same writer serves both; timed once, per frame, below)."""
    import torch
    torch.set_num_threads(threads)
    from playmate_core.crop import FaceCropper
    from playmate_core.pipeline import prepare_source, render_frames
    from playmate_core.pipeline.dub import DubOptions, dub_frames, video_face_source
    from playmate_core.pipeline.dub_plan import analyse_video
    from playmate_core.pipeline.video_file import write_video
    engine, cropper = _engine(engine_kind), FaceCropper()
    times = {"dub": [], "image": []}
    with tempfile.TemporaryDirectory() as tmp:
        seconds = (frames + 1) / 25
        clip = _clip(Path(tmp) / "clip.mp4", seconds)
        source = video_face_source(engine, cropper, clip)
        motion, audio = _motion(source, seconds, 25.0), _audio(seconds)
        t0 = time.perf_counter()
        plan = analyse_video(cropper, clip)
        analysis = (time.perf_counter() - t0) / plan.frames
        dub, _ = dub_frames(engine, cropper, clip, motion, audio[0].shape[1], SR, DubOptions("trim"), plan=plan)
        image = render_frames(engine, prepare_source(engine, cropper, source.image), motion)
        kept = []
        for _ in range(frames + 1):
            for name, gen in (("dub", dub), ("image", image)):
                t0 = time.perf_counter()
                frame = next(gen)
                times[name].append(time.perf_counter() - t0)
            kept.append(frame)
        t0 = time.perf_counter()
        write_video(Path(tmp) / "out.mp4", kept, 25, audio=audio)
        encode = (time.perf_counter() - t0) / len(kept)
    dub_s, image_s = (statistics.median(times[k][1:]) for k in ("dub", "image"))
    return {"row": "cost", "engine": engine_kind, "frames": frames, "dub_s_per_frame": dub_s,
            "image_s_per_frame": image_s, "ratio": dub_s / image_s, "dub_min": min(times["dub"][1:]),
            "image_min": min(times["image"][1:]), "analysis_s_per_source_frame": analysis,
            "encode_s_per_frame": encode, "size": list(plan.size), "load_1min": os.getloadavg()[0],
            "spread": float(np.std(np.array(times["dub"][1:]) / np.array(times["image"][1:])))}


def memory_worker(engine_kind: str, seconds: float, out_fps: float, threads: int) -> dict:
    """dub_video of a `seconds` clip at out_fps; peak RSS of this process."""
    import torch
    torch.set_num_threads(threads)
    from playmate_core.crop import FaceCropper
    from playmate_core.pipeline.dub import DubOptions, dub_video, video_face_source
    engine, cropper = _engine(engine_kind), FaceCropper()
    with tempfile.TemporaryDirectory() as tmp:
        clip = _clip(Path(tmp) / "clip.mp4", seconds)
        source = video_face_source(engine, cropper, clip)
        t0 = time.perf_counter()
        info = dub_video(Path(tmp) / "out.mp4", engine, cropper, clip, _motion(source, seconds, out_fps),
                         _audio(seconds), DubOptions("trim", fps=out_fps))
        wall = time.perf_counter() - t0
    return {"row": "memory", "engine": engine_kind, "seconds": seconds, "fps": out_fps, "frames": info["frames"],
            "source_frames": info["source_frames"], "wall_s": wall,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "load_1min": os.getloadavg()[0]}


def server_row(seconds: float, out_fps: float, venv: Path, work: Path) -> dict:
    """The shipped dub workflow through a FRESH headless ComfyUI (tiny demo models, --cache-none) on a `seconds`
    clip with speech of the same length (benchmarks/e2e.py's speech), policy trim, Audio To Motion and Dub at
    out_fps, 5 steps; the server's peak RSS (VmHWM) belongs to this one prompt."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("playmate_bench_e2e", ROOT / "benchmarks" / "e2e.py")
    e2e = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(e2e)
    base = work / f"dub-{seconds:g}s"
    subprocess.run([str(venv / "bin" / "python"), str(ROOT / "tools" / "make_demo_models.py"), "--models-dir",
                    str(base / "models")], check=True, capture_output=True)
    clip = _clip(base / f"dub_{seconds:g}s.mp4", seconds)
    wf = json.loads((ROOT / "workflows" / "api" / "dub_video_api.json").read_text())
    wf["1"]["inputs"]["file"], wf["2"]["inputs"]["audio"] = clip.name, f"speech_{seconds:g}s.wav"
    wf["5"]["inputs"].update(fps=out_fps, steps=5)
    wf["6"]["inputs"].update(fps=out_fps, policy="trim")
    with e2e.ComfyServer(base, venv=venv, extra_args=["--cache-none"]).start() as srv:
        client = e2e.ComfyClient(srv.url, timeout=120)
        client.upload(clip)
        client.upload(e2e.speech(seconds, base / f"speech_{seconds:g}s.wav"))
        result = client.run(wf, timeout=6 * 3600)
        if result.status != "success":
            raise RuntimeError(f"dub {seconds}s: {result.status}: {result.error}\n{srv.log_tail()}")
        rss = e2e.peak_rss_mb(srv.pid)
    return {"row": "server", "engine": "tiny (demo models)", "seconds": seconds, "fps": out_fps,
            "frames": int(np.ceil(seconds * out_fps - 1e-9)), "wall_s": round(result.elapsed_s, 1),
            "peak_rss_mb": round(rss), "load_1min": os.getloadavg()[0]}


def run_row(kind: str, args: list, timeout: float) -> dict:
    cmd = [sys.executable, __file__, "--worker", json.dumps([kind, *args])]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": str(args[-1])}
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"row": kind, "args": args, "error": f"timed out after {timeout:.0f} s"}
    if done.returncode != 0:
        return {"row": kind, "args": args, "error": done.stderr.strip().splitlines()[-1:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def plan_rows(quick: bool, threads: int, groups: set, repeats: int) -> list:
    """Rows of the groups asked for: cost, memory-tiny, memory-full (each memory row `repeats` times: the peak
    of one run includes transient peaks inside W that vary from run to run)."""
    if quick:
        return [("cost", ["tiny", 2, threads]), ("memory", ["tiny", 1.0, 2.5, threads]),
                ("memory", ["tiny", 2.0, 2.5, threads])]
    rows = [("cost", ["tiny", 12, threads]), ("cost", ["full", 8, threads])] if "cost" in groups else []
    for engine, fps in (("tiny", 2.5), ("full", 1.0)):
        if f"memory-{engine}" in groups:
            rows += [("memory", [engine, s, fps, threads]) for _ in range(repeats) for s in (10.0, 60.0)]
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--rows", default="cost,memory-tiny,memory-full", help="groups to run (comma-separated)")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each memory row")
    parser.add_argument("--server", type=Path, metavar="VENV",
                        help="instead: the dub workflow through a fresh ComfyUI from this venv, 10 s and 60 s")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        kind, *rest = json.loads(args.worker)
        print(json.dumps((cost_worker if kind == "cost" else memory_worker)(*rest)))
        return
    machine = (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
               f"Python {platform.python_version()}")
    results = []
    if args.server:
        with tempfile.TemporaryDirectory() as work:
            for seconds in ((1.0, 2.0) if args.quick else (10.0, 60.0)):
                results.append(server_row(seconds, 2.5, args.server.resolve(), Path(work)))
                print(json.dumps(results[-1]), flush=True)
        mem = {r["seconds"]: r["peak_rss_mb"] for r in results}
        print(f"server: peak RSS {max(mem):g} s / {min(mem):g} s = {mem[max(mem)] / mem[min(mem)]:.3f}x")
        if args.json:
            args.json.write_text(json.dumps({"machine": machine, "rows": results}, indent=1))
        return
    for kind, row_args in plan_rows(args.quick, args.threads, set(args.rows.split(",")), args.repeats):
        result = run_row(kind, row_args, timeout=3600)
        results.append(result)
        print(json.dumps(result), flush=True)
    for engine in ("tiny", "full"):
        mem = [r for r in results if r.get("row") == "memory" and r.get("engine") == engine and "peak_rss_mb" in r]
        by_len = {s: [r["peak_rss_mb"] for r in mem if r["seconds"] == s] for s in (10.0, 60.0)}
        if all(by_len.values()):
            print(f"{engine}: peak RSS 10 s {by_len[10.0]} MB, 60 s {by_len[60.0]} MB; worst 60 s / best 10 s = "
                  f"{max(by_len[60.0]) / min(by_len[10.0]):.3f}x")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine, "rows": results}, indent=1))


if __name__ == "__main__":
    main()
