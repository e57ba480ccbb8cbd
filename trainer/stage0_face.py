"""Stage 0: fine-tune LivePortrait's face space (F, M, W, G) on prepared crops (issue 5, item 2).

    python -m trainer.stage0_face --data PREPARED --out OUT --liveportrait LP_DIR --vgg19 vgg19-dcbb9e9d.pth \
        [--steps 20000] [--batch 4] [--lr 1e-5] [--layout safetensors] [--device auto]
    python -m trainer.stage0_face --data PREPARED --out OUT --tiny --no-perceptual --steps 3   # tests only

Resumes when OUT/train_state.pt exists (modules, Adam state, step, per-rank RNG states: the same pair
and loss sequence as an uninterrupted run); a changed option is refused unless --allow-config-change.
SIGINT / SIGTERM finish the step, save the state and the weights at it, and exit with 128 + signal.

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

from .common import all_mean, cleanup_distributed, gather_objects, item_seed, setup_distributed
from .crops_store import CropReader
from .losses_face import face_losses
from .run_record import config_changes, format_changes, write_launch
from .stopping import StopRequest

log = logging.getLogger("playmate.trainer")

SLOTS = {"F": "appearance_feature_extractor", "M": "motion_extractor", "W": "warping_module", "G": "spade_generator"}


class CropPairs:
    """Prepared clips with saved crops -> random (source, driving) pairs from one clip (one kept segment).

    Under DDP, rank r of `world` draws from clips r, r + world, ... (all clips when there are fewer
    clips than ranks) with its own seed: the distributed sampler of this random-pair stage. The draws
    come from `self.rng` alone, so saving its state resumes the same pair sequence."""

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

    def reader(self, entry: dict) -> CropReader:
        key = entry["crops"]
        if key not in self._loaded:
            if len(self._loaded) >= self.cache:
                self._loaded.pop(next(iter(self._loaded)))
            self._loaded[key] = CropReader(self.data / key)
        return self._loaded[key]

    def batch(self, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        src, drv = [], []
        for _ in range(size):
            entry = self.rng.choice(self.entries)
            crops = self.reader(entry)
            lo, hi = entry.get("crop_range", (0, len(crops)))
            i, j = self.rng.sample(range(lo, hi), 2)
            src.append(torch.from_numpy(crops[i]))
            drv.append(torch.from_numpy(crops[j]))
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


STATE_FILE, STATE_FORMAT = "train_state.pt", "playmate-stage0-state-1"
RESUME_FREE = ("steps", "log_every", "save_every", "device", "allow_config_change")


def _resume(out: Path, args, dist, nets: dict, opt, pairs) -> tuple[int, list]:
    """Load out/train_state.pt when it exists (refusing a changed configuration) -> (step, history)."""
    path = out / STATE_FILE
    if not all(gather_objects(path.is_file(), dist)):
        return 0, []
    state = torch.load(path, map_location="cpu", weights_only=True)
    if state.get("format") != STATE_FORMAT:
        raise SystemExit(f"'{path}' is not a stage-0 training state; use an empty --out folder for a new run")
    if state["world_size"] != dist.world:
        raise SystemExit(f"'{path}' was written by {state['world_size']} process(es), this run has {dist.world}; "
                         f"resume with the same number or use a new --out folder")
    changes = [c for c in config_changes(state["args"], vars(args)) if c[0] not in RESUME_FREE]
    if changes and not args.allow_config_change:
        raise SystemExit(f"resume refused: '{path}' was trained with other options: {format_changes(changes)}. Resume "
                         f"with the original options, use a new --out folder, or pass --allow-config-change")
    for key, before, after in changes:
        log.warning("option change on resume (--allow-config-change): %s %r -> %r", key, before, after)
    for k, net in nets.items():
        net.load_state_dict(state["modules"][k])
    opt.load_state_dict(state["optimizer"])
    for group in opt.param_groups:
        group["lr"] = args.lr
    rng = state["rng"][dist.rank]
    torch.set_rng_state(rng["torch"])
    pairs.rng.setstate((rng["pairs"][0], tuple(rng["pairs"][1]), rng["pairs"][2]))
    log.info("stage 0 resumed from '%s' at step %d", path, state["step"])
    return state["step"], state["history"]


def _save_state(out: Path, args, dist, nets: dict, opt, pairs, step: int, history: list, stop) -> None:
    rngs = gather_objects({"torch": torch.get_rng_state(), "pairs": pairs.rng.getstate()}, dist)
    if not dist.main:
        return
    state = {"format": STATE_FORMAT, "step": step, "args": vars(args), "world_size": dist.world, "rng": rngs,
             "modules": {k: net.state_dict() for k, net in nets.items()}, "optimizer": opt.state_dict(),
             "history": history, "stopped_by": stop.name}
    tmp = out / (STATE_FILE + ".tmp")
    torch.save(state, tmp)
    tmp.replace(out / STATE_FILE)


def train(args) -> dict:
    """Train (or resume) stage 0 -> {"step", "history", "interrupted", "exit_code"}."""
    from playmate_core import save_weights
    from .vgg19 import WHERE, load_vgg19
    if not args.vgg19 and not args.no_perceptual:
        raise SystemExit(f"stage 0 needs the VGG19 weights for its perceptual loss: pass --vgg19 with {WHERE}. "
                         f"(--no-perceptual trains without it, for debugging only: faces come out blurrier)")
    vgg = load_vgg19(args.vgg19) if args.vgg19 else None      # check files before building anything big
    dist = setup_distributed(args.device)
    if not dist.main:
        log.setLevel(logging.WARNING)
    data, out = Path(args.data), Path(args.out)
    pairs = CropPairs(data, args.seed, rank=dist.rank, world=dist.world)
    torch.manual_seed(args.seed)                                 # the same initial weights on every rank
    modules, _ = load_modules(args)
    device = dist.device
    nets = {k: modules[slot].to(device).train().requires_grad_(True) for k, slot in SLOTS.items()}
    space = FaceSpace(nets, vgg.to(device) if vgg is not None else None)
    net = space
    if dist.enabled:
        net = nn.parallel.DistributedDataParallel(space, device_ids=[device.index] if device.type == "cuda" else None)
    params = [p for p in space.parameters()]
    opt = torch.optim.Adam(params, lr=args.lr, betas=(0.5, 0.999))
    if dist.main:
        out.mkdir(parents=True, exist_ok=True)
    start, history = _resume(out, args, dist, nets, opt, pairs)
    write_launch(out, "stage0_face", _Args(args), dist, {"path": str(data.resolve())}, start or None, [],
                 {"seed": args.seed})
    weights = {"rec": args.w_rec, "perc": args.w_perc, "pose": args.w_transfer, "exp": args.w_transfer}
    t0, step = time.time(), start
    with StopRequest() as stop:
        stopping = False
        while step < args.steps and not stopping:
            step += 1
            src, drv = (x.to(device) for x in pairs.batch(args.batch))
            transfer = args.w_transfer > 0 and step % args.transfer_every == 0
            losses = net(src, drv, transfer)
            total = sum(weights[k] * v for k, v in losses.items())
            mean_total = all_mean(total, dist)                   # NaN on any rank stops every rank
            if not torch.isfinite(mean_total):
                raise FloatingPointError(f"stage 0: loss is {mean_total.item()} at step {step}; lower --lr")
            opt.zero_grad(set_to_none=True)
            total.backward()                                     # DDP averages the gradients over ranks
            torch.nn.utils.clip_grad_norm_(params, args.clip)
            opt.step()
            row = {"step": step, "total": mean_total.item(), **{k: all_mean(v, dist).item() for k, v in losses.items()}}
            history.append(row)
            stopping = stop.agreed(dist)
            if step % args.log_every == 0 or step == start + 1:
                log.info("step %d/%d: %s (%.2f s/step)", step, args.steps, " ".join(
                    f"{k}={v:.4f}" for k, v in row.items() if k != "step"), (time.time() - t0) / (step - start))
            if step % args.save_every == 0 or step == args.steps or stopping:
                _save_state(out, args, dist, nets, opt, pairs, step, history, stop)
                if dist.main:
                    save(modules, out, args.layout, save_weights)
                    (out / "stage0_log.json").write_text(json.dumps({"args": vars(args), "world_size": dist.world,
                                                                     "history": history}, indent=1))
    if stopping:
        log.warning("stage 0 stopped by %s at step %d/%d; run the same command again to resume", stop.name, step,
                    args.steps)
    cleanup_distributed(dist)
    return {"step": step, "history": history, "interrupted": stop.name if stopping else "",
            "exit_code": stop.exit_code if stopping else 0}


class _Args:
    """argparse options as the `cfg` run_record.write_launch expects (to_dict)."""

    def __init__(self, args):
        self.args = args

    def to_dict(self) -> dict:
        return dict(vars(self.args))


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
    p.add_argument("--vgg19", help="torchvision vgg19-dcbb9e9d.pth (the perceptual loss; required)")
    p.add_argument("--no-perceptual", action="store_true", help="train without VGG19 (debugging only)")
    p.add_argument("--allow-config-change", action="store_true",
                   help="resume even though options differ from the saved run's (changes are logged)")
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
    p.add_argument("--tiny", action="store_true",
                   help="tiny architecture: for the demo/test weights of tools/make_demo_models.py and tests "
                        "(random tiny modules when --liveportrait is left out); never for real training")
    return p


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    args = parser().parse_args(argv)
    for name in ("steps", "batch", "save_every", "log_every", "transfer_every"):
        if getattr(args, name) < 1:
            raise SystemExit(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    return train(args)["exit_code"]


if __name__ == "__main__":
    sys.exit(main())
