"""Stage 0: fine-tune LivePortrait's face space (F, M, W, G) on prepared crops (issue 5, item 2).

    python -m trainer.stage0_face --data PREPARED --out OUT --liveportrait LP_DIR --vgg19 vgg19-dcbb9e9d.pth \
        [--steps 20000] [--batch 4] [--lr 1e-5] [--layout safetensors] [--device auto]
    python -m trainer.stage0_face --data PREPARED --out OUT --tiny --steps 3      # random tiny modules (tests)

Data: `--data` is a prepare_data output made with `--save-crops` (crops/<id>.safetensors, "frames"
(N,256,256,3) uint8). Each step draws, per batch item, one clip and two distinct frames of it
(source, driving: same identity). Losses and their exact formulation: trainer/losses_face.py.
The stitching/retargeting MLP is not trained; it is copied unchanged so the output folder is a
complete face engine: load_face_engine(OUT) (with config=FaceEngineConfig.tiny() for --tiny).
Single process only (no DDP/torchrun support yet).
"""
from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import time
from pathlib import Path

import torch

from .losses_face import face_losses

log = logging.getLogger("playmate.trainer")

SLOTS = {"F": "appearance_feature_extractor", "M": "motion_extractor", "W": "warping_module", "G": "spade_generator"}


class CropPairs:
    """Prepared clips with saved crops -> random (source, driving) pairs from one clip."""

    def __init__(self, data: Path, seed: int = 0, cache: int = 8):
        manifest = data / "manifest.jsonl"
        if not manifest.is_file():
            raise FileNotFoundError(f"'{manifest}' not found; run `python -m trainer.prepare_data --save-crops "
                                    f"--out {data} ...` first.")
        entries = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
        self.entries = [e for e in entries if e.get("crops") and (data / e["crops"]).is_file()]
        if not self.entries:
            raise FileNotFoundError(f"no clip in '{manifest}' has saved crops; prepare the data again with "
                                    f"--save-crops (it resumes and only adds the crops).")
        self.data, self.rng, self.cache, self._loaded = data, random.Random(seed), cache, {}
        log.info("stage 0 data: %d clips with crops (of %d)", len(self.entries), len(entries))

    def frames(self, entry: dict) -> torch.Tensor:
        key = entry["clip_id"]
        if key not in self._loaded:
            from safetensors.torch import load_file
            if len(self._loaded) >= self.cache:
                self._loaded.pop(next(iter(self._loaded)))
            self._loaded[key] = load_file(str(self.data / entry["crops"]))["frames"]   # (N,256,256,3) uint8
        return self._loaded[key]

    def batch(self, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        src, drv = [], []
        for _ in range(size):
            frames = self.frames(self.rng.choice(self.entries))
            i, j = self.rng.sample(range(frames.shape[0]), 2)
            src.append(frames[i])
            drv.append(frames[j])
        to = lambda xs: torch.stack(xs).permute(0, 3, 1, 2).float().div(255.0)         # (B,3,256,256)
        return to(src), to(drv)


def load_modules(args) -> tuple[dict, object]:
    from playmate_core import FaceEngineConfig, build_face_modules, load_face_modules
    cfg = FaceEngineConfig.tiny() if args.tiny else FaceEngineConfig.liveportrait()
    if args.liveportrait:
        modules, _ = load_face_modules(args.liveportrait, cfg)
    elif args.tiny:
        torch.manual_seed(args.seed)
        modules = build_face_modules(cfg)
        log.warning("stage 0: random tiny modules (--tiny without --liveportrait): for tests only")
    else:
        raise SystemExit("stage0_face needs --liveportrait (the public LivePortrait weights folder), or --tiny")
    return modules, cfg


def train(args) -> Path:
    from playmate_core import save_weights
    from .vgg19 import load_vgg19
    data = Path(args.data)
    vgg = load_vgg19(args.vgg19) if args.vgg19 else None      # check files before building anything big
    if vgg is None:
        log.warning("no --vgg19: training without the perceptual loss")
    pairs = CropPairs(data, args.seed)
    modules, _ = load_modules(args)
    device = torch.device(args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu"))
    nets = {k: modules[slot].to(device).train().requires_grad_(True) for k, slot in SLOTS.items()}
    if vgg is not None:
        vgg = vgg.to(device)
    params = [p for net in nets.values() for p in net.parameters()]
    opt = torch.optim.Adam(params, lr=args.lr, betas=(0.5, 0.999))
    out = Path(args.out)
    weights = {"rec": args.w_rec, "perc": args.w_perc, "pose": args.w_transfer, "exp": args.w_transfer}
    t0, history = time.time(), []
    for step in range(1, args.steps + 1):
        src, drv = (x.to(device) for x in pairs.batch(args.batch))
        transfer = args.w_transfer > 0 and step % args.transfer_every == 0
        losses = face_losses(nets, src, drv, vgg, transfer=transfer)
        total = sum(weights[k] * v for k, v in losses.items())
        if not torch.isfinite(total.detach()):
            raise FloatingPointError(f"stage 0: loss is {total.item()} at step {step}; lower --lr")
        opt.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(params, args.clip)
        opt.step()
        row = {"step": step, "total": total.item(), **{k: v.item() for k, v in losses.items()}}
        history.append(row)
        if step % args.log_every == 0 or step == 1:
            log.info("step %d: %s (%.1f s)", step, " ".join(f"{k}={v:.4f}" for k, v in row.items() if k != "step"),
                     time.time() - t0)
        if step % args.save_every == 0 or step == args.steps:
            save(modules, out, args.layout, save_weights)
    (out / "stage0_log.json").write_text(json.dumps({"args": vars(args), "history": history}, indent=1))
    return out


def save(modules: dict, out: Path, layout: str, save_weights) -> None:
    """All five slots (stitching unchanged) in `layout`, so load_face_engine(out) reads the folder."""
    cpu = {slot: m for slot, m in modules.items()}
    training = {slot: m.training for slot, m in cpu.items()}
    for m in cpu.values():
        m.eval()
    save_weights(cpu, out, layout)
    for slot, m in cpu.items():
        m.train(training[slot])
    log.info("face weights saved to %s (%s layout)", out, layout)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m trainer.stage0_face", description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True, help="prepare_data output made with --save-crops")
    p.add_argument("--out", required=True, help="output folder for the fine-tuned face weights")
    p.add_argument("--liveportrait", help="LivePortrait weights folder to start from")
    p.add_argument("--vgg19", help="torchvision vgg19-dcbb9e9d.pth (perceptual loss; off without it)")
    p.add_argument("--steps", type=int, default=20000)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--lr", type=float, default=1e-5)
    p.add_argument("--clip", type=float, default=1.0, help="gradient-norm clip")
    p.add_argument("--w-rec", type=float, default=1.0)
    p.add_argument("--w-perc", type=float, default=1.0)
    p.add_argument("--w-transfer", type=float, default=1.0, help="pose/expression transfer loss (0 = off)")
    p.add_argument("--transfer-every", type=int, default=1,
                   help="compute the transfer loss every K steps (it costs 2 more renders and 2 M passes)")
    p.add_argument("--layout", choices=("safetensors", "official"), default="safetensors")
    p.add_argument("--save-every", type=int, default=1000)
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tiny", action="store_true", help="tiny architecture (tests); random if no --liveportrait")
    return p


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    args = parser().parse_args(argv)
    for name in ("steps", "batch", "save_every", "log_every", "transfer_every"):
        if getattr(args, name) < 1:
            raise SystemExit(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    train(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
