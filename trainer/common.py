"""Shared training machinery: distributed setup, rank-0 logging, sampler, LR schedule, EMA, RNG state.

Works single-process (`python -m trainer.stage1_motion ...`) and under `torchrun` (env RANK,
WORLD_SIZE, LOCAL_RANK; NCCL on CUDA, gloo on CPU). Only rank 0 logs at INFO and writes files.
"""
from __future__ import annotations

import copy
import logging
import math
import os
import random
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as tdist
from torch import nn
from torch.utils.data import DistributedSampler

log = logging.getLogger("playmate.trainer")


class TrainingError(RuntimeError):
    """Training cannot go on (non-finite loss or gradients, inconsistent resume state)."""


# ---- distributed ------------------------------------------------------------------------------
@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world > 1


def setup_distributed(device: str = "auto") -> Dist:
    """Initialise the process group when launched by torchrun (WORLD_SIZE > 1); else single process."""
    use_cuda = torch.cuda.is_available() if device == "auto" else device == "cuda"
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device=cuda but CUDA is not available; use --set device=cpu")
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    dev = torch.device("cuda", local) if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(dev)
    if world > 1 and not tdist.is_initialized():
        tdist.init_process_group("nccl" if use_cuda else "gloo")
    return Dist(rank, world, local, dev)


def usable_cpus() -> int:
    """CPUs this process may use: its affinity set, capped by a cgroup v2 CPU quota when there is one."""
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        quota, period = open("/sys/fs/cgroup/cpu.max").read().split()[:2]
        if quota != "max":
            n = min(n, max(1, int(quota) // int(period)))
    except (OSError, ValueError):
        pass
    return max(1, n)


def default_threads(cfg, dist: Dist) -> tuple[int, str]:
    """(torch CPU threads, why). cfg.threads > 0 wins; then OMP_NUM_THREADS; the tiny preset gets 1 (its
    matrices are too small to split: more threads only add synchronisation); else the usable CPUs shared
    by this node's processes and their DataLoader workers."""
    if cfg.threads > 0:
        return cfg.threads, "threads in the config"
    if os.environ.get("OMP_NUM_THREADS", "").isdigit():
        return max(1, int(os.environ["OMP_NUM_THREADS"])), "OMP_NUM_THREADS"
    if cfg.preset == "tiny":
        return 1, "tiny preset"
    local = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    workers = cfg.data.num_workers if dist.device.type == "cpu" else 0
    return max(1, usable_cpus() // local - workers), f"{usable_cpus()} usable CPU(s) / {local} process(es)"


def cleanup_distributed(dist: Dist) -> None:
    if dist.enabled and tdist.is_initialized():
        tdist.destroy_process_group()


def all_mean(value: torch.Tensor, dist: Dist) -> torch.Tensor:
    """Mean of a scalar over ranks (NaN anywhere -> NaN everywhere, so all ranks stop together)."""
    value = value.detach().float().reshape(1).clone()
    if dist.enabled:
        tdist.all_reduce(value)
        value /= dist.world
    return value[0]


def gather_objects(obj, dist: Dist) -> list:
    if not dist.enabled:
        return [obj]
    out = [None] * dist.world
    tdist.all_gather_object(out, obj)
    return out


def setup_logging(dist: Dist, logfile=None) -> logging.Handler | None:
    """Rank 0 logs INFO (stderr and `logfile`); other ranks only warnings. Returns the file handler."""
    log.setLevel(logging.INFO if dist.main else logging.WARNING)
    if dist.main and not log.handlers and not logging.getLogger().handlers:
        h = logging.StreamHandler()
        h.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        log.addHandler(h)
    if dist.main and logfile is not None:
        fh = logging.FileHandler(logfile)
        fh.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log.addHandler(fh)
        return fh
    return None


# ---- sampling ---------------------------------------------------------------------------------
def item_seed(*parts: int) -> int:
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1, dtype=np.uint64)[0] >> 1)


class ResumableSampler(DistributedSampler):
    """DistributedSampler yielding (index, seed) with seed = f(run seed, epoch, index), that can start
    mid-epoch (`position` = samples of this rank already consumed) for exact resume."""

    def __init__(self, dataset, dist: Dist, seed: int):
        super().__init__(dataset, num_replicas=dist.world, rank=dist.rank, shuffle=True, seed=seed, drop_last=False)
        self.position = 0

    def __iter__(self):
        for i in list(super().__iter__())[self.position:]:
            yield i, item_seed(self.seed, self.epoch, i)


def collate(items: list) -> dict:
    """Stack tensors, keep clip ids / ints as lists."""
    return {k: torch.stack([it[k] for it in items]) if isinstance(items[0][k], torch.Tensor)
            else [it[k] for it in items] for k in items[0]}


# ---- optimisation -----------------------------------------------------------------------------
def make_optimizer(params, o) -> tuple:
    """AdamW + LambdaLR: linear warm-up over o.warmup_steps, then cosine to lr * o.min_lr_ratio."""
    params = [p for p in params if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=o.lr, betas=(o.beta1, o.beta2), weight_decay=o.weight_decay)
    return opt, params


def make_scheduler(opt, warmup: int, total: int, min_ratio: float):
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
    return torch.optim.lr_scheduler.LambdaLR(opt, factor)


def set_requires_grad(module: nn.Module, flag: bool) -> None:
    for p in module.parameters():
        p.requires_grad_(flag)


def detached_copy(module: nn.Module) -> nn.Module:
    """deepcopy without the CPU fast-path caches of playmate_core's Linear (packed oneDNN weights
    cannot be deep-copied; they are rebuilt on the next inference call)."""
    for m in module.modules():
        for name in ("_packed", "_pack_key", "_pack_src"):
            if name in m.__dict__:
                m.__dict__[name] = None
    return copy.deepcopy(module)


class EMA:
    """Float32 exponential moving average of a module's parameters (buffers copied):
    ema = d * ema + (1 - d) * p with d = min(decay, (1 + step) / (10 + step)) (fast early warm-up)."""

    def __init__(self, module: nn.Module, decay: float):
        self.decay = decay
        self.module = detached_copy(module).float().eval()
        set_requires_grad(self.module, False)

    @torch.no_grad()
    def update(self, module: nn.Module, step: int) -> None:
        d = min(self.decay, (1 + step) / (10 + step))
        for e, p in zip(self.module.parameters(), module.parameters()):
            e.lerp_(p.detach().float(), 1 - d)
        for e, b in zip(self.module.buffers(), module.buffers()):
            e.copy_(b)

    def state_dict(self) -> dict:
        return self.module.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.module.load_state_dict(state)


# ---- RNG state (exact resume) -----------------------------------------------------------------
def rng_state() -> dict:
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = {"torch": torch.get_rng_state(), "python": random.getstate(),
             "numpy": {"name": name, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                       "has_gauss": int(has_gauss), "cached": float(cached)}}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(tuple(tuple(x) if isinstance(x, list) else x for x in state["python"]))
    n = state["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2 ** 32)
    random.seed(seed)


def format_eta(seconds: float) -> str:
    s = int(max(0, seconds))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"
