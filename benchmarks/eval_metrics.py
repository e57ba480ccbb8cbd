"""Cost of each Table-1 metric (playmate_core.eval) on this machine, per frame / clip / video second.

    python benchmarks/eval_metrics.py            # full-size networks, random weights (a few minutes on 2 cores)
    python benchmarks/eval_metrics.py --quick    # fewer frames: a smoke test of this script

The networks are built at their public sizes with random weights (compute does not depend on the
values) and run in eval mode, float32, on CPU. Each row runs in a fresh subprocess so its peak RSS is
its own (interpreter + network + activations). Inputs are the astronaut portrait (skimage) resized to
512 x 512 (a typical paste-back output), and 16 kHz noise as audio for SyncNet.

    FID        Inception-v3 pool3 features, frames resized to 299                per frame
    FVD        I3D logits of 16-frame clips at 224                                per clip
    Sync crop  MediaPipe face-mesh box per frame + smoothed 224 crops            per frame
    Sync-C/D   SyncNet embeddings + MFCC + 31-offset search on 224 crops         per video second
    CSIM       five points (MediaPipe) + alignment + IResNet-100 embedding       per frame
    LPIPS      AlexNet v0.1 on 512 x 512 pairs                                   per frame
    Frechet    distance between two 2048-d Gaussians (FID's last step)           per call
"""
from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROWS = ("FID", "FVD", "Sync crop", "Sync-C/D", "CSIM", "LPIPS", "Frechet")


def _frames(n: int, size: int = 512):
    import cv2
    import numpy as np
    from skimage.data import astronaut
    img = cv2.resize(astronaut(), (size, size), interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(0)
    return np.stack([np.clip(img.astype(np.int16) + rng.integers(-3, 4, img.shape), 0, 255).astype(np.uint8)
                     for _ in range(n)])


def _timed(fn, repeats: int = 1) -> float:
    fn()                                                                      # warm-up
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - t0) / repeats


def run_row(name: str, quick: bool) -> dict:
    """Time one metric in this process -> {seconds, unit, per}."""
    import numpy as np
    import torch
    sys.path.insert(0, str(ROOT))
    from playmate_core.eval import arcface, face_align, frechet, i3d, inception, lpips, sync_eval, syncnet
    n = 4 if quick else 16
    with torch.no_grad():
        if name == "FID":
            model, frames = inception.InceptionV3FID().eval(), _frames(n)
            s = _timed(lambda: inception.inception_features(model, frames, batch=n))
            return {"seconds": s / n, "unit": "s/frame", "detail": f"{n} frames 512² -> 299²"}
        if name == "FVD":
            model, clips = i3d.InceptionI3D().eval(), _frames(16, 224)[None].repeat(2 if not quick else 1, 0)
            s = _timed(lambda: i3d.i3d_features(model, clips))
            return {"seconds": s / len(clips), "unit": "s/clip", "detail": f"{len(clips)} clips of 16 x 224²"}
        if name == "Sync crop":
            frames = _frames(n)
            s = _timed(lambda: sync_eval.face_crops_for_sync(frames))
            return {"seconds": s / n, "unit": "s/frame", "detail": f"{n} frames 512², MediaPipe face mesh"}
        if name == "Sync-C/D":
            model, seconds = syncnet.SyncNet().eval(), 2.0 if quick else 4.0
            faces = _frames(int(seconds * 25), 224)
            wave = np.random.default_rng(0).normal(0, 0.1, int(seconds * 16000)).astype(np.float32)
            s = _timed(lambda: sync_eval.sync_scores(model, faces, wave, 16000))
            return {"seconds": s / seconds, "unit": "s/video s", "detail": f"{seconds:.0f} s at 25 fps, vshift 15"}
        if name == "CSIM":
            model, frames = arcface.IResNet(arcface.IRESNET_PRESETS["r100"]).eval(), _frames(n)
            s = _timed(lambda: face_align.csim(model, frames[0], frames))
            return {"seconds": s / n, "unit": "s/frame", "detail": f"{n} frames 512², IResNet-100"}
        if name == "LPIPS":
            model, a = lpips.LPIPS().eval(), _frames(n)
            b = np.ascontiguousarray(a[:, :, ::-1])
            s = _timed(lambda: lpips.lpips_distance(model, a, b))
            return {"seconds": s / n, "unit": "s/frame", "detail": f"{n} pairs 512²"}
        if name == "Frechet":
            rng = np.random.default_rng(0)
            x, y = rng.normal(size=(2500, 2048)), rng.normal(size=(2500, 2048)) + 0.1
            (m1, s1), (m2, s2) = frechet.feature_stats(x), frechet.feature_stats(y)
            s = _timed(lambda: frechet.frechet_distance(m1, s1, m2, s2))
            return {"seconds": s, "unit": "s/call", "detail": "D = 2048"}
    raise ValueError(f"unknown row {name!r}; choose from {ROWS}")


def main(argv=None) -> list:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer frames (smoke test)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rows", nargs="*", default=list(ROWS), choices=ROWS)
    p.add_argument("--json", help="write the rows here")
    p.add_argument("--row", help=argparse.SUPPRESS)                          # child process
    args = p.parse_args(argv)
    if args.row:
        import torch
        torch.set_num_threads(args.threads)
        out = run_row(args.row, args.quick)
        out["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
        print("ROW " + json.dumps(out))
        return [out]
    rows = []
    for name in args.rows:
        cmd = [sys.executable, __file__, "--row", name, "--threads", str(args.threads)] + (["--quick"] if args.quick else [])
        res = subprocess.run(cmd, capture_output=True, text=True)
        line = [ln for ln in res.stdout.splitlines() if ln.startswith("ROW ")]
        if res.returncode or not line:
            sys.exit(f"row {name} failed:\n{res.stderr[-3000:]}")
        rows.append({"metric": name, **json.loads(line[-1][4:])})
    print(f"\nmetric costs, CPU {platform.processor() or platform.machine()}, {args.threads} threads, float32, "
          f"random weights at public sizes\n")
    print("| metric | time | unit | peak RSS | input |\n|---|---:|---|---:|---|")
    for r in rows:
        print(f"| {r['metric']} | {r['seconds']:.3f} | {r['unit']} | {r['peak_rss_gb']:.2f} GB | {r['detail']} |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return rows


if __name__ == "__main__":
    main()
