"""The training loop shared by the motion stages: steps, NaN guard, stop on signal, checkpoints, resume.

A stage supplies a `Stage` (the MotionModel, which sub-module trains, the loss of one batch, the export
of its motion checkpoint(s), optionally a validation); `run` does the rest. Files in `out` (rank 0):
    train_state.pt    model + EMA + optimizer + LR scheduler + step + RNG states + sampler epoch and
                      position + config + dataset hash: resuming from it continues the loss sequence
                      exactly (same world size)
    train.log         the progress lines;  scalars.csv (+ tensorboard/): trainer/scalars.py
    config.yaml, run.json   the resolved config and every launch (trainer/run_record.py)
    <stage exports>   EMA weights as motion checkpoints (save_motion_checkpoint, trained=True, provenance)
    val/              validation previews (trainer/validation.py), when the data has a held-out split
A run resumes automatically when `out/train_state.pt` exists; a changed config is refused unless
allowed (run_record.py). SIGINT / SIGTERM finish the current step, save at it and stop (stopping.py).
"""
from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn
from torch.utils.data import DataLoader

from playmate_core.motion.layout import MotionStats

from .common import (EMA, Dist, detached_copy, ResumableSampler, TrainingError, all_mean, cleanup_distributed, collate,
                     default_threads, format_eta, gather_objects, item_seed, make_optimizer, make_scheduler, rng_state,
                     seed_everything, set_rng_state, setup_distributed, setup_logging)
from .run_record import DATASET_KEY, RESUME_FREE, config_changes, format_changes, write_launch
from .scalars import Scalars, SpeedMeter, memory_gb
from .stopping import StopRequest, quiet_worker

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
    validate: Callable | None = None            # (model with EMA weights, step, out dir) -> {name: value}


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
        extra_meta: dict | None = None, allow_config_change: bool = False, set_threads: bool = False) -> dict:
    """Train until cfg.steps (or `stop_at`, a test hook: save and return there) or a stop signal.

    build_stage(cfg, dist, dataset) -> Stage; dataset_fn(dist) -> MotionWindows (with .provenance and
    .manifest_meta). set_threads: apply the automatic CPU thread count (the command line does; library
    callers keep theirs unless cfg.threads is set). Returns {"losses": [...], "step": n, "files": [...],
    "interrupted": signal name or ""} (losses of the steps run in THIS call, averaged over ranks).
    """
    dist = setup_distributed(cfg.device)
    out = Path(out)
    if dist.main:
        out.mkdir(parents=True, exist_ok=True)
    handler = setup_logging(dist, out / "train.log" if dist.main else None)
    if set_threads or cfg.threads > 0:
        n, why = default_threads(cfg, dist)
        torch.set_num_threads(n)
        log.info("torch CPU threads: %d (%s; override with --set threads=N)", n, why)
    try:
        with StopRequest() as stop:                       # from here on a signal means "save and stop"
            return _train(cfg, out, dist, build_stage, dataset_fn, stop_at, extra_meta or {}, allow_config_change,
                          stop)
    finally:
        if handler is not None:
            log.removeHandler(handler)
            handler.close()
        cleanup_distributed(dist)


def _resume(state_path: Path, cfg, dist, stage, dataset, allow: bool) -> tuple[dict | None, list]:
    """-> (state or None, config changes accepted). Refuses what cannot or must not be resumed."""
    found = gather_objects(state_path.is_file(), dist)
    if len(set(found)) > 1:
        raise TrainingError(f"only some ranks see '{state_path}' ({found}); for multi-node runs put --out on a "
                            f"filesystem shared by all nodes")
    if not found[0]:
        return None, []
    state = load_state(state_path, stage.name, cfg)
    if state["world_size"] != dist.world:
        raise TrainingError(f"'{state_path}' was written by {state['world_size']} process(es), this run has "
                            f"{dist.world}; exact resume needs the same number (or start a new --out folder)")
    old = {**state["config"], DATASET_KEY: state.get("dataset_sha256")}
    new = {**cfg.to_dict(), DATASET_KEY: dataset.provenance["manifest_sha256"]}
    changes = [c for c in config_changes(old, new) if c[0] not in RESUME_FREE]
    if changes and not allow:
        raise TrainingError(f"resume refused: '{state_path}' was trained with another config or dataset; differing "
                            f"keys: {format_changes(changes)}. Resume with the original settings, use a new --out "
                            f"folder, or pass --allow-config-change to continue with the new values (logged)")
    for key, before, after in changes:
        log.warning("config change on resume (--allow-config-change): %s %r -> %r", key, before, after)
    if state["stats"] != stage.model.stats.to_dict():
        if not allow:
            raise TrainingError(f"the normalisation statistics of this dataset differ from those '{state_path}' was "
                                f"trained with (the data changed?); resume with the same --data or use a new --out")
        stats = MotionStats.from_dict(state["stats"])       # the weights were trained in this normalisation
        stage.model.stats = stats
        dataset.use_stats(stats)
        log.warning("the dataset changed: keeping the normalisation statistics of '%s'", state_path)
    return state, changes


def _restore(state: dict, cfg, stage, ema, opt, sched, sampler, dist) -> tuple[int, int]:
    stage.trainable.load_state_dict(state["model"])
    ema.load_state_dict(state["ema"])
    opt.load_state_dict(state["optimizer"])
    sched.load_state_dict(state["scheduler"])
    o = cfg.optim                                         # a change allowed on resume takes effect here
    sched.base_lrs = [o.lr for _ in opt.param_groups]
    for group, lr in zip(opt.param_groups, sched.base_lrs):
        group.update(initial_lr=lr, weight_decay=o.weight_decay, betas=(o.beta1, o.beta2))
        group["lr"] = lr * sched.lr_lambdas[0](sched.last_epoch)
    ema.decay = o.ema_decay
    sampler.position = state["sampler"]["position"]
    set_rng_state(state["rng"][dist.rank])
    return state["step"], state["sampler"]["epoch"]


def _train(cfg, out: Path, dist: Dist, build_stage, dataset_fn, stop_at, extra_meta, allow, stop) -> dict:
    seed_everything(cfg.seed + dist.rank)
    dataset = dataset_fn(dist)
    stage = build_stage(cfg, dist, dataset)
    model = stage.model.to(dist.device)
    ema = EMA(stage.trainable, cfg.optim.ema_decay)
    opt, params = make_optimizer(stage.trainable.parameters(), cfg.optim)
    sched = make_scheduler(opt, cfg.optim.warmup_steps, cfg.steps, cfg.optim.min_lr_ratio)
    sampler = ResumableSampler(dataset, dist, cfg.seed)
    state_path = out / STATE_FILE
    state, changes = _resume(state_path, cfg, dist, stage, dataset, allow)
    step, epoch = _restore(state, cfg, stage, ema, opt, sched, sampler, dist) if state else (0, 0)
    if state:
        log.info("resumed %s from '%s' at step %d", stage.name, state_path, step)
    write_launch(out, stage.name, cfg, dist, {**dataset.provenance, **dataset.manifest_meta},
                 step if state else None, changes, {"seed": cfg.seed, "rank_seeds": f"seed + rank (0..{dist.world - 1})"})
    net = EpsilonNet(model)
    if dist.enabled:
        ids = [dist.device.index] if dist.device.type == "cuda" else None
        net = nn.parallel.DistributedDataParallel(net, device_ids=ids)
    loader = DataLoader(dataset, batch_size=cfg.data.batch_size, sampler=sampler, collate_fn=collate,
                        num_workers=cfg.data.num_workers, generator=torch.Generator().manual_seed(cfg.seed),
                        worker_init_fn=quiet_worker, persistent_workers=False,
                        pin_memory=dist.device.type == "cuda")
    bf16 = cfg.bf16 and dist.device.type == "cuda"
    end = min(cfg.steps, stop_at) if stop_at is not None else cfg.steps
    losses, files, last_ids, window = [], [], [], []
    log.info("%s: %d clips, %d process(es), batch %d/process, steps %d -> %d, bf16 %s, %s", stage.name,
             len(dataset), dist.world, cfg.data.batch_size, step, end, bf16, model.parameter_counts())
    scalars, meter = Scalars(out, dist.main), SpeedMeter()
    save = lambda: _save(cfg, out, dist, stage, ema, opt, sched, step, epoch, sampler, last_ids,  # noqa: E731
                         extra_meta, dataset, stop)
    stopping = False
    while step < end and not stopping:
        sampler.set_epoch(epoch)
        for batch in loader:
            g = torch.Generator().manual_seed(item_seed(cfg.seed, 1, step, dist.rank))
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16):
                loss = stage.loss(net, batch, g, dist.device)
            mean = all_mean(loss, dist)
            last_ids = list(batch["clip_id"])
            if not torch.isfinite(mean):                               # every rank gets here together
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
            window.append(float(mean))
            meter.step(len(last_ids) * dist.world)
            stopping = stop.agreed(dist)
            if step % cfg.log_every == 0 or step == end or stopping:
                _log_step(cfg, step, window, sched, gnorm, meter, scalars, dist)
                window = []
            if step % cfg.save_every == 0 or step == end or stopping:
                files = save()
            if stage.validate is not None and dist.main and (step % cfg.val.every == 0 or step == cfg.steps):
                scalars.add(step, stage.validate(_ema_model(stage, ema), step, out))
            meter.resume()
            if step >= end or stopping:
                break
        else:
            epoch, sampler.position = epoch + 1, 0
    scalars.close()
    if stopping:
        log.warning("stopped by %s at step %d/%d; '%s' holds this step: run the same command again to resume",
                    stop.name, step, cfg.steps, state_path)
    if dist.enabled:
        torch.distributed.barrier()                     # no rank tears the group down while others still talk
    return {"losses": losses, "step": step, "files": files, "interrupted": stop.name if stopping else "",
            "exit_code": stop.exit_code if stopping else 0}


def _log_step(cfg, step, window, sched, gnorm, meter, scalars, dist) -> None:
    speed, mem = meter.report(cfg.steps - step), memory_gb(dist.device)
    loss = sum(window) / max(1, len(window))
    log.info("step %d/%d loss %.5f lr %.3g grad %.3f | %.1f samples/s %.3f s/step eta %s mem %.2f GB", step,
             cfg.steps, loss, sched.get_last_lr()[0], float(gnorm), speed["samples_per_s"], speed["step_s"],
             format_eta(speed["eta_s"]), mem)
    scalars.add(step, {"train/loss": loss, "train/lr": sched.get_last_lr()[0], "train/grad_norm": float(gnorm),
                       "perf/samples_per_s": speed["samples_per_s"], "perf/step_s": speed["step_s"],
                       "perf/mem_gb": mem})


def _fail(what: str, ids: list, state_path: Path) -> None:
    keep = (f"the last good checkpoint '{state_path}' is kept" if state_path.is_file()
            else "no checkpoint was written yet")
    raise TrainingError(f"{what}, batch clips {ids}; training stopped and {keep}. Check these clips' motion/audio "
                        f"files for NaN/inf values (re-run trainer/prepare_data.py) or lower optim.lr")


def _save(cfg, out, dist, stage, ema, opt, sched, step, epoch, sampler, ids, extra_meta, dataset, stop) -> list:
    """Gather per-rank RNG states and last batch ids; rank 0 writes the state atomically, then exports."""
    rngs, batches = gather_objects(rng_state(), dist), gather_objects(ids, dist)
    if not dist.main:
        return []
    state = {"format": STATE_FORMAT, "stage": stage.name, "step": step, "config": cfg.to_dict(),
             "model": stage.trainable.state_dict(), "ema": ema.state_dict(), "optimizer": opt.state_dict(),
             "scheduler": sched.state_dict(), "rng": rngs, "sampler": {"epoch": epoch, "position": sampler.position},
             "world_size": dist.world, "last_batches": batches, "stats": stage.model.stats.to_dict(),
             "dataset_sha256": dataset.provenance["manifest_sha256"], "stopped_by": stop.name}
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
