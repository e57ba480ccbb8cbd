"""Watching a run: scalars to CSV (always) and TensorBoard (when installed), and an honest speed meter.

    scalars.csv        step,name,value,wall_time   one row per scalar (long format: new names need no new
                       columns); appended across resumes
    tensorboard/       the same scalars as TensorBoard events when `tensorboard` is installed
                       (`pip install tensorboard`; optional), else a one-time note in the log

Names: train/loss (mean over the logging interval), train/lr, train/grad_norm, perf/samples_per_s (real
windows trained per second over all ranks, saving and validation excluded), perf/step_s, perf/mem_gb
(peak CUDA memory allocated on rank 0, or the process's peak RSS on CPU), val/* (trainer/validation.py).
Only rank 0 writes.
"""
from __future__ import annotations

import csv
import logging
import resource
import sys
import time
from pathlib import Path

import torch

log = logging.getLogger("playmate.trainer")


class Scalars:
    def __init__(self, out: Path, enabled: bool):
        self.enabled, self.path, self.tb = enabled, out / "scalars.csv", None
        if not enabled:
            return
        new = not self.path.is_file()
        self._fh = open(self.path, "a", newline="")
        self._csv = csv.writer(self._fh)
        if new:
            self._csv.writerow(["step", "name", "value", "wall_time"])
        try:
            from torch.utils.tensorboard import SummaryWriter
            self.tb = SummaryWriter(str(out / "tensorboard"))
        except ImportError:
            log.info("TensorBoard not installed (pip install tensorboard): scalars go to %s only", self.path)

    def add(self, step: int, values: dict) -> None:
        if not self.enabled:
            return
        now = time.time()
        for name, value in values.items():
            self._csv.writerow([step, name, f"{float(value):.6g}", f"{now:.3f}"])
            if self.tb is not None:
                self.tb.add_scalar(name, float(value), step)
        self._fh.flush()

    def image(self, step: int, name: str, rgb) -> None:
        if self.enabled and self.tb is not None:
            self.tb.add_image(name, torch.from_numpy(rgb).permute(2, 0, 1), step)

    def close(self) -> None:
        if self.enabled:
            self._fh.close()
            if self.tb is not None:
                self.tb.close()


def memory_gb(device: torch.device) -> float:
    """Peak CUDA memory allocated (device) or peak resident memory of this process (CPU), in GB."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 1e9
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1e9 if sys.platform == "darwin" else peak / 1e6           # bytes on macOS, KiB on Linux


class SpeedMeter:
    """Samples and seconds of training steps since the last report (pauses excluded)."""

    def __init__(self):
        self.samples, self.steps, self.seconds, self.total_steps, self.total_seconds = 0, 0, 0.0, 0, 0.0
        self._t = time.perf_counter()

    def resume(self) -> None:
        """Start timing again after a pause (checkpoint, validation)."""
        self._t = time.perf_counter()

    def step(self, samples: int) -> None:
        now = time.perf_counter()
        dt, self._t = now - self._t, now
        self.samples += samples
        self.steps += 1
        self.seconds += dt
        self.total_steps += 1
        self.total_seconds += dt

    def report(self, remaining_steps: int) -> dict:
        """-> samples_per_s, step_s over the interval; eta_s from the mean step time of this launch."""
        out = {"samples_per_s": self.samples / max(self.seconds, 1e-9), "step_s": self.seconds / max(self.steps, 1),
               "eta_s": remaining_steps * self.total_seconds / max(self.total_steps, 1)}
        self.samples, self.steps, self.seconds = 0, 0, 0.0
        return out
