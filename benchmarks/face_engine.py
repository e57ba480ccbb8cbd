"""Per-frame CPU/GPU time and peak RSS of the face engine: F, M, W+G (256 in, 512 out), stitching.

    python benchmarks/face_engine.py                       # ours, random full-size weights
    python benchmarks/face_engine.py --reference-root ../LivePortrait   # + the reference, same run

Both implementations load the SAME weight files (official .pth layout; random full-size weights
are written to a temporary folder unless --weights is given) and get the same inputs. Every
(implementation, step, batch) runs in a fresh subprocess, so its peak RSS is its own (model +
activations + interpreter). One warm-up call, then median and minimum over --repeats calls
(stitching: 200 calls). fp32, torch threads = --threads (default: all cores).

The reference is imported from a LivePortrait checkout you point at (KwaiVGI/LivePortrait; it
needs pyyaml); nothing of it is part of this repository.
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

ROOT = Path(__file__).resolve().parents[1]
STEPS = ("F", "M", "W+G", "stitching")
REF_FILES = {"appearance_feature_extractor": "base_models/appearance_feature_extractor.pth",
             "motion_extractor": "base_models/motion_extractor.pth",
             "warping_module": "base_models/warping_module.pth",
             "spade_generator": "base_models/spade_generator.pth",
             "stitching_retargeting_module": "retargeting_models/stitching_retargeting_module.pth"}


def write_random_weights(folder: Path) -> None:
    sys.path.insert(0, str(ROOT))
    import torch
    from playmate_core import FaceEngineConfig, build_face_modules, save_weights
    torch.manual_seed(0)
    save_weights(build_face_modules(FaceEngineConfig.liveportrait()), folder, "official")


def _ours(weights: str, device: str):
    sys.path.insert(0, str(ROOT))
    from playmate_core import load_face_engine
    eng = load_face_engine(weights, device=device)
    return {"F": eng.extract_appearance, "M": eng.extract_motion, "W+G": eng.warp_decode,
            "stitching": eng.stitch, "transform": eng.transform_keypoints}


def _reference(weights: str, ref_root: str, device: str):
    """The reference wrapper's own methods, bound to an instance holding its own loaded modules."""
    sys.path.insert(0, ref_root)
    import yaml
    from src.config.inference_config import InferenceConfig
    from src.live_portrait_wrapper import LivePortraitWrapper
    from src.utils.helper import load_model
    cfg_path = os.path.join(ref_root, "src/config/models.yaml")
    model_config = yaml.safe_load(open(cfg_path))
    w = LivePortraitWrapper.__new__(LivePortraitWrapper)
    w.inference_cfg = InferenceConfig(models_config=cfg_path, flag_use_half_precision=False,
                                      flag_force_cpu=device == "cpu", flag_do_torch_compile=False)
    w.device, w.compile = device, False
    for name, rel in REF_FILES.items():
        setattr(w, name, load_model(os.path.join(weights, rel), model_config, device, name))
    return {"F": w.extract_feature_3d, "M": w.get_kp_info, "W+G": w.warp_decode,
            "stitching": w.stitching, "transform": w.transform_keypoint}


def _sync(device: str) -> None:
    import torch
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def worker(impl: str, step: str, batch: int, repeats: int, args) -> dict:
    import torch
    torch.set_num_threads(args.threads)
    fns = _ours(args.weights, args.device) if impl == "ours" else _reference(args.weights, args.reference_root, args.device)
    g = torch.Generator().manual_seed(0)
    img = torch.rand(batch, 3, 256, 256, generator=g).to(args.device)
    with torch.no_grad():
        f_s = fns["F"](img[:1]).expand(batch, -1, -1, -1, -1).contiguous()
        x_s = fns["transform"](fns["M"](img[:1])).expand(batch, -1, -1).contiguous()
        x_d = x_s + 0.02 * torch.randn(x_s.shape, generator=g).to(args.device)
        call = {"F": lambda: fns["F"](img), "M": lambda: fns["M"](img),
                "W+G": lambda: fns["W+G"](f_s, x_s, x_d), "stitching": lambda: fns["stitching"](x_s, x_d)}[step]
        runs = 200 if step == "stitching" else repeats
        call()
        _sync(args.device)
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            call()
            _sync(args.device)
            times.append((time.perf_counter() - t0) * 1000.0)
    return {"impl": impl, "step": step, "batch": batch, "runs": runs,
            "median_ms": statistics.median(times) / batch, "min_ms": min(times) / batch,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
            "threads": torch.get_num_threads()}


def run_all(args) -> list:
    rows = []
    impls = ["ours"] + (["reference"] if args.reference_root else [])
    for batch in args.batch:
        for step in args.steps:
            for impl in impls:            # interleaved, so both see the same machine state
                cmd = [sys.executable, __file__, "--worker", impl, step, str(batch), "--weights", args.weights,
                       "--repeats", str(args.repeats), "--threads", str(args.threads), "--device", args.device]
                if args.reference_root:
                    cmd += ["--reference-root", args.reference_root]
                out = subprocess.run(cmd, capture_output=True, text=True, check=False)
                if out.returncode != 0:
                    raise RuntimeError(f"{impl} {step} batch {batch} failed:\n{out.stderr[-2000:]}")
                row = json.loads(out.stdout.strip().splitlines()[-1])
                rows.append(row)
                print(f"  {impl:9s} {step:9s} batch {batch}: {row['median_ms']:.3f} ms/frame "
                      f"(min {row['min_ms']:.3f}), peak RSS {row['peak_rss_mb']:.0f} MB", file=sys.stderr)
    return rows


def to_markdown(rows: list) -> str:
    ref = {(r["step"], r["batch"]): r for r in rows if r["impl"] == "reference"}
    lines = ["| step | batch | ours ms/frame (median / min) | reference ms/frame (median / min) | ratio of minima "
             "| ours peak RSS MB | reference peak RSS MB |", "|---|---|---|---|---|---|---|"]
    for r in (r for r in rows if r["impl"] == "ours"):
        digits = 3 if r["step"] == "stitching" else 1
        o = ref.get((r["step"], r["batch"]))
        cells = [r["step"], str(r["batch"]), f"{r['median_ms']:.{digits}f} / {r['min_ms']:.{digits}f}"]
        if o:
            cells += [f"{o['median_ms']:.{digits}f} / {o['min_ms']:.{digits}f}", f"{r['min_ms'] / o['min_ms']:.2f}x"]
        else:
            cells += ["-", "-"]
        cells += [f"{r['peak_rss_mb']:.0f}", f"{o['peak_rss_mb']:.0f}" if o else "-"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", help="LivePortrait weights in the official layout (default: random, temporary)")
    p.add_argument("--reference-root", help="a KwaiVGI/LivePortrait checkout, to time the reference in the same run")
    p.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    p.add_argument("--steps", nargs="+", default=list(STEPS), choices=STEPS)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", help="also write the rows here")
    p.add_argument("--worker", nargs=3, metavar=("IMPL", "STEP", "BATCH"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        impl, step, batch = args.worker
        print(json.dumps(worker(impl, step, int(batch), args.repeats, args)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        if not args.weights:
            args.weights = tmp
            write_random_weights(Path(tmp))
        import torch
        print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch "
              f"{torch.__version__}, threads {args.threads}, device {args.device}, fp32", file=sys.stderr)
        rows = run_all(args)
    print(to_markdown(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
