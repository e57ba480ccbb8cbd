"""Stage 0: fine-tune LivePortrait's face space (F, M, W, G) on prepared crops (issue 5, item 2).

    python -m trainer.stage0_face --data PREPARED --out OUT --liveportrait LP_DIR --vgg19 vgg19-dcbb9e9d.pth \
        [--steps 20000] [--batch 4] [--lr 1e-5] [--layout safetensors] [--device auto]
    python -m trainer.stage0_face --data PREPARED --out OUT --tiny --steps 3      # random tiny modules (tests)

Data: `--data` is a prepare_data output made with `--save-crops` (crops/<id>.safetensors, "frames"
(N,256,256,3) uint8). Each step draws, per batch item, one clip and two distinct frames of it
(source, driving: same identity). Losses and their exact formulation: trainer/losses_face.py.
The stitching/retargeting MLP is not trained; it is copied unchanged so the output folder is a
complete face engine: load_face_engine(OUT) (with config=FaceEngineConfig.tiny() for --tiny).
Multi-GPU / multi-node: launch the same command under `torchrun --nproc_per_node N` (NCCL on CUDA,
gloo on CPU). F, M, W and G sit in one module wrapped in DistributedDataParallel; each rank draws its
pairs from its own share of the clips with its own seed; only rank 0 logs and writes weights.
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
from torch import nn

from .common import all_mean, cleanup_distributed, item_seed, setup_distributed
from .losses_face import face_losses

log = logging.getLogger("playmate.trainer")

SLOTS = {"F": "appearance_feature_extractor", "M": "motion_extractor", "W": "warping_module", "G": "spade_generator"}


class CropPairs:
    """Prepared clips with saved crops -> random (source, driving) pairs from one clip.

    Under DDP, rank r of `world` draws from clips r, r + world, ... (all clips when there are fewer
    clips than ranks) with its own seed: the distributed sampler of this random-pair stage."""

    def __init__(self, data: Path, seed: int = 0, cache: int = 8, rank: int = 0, world: int = 1):
        manifest = data / "manifest.jsonl"
        if not manifest.is_file():
            raise FileNotFoundError(f"'{manifest}' not found; run `python -m trainer.prepare_data --save-crops "
                                    f"--out {data} ...` first.")
        entries = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
        self.entries = [e for e in entries if e.get("crops") and (data / e["crops"]).is_file()]
        if not self.entries:
            raise FileNotFoundError(f"no clip in '{manifest}' has saved crops; prepare the data again with "
                                    f"--save-crops (it resumes and only adds the crops).")
        if world > 1 and len(self.entries) >= world:
            self.entries = self.entries[rank::world]
        self.data, self.rng, self.cache, self._loaded = data, random.Random(item_seed(seed, rank)), cache, {}
        log.info("stage 0 data: %d clips with crops (of %d) on rank %d/%d", len(self.entries), len(entries), rank,
                 world)

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


class FaceSpace(nn.Module):
    """F, M, W, G as one module whose forward returns the stage-0 losses (one DDP forward per step).
    The frozen VGG19 is held outside the module tree, so DDP neither syncs nor checks it."""

    def __init__(self, nets: dict, vgg=None):
        super().__init__()
        self.nets = nn.ModuleDict(nets)
        self._vgg = [vgg]

    def forward(self, src: torch.Tensor, drv: torch.Tensor, transfer: bool) -> dict:
        return face_losses(self.nets, src, drv, self._vgg[0], transfer=transfer)


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
    dist = setup_distributed(args.device)
    if not dist.main:
        log.setLevel(logging.WARNING)
    pairs = CropPairs(data, args.seed, rank=dist.rank, world=dist.world)
    torch.manual_seed(args.seed)                                 # the same initial weights on every rank
    modules, _ = load_modules(args)
    device = dist.device
    nets = {k: modules[slot].to(device).train().requires_grad_(True) for k, slot in SLOTS.items()}
    if vgg is not None:
        vgg = vgg.to(device)
    space = FaceSpace(nets, vgg)
    net = space
    if dist.enabled:
        net = nn.parallel.DistributedDataParallel(space, device_ids=[device.index] if device.type == "cuda" else None)
    params = [p for p in space.parameters()]
    opt = torch.optim.Adam(params, lr=args.lr, betas=(0.5, 0.999))
    out = Path(args.out)
    weights = {"rec": args.w_rec, "perc": args.w_perc, "pose": args.w_transfer, "exp": args.w_transfer}
    t0, history = time.time(), []
    for step in range(1, args.steps + 1):
        src, drv = (x.to(device) for x in pairs.batch(args.batch))
        transfer = args.w_transfer > 0 and step % args.transfer_every == 0
        losses = net(src, drv, transfer)
        total = sum(weights[k] * v for k, v in losses.items())
        mean_total = all_mean(total, dist)                       # NaN on any rank stops every rank
        if not torch.isfinite(mean_total):
            raise FloatingPointError(f"stage 0: loss is {mean_total.item()} at step {step}; lower --lr")
        opt.zero_grad(set_to_none=True)
        total.backward()                                         # DDP averages the gradients over ranks
        torch.nn.utils.clip_grad_norm_(params, args.clip)
        opt.step()
        row = {"step": step, "total": mean_total.item(), **{k: all_mean(v, dist).item() for k, v in losses.items()}}
        history.append(row)
        if step % args.log_every == 0 or step == 1:
            log.info("step %d: %s (%.1f s)", step, " ".join(f"{k}={v:.4f}" for k, v in row.items() if k != "step"),
                     time.time() - t0)
        if dist.main and (step % args.save_every == 0 or step == args.steps):
            save(modules, out, args.layout, save_weights)
    cleanup_distributed(dist)
    if not dist.main:
        return out
    (out / "stage0_log.json").write_text(json.dumps({"args": vars(args), "world_size": dist.world,
                                                     "history": history}, indent=1))
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
