"""The training loop shared by the stages: steps, NaN guard, progress lines, atomic checkpoints, resume.

A stage supplies a `Stage` (the MotionModel, which sub-module trains, the loss of one batch and the
export of its motion checkpoint(s)); `run` does the rest. Files in `out` (rank 0 only):
    train_state.pt    model + EMA + optimizer + LR scheduler + step + RNG states + sampler epoch and
                      position: resuming from it continues the loss sequence exactly (same world size)
    train.log         the progress lines
    <stage exports>   EMA weights as motion checkpoints (save_motion_checkpoint, trained=True)
A run resumes automatically when `out/train_state.pt` exists.
"""
from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn
from torch.utils.data import DataLoader

from .common import (EMA, Dist, detached_copy, ResumableSampler, TrainingError, all_mean, cleanup_distributed, collate,
                     format_eta, gather_objects, item_seed, make_optimizer, make_scheduler, rng_state,
                     seed_everything, set_rng_state, setup_distributed, setup_logging)

log = logging.getLogger("playmate.trainer")
STATE_FILE, STATE_FORMAT = "train_state.pt", "playmate-train-state-1"


@dataclass
class Stage:
    name: str                                   # "stage1_motion" | "stage2_emotion"
    model: nn.Module                            # MotionModel
    trainable: nn.Module                        # the part that is optimised and EMA'd
    loss: Callable                              # (net, batch, generator, device) -> scalar loss
    export: Callable                            # (model with EMA weights, out dir, training meta) -> [paths]
    ema_target: Callable                        # (model copy) -> the sub-module to load EMA weights into


class EpsilonNet(nn.Module):
    """DDP needs forward(); this routes it to MotionModel.training_epsilon."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, *args, **kwargs):
        return self.model.training_epsilon(*args, **kwargs)


def save_atomic(obj, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def load_state(path: Path, stage: str, cfg) -> dict:
    state = torch.load(path, map_location="cpu", weights_only=True)
    if state.get("format") != STATE_FORMAT or state.get("stage") != stage:
        raise TrainingError(f"'{path}' is not a {stage} training state; use an empty --out folder for a new run")
    if state["config"]["preset"] != cfg.preset:
        raise TrainingError(f"'{path}' was trained with preset {state['config']['preset']!r}, not {cfg.preset!r}; "
                            f"use --set preset={state['config']['preset']} or a new --out folder")
    return state


def run(cfg, out, build_stage: Callable, dataset_fn: Callable, stop_at: int | None = None,
        extra_meta: dict | None = None) -> dict:
    """Train until cfg.steps (or `stop_at`, a test hook: save and return there).

    build_stage(cfg, dist, dataset) -> Stage; dataset_fn(dist) -> MotionWindows. Returns {"losses": [...],
    "step": n, "files": [...]} (losses of the steps run in THIS call, averaged over ranks).
    """
    dist = setup_distributed(cfg.device)
    out = Path(out)
    if dist.main:
        out.mkdir(parents=True, exist_ok=True)
    handler = setup_logging(dist, out / "train.log" if dist.main else None)
    try:
        return _train(cfg, out, dist, build_stage, dataset_fn, stop_at, extra_meta or {})
    finally:
        if handler is not None:
            log.removeHandler(handler)
            handler.close()
        cleanup_distributed(dist)


def _train(cfg, out: Path, dist: Dist, build_stage, dataset_fn, stop_at, extra_meta) -> dict:
    seed_everything(cfg.seed + dist.rank)
    dataset = dataset_fn(dist)
    stage = build_stage(cfg, dist, dataset)
    model = stage.model.to(dist.device)
    ema = EMA(stage.trainable, cfg.optim.ema_decay)
    opt, params = make_optimizer(stage.trainable.parameters(), cfg.optim)
    sched = make_scheduler(opt, cfg.optim.warmup_steps, cfg.steps, cfg.optim.min_lr_ratio)
    sampler = ResumableSampler(dataset, dist, cfg.seed)
    step, epoch, state_path = 0, 0, out / STATE_FILE
    found = gather_objects(state_path.is_file(), dist)
    if len(set(found)) > 1:
        raise TrainingError(f"only some ranks see '{state_path}' ({found}); for multi-node runs put --out on a "
                            f"filesystem shared by all nodes")
    if found[0]:
        state = load_state(state_path, stage.name, cfg)
        if state["world_size"] != dist.world:
            raise TrainingError(f"'{state_path}' was written by {state['world_size']} process(es), this run has "
                                f"{dist.world}; exact resume needs the same number (or start a new --out folder)")
        if state["stats"] != stage.model.stats.to_dict():
            raise TrainingError(f"the normalisation statistics of this dataset differ from those '{state_path}' was "
                                f"trained with (the data changed?); resume with the same --data or use a new --out")
        stage.trainable.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        step, epoch, sampler.position = state["step"], state["sampler"]["epoch"], state["sampler"]["position"]
        set_rng_state(state["rng"][dist.rank])
        log.info("resumed %s from '%s' at step %d", stage.name, state_path, step)
    net = EpsilonNet(model)
    if dist.enabled:
        ids = [dist.device.index] if dist.device.type == "cuda" else None
        net = nn.parallel.DistributedDataParallel(net, device_ids=ids)
    loader_gen = torch.Generator().manual_seed(cfg.seed)
    loader = DataLoader(dataset, batch_size=cfg.data.batch_size, sampler=sampler, collate_fn=collate,
                        num_workers=cfg.data.num_workers, generator=loader_gen,
                        persistent_workers=False, pin_memory=dist.device.type == "cuda")
    bf16 = cfg.bf16 and dist.device.type == "cuda"
    end = min(cfg.steps, stop_at) if stop_at is not None else cfg.steps
    losses, files, last_ids = [], [], []
    log.info("%s: %d clips, %d process(es), batch %d/process, steps %d -> %d, bf16 %s, %s", stage.name,
             len(dataset), dist.world, cfg.data.batch_size, step, end, bf16, model.parameter_counts())
    t0, s0 = time.time(), step
    while step < end:
        sampler.set_epoch(epoch)
        for batch in loader:
            g = torch.Generator().manual_seed(item_seed(cfg.seed, 1, step, dist.rank))
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16):
                loss = stage.loss(net, batch, g, dist.device)
            mean = all_mean(loss, dist)
            last_ids = list(batch["clip_id"])
            if not torch.isfinite(mean):                                   # every rank gets here together
                per_rank = gather_objects((float(loss.detach()), last_ids), dist)
                bad = [ids for value, ids in per_rank if not math.isfinite(value)]
                _fail(f"non-finite loss at step {step + 1}", [i for ids in bad for i in ids], state_path)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            gnorm = torch.nn.utils.clip_grad_norm_(params, cfg.optim.grad_clip)
            if not torch.isfinite(gnorm):
                _fail(f"non-finite gradient norm at step {step + 1}",
                      [i for ids in gather_objects(last_ids, dist) for i in ids], state_path)
            opt.step()
            sched.step()
            step += 1
            ema.update(stage.trainable, step)
            sampler.position += len(last_ids)
            losses.append(float(mean))
            if step % cfg.log_every == 0 or step == end:
                dt = max(time.time() - t0, 1e-9)
                rate = (step - s0) * cfg.data.batch_size * dist.world / dt
                log.info("step %d/%d loss %.5f lr %.3g grad %.3f %.1f windows/s eta %s", step, cfg.steps, float(mean),
                         sched.get_last_lr()[0], float(gnorm), rate, format_eta(dt / (step - s0) * (cfg.steps - step)))
            if step % cfg.save_every == 0 or step == end:
                files = _save(cfg, out, dist, stage, ema, opt, sched, step, epoch, sampler, last_ids, extra_meta)
            if step >= end:
                break
        else:
            epoch, sampler.position = epoch + 1, 0
    if dist.enabled:
        torch.distributed.barrier()                     # no rank tears the group down while others still talk
    return {"losses": losses, "step": step, "files": files}


def _fail(what: str, ids: list, state_path: Path) -> None:
    keep = (f"the last good checkpoint '{state_path}' is kept" if state_path.is_file()
            else "no checkpoint was written yet")
    raise TrainingError(f"{what}, batch clips {ids}; training stopped and {keep}. Check these clips' motion/audio "
                        f"files for NaN/inf values (re-run trainer/prepare_data.py) or lower optim.lr")


def _save(cfg, out, dist, stage, ema, opt, sched, step, epoch, sampler, ids, extra_meta) -> list:
    """Gather per-rank RNG states and last batch ids; rank 0 writes the state atomically, then exports."""
    rngs, batches = gather_objects(rng_state(), dist), gather_objects(ids, dist)
    if not dist.main:
        return []
    state = {"format": STATE_FORMAT, "stage": stage.name, "step": step, "config": cfg.to_dict(),
             "model": stage.trainable.state_dict(), "ema": ema.state_dict(), "optimizer": opt.state_dict(),
             "scheduler": sched.state_dict(), "rng": rngs, "sampler": {"epoch": epoch, "position": sampler.position},
             "world_size": dist.world, "last_batches": batches, "stats": stage.model.stats.to_dict()}
    save_atomic(state, out / STATE_FILE)
    export = _ema_model(stage, ema)
    meta = {"stage": stage.name, "steps": step, "world_size": dist.world,
            "global_batch": cfg.data.batch_size * dist.world, "config": cfg.to_dict(), **extra_meta}
    files = stage.export(export, out, meta)
    log.info("saved '%s' and %s at step %d", out / STATE_FILE, [str(f) for f in files], step)
    return files


def _ema_model(stage: Stage, ema: EMA) -> nn.Module:
    model = detached_copy(stage.model).cpu().float().eval()
    stage.ema_target(model).load_state_dict(ema.state_dict())
    return model
