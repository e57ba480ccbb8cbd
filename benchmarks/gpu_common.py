"""Helpers shared by the measurement workers of benchmarks/gpu.py (one process per job).

    dev = Device.of(job)                       # torch device, dtype, sync(), peak-memory bookkeeping
    seconds, first = median_seconds(fn, dev, warmup=2, repeats=10)
    emit(job, key_index, value=..., unit=..., peak_mb=dev.peak_mb(), notes="...")   # one ROW line on stdout
    source = portrait_source(engine)           # astronaut, fixed landmarks (no detector needed)
    wav = speech_like(seconds)                 # (S,) float32 at 16 kHz, syllable-rate envelope

A worker prints `ROW <json>` lines, one per measured row, flushed at once, so rows measured before a
timeout or crash still reach the table.
"""
from __future__ import annotations

import importlib.util
import json
import math
import statistics
import sys
import time
import traceback
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
SAMPLE_RATE = 16000


@dataclass
class Device:
    device: torch.device
    dtype: torch.dtype

    @classmethod
    def of(cls, job: dict) -> "Device":
        return cls(torch.device(job["device"]), DTYPES[job.get("dtype", "fp32")])

    @property
    def cuda(self) -> bool:
        return self.device.type == "cuda"

    def sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize(self.device)

    def reset_peak(self) -> None:
        if self.cuda:
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)

    def peak_mb(self) -> float | None:
        """Peak allocated GPU memory since the last reset_peak (None on the CPU)."""
        return torch.cuda.max_memory_allocated(self.device) / 2 ** 20 if self.cuda else None


def seconds_once(fn: Callable[[], object], dev: Device) -> float:
    """Wall time of one fn() call, synchronised before and after."""
    dev.sync()
    t0 = time.perf_counter()
    fn()
    dev.sync()
    return time.perf_counter() - t0


def median_seconds(fn: Callable[[], object], dev: Device, warmup: int, repeats: int) -> tuple[float, float]:
    """(median wall time of fn() over `repeats` calls after `warmup` calls, time of the first call).
    warmup 0: the first call is one of the timed ones (smoke runs, where only the code path matters)."""
    first = seconds_once(fn, dev)
    times = [] if warmup else [first]
    for _ in range(warmup - 1):
        fn()
    times += [seconds_once(fn, dev) for _ in range(repeats - len(times))]
    return statistics.median(times), first


def emit(job: dict, index: int, value: float | None = None, unit: str = "", peak_mb: float | None = None,
         notes: str = "", status: str = "ok") -> None:
    """Print one result row for job["keys"][index] (the key's fields + the measurement)."""
    if status == "ok" and (value is None or not math.isfinite(value) or value <= 0):
        status, notes = "FAILED", f"non-finite or non-positive value {value!r}; {notes}"
    row = {**job["keys"][index], "device": job["device_name"], "value": value, "unit": unit,
           "peak_mem_mb": None if peak_mb is None else round(peak_mb, 1), "status": status, "notes": notes}
    print("ROW " + json.dumps(row), flush=True)


def each_key(job: dict, measure: Callable[[int, dict], None]) -> None:
    """Run measure(index, key) for every key of the job; an exception fails that row only (traceback
    on stderr) and the next key runs."""
    for i, key in enumerate(job["keys"]):
        try:
            measure(i, key)
        except Exception as exc:  # noqa: BLE001 - one broken row must not lose the others
            traceback.print_exc(file=sys.stderr)
            first = str(exc).splitlines()[0][:200] if str(exc) else ""
            emit(job, i, status="FAILED", notes=f"{type(exc).__name__}: {first}")


# ---- inputs -----------------------------------------------------------------------------------
class FixedLandmarks:
    """A landmark 'backend' returning 106 fixed points on the astronaut's face (skimage.data.astronaut):
    no detector model is needed, so the benchmark runs where mediapipe is not installed."""
    name = "fixed-landmarks"

    def detect(self, image_rgb: np.ndarray) -> list:
        from playmate_core.crop.detection import DetectedFace
        from playmate_core.crop.geometry import IF106_EYES, IF106_LIPS
        rng = np.random.default_rng(0)
        pts = np.c_[rng.uniform(179, 271, 106), rng.uniform(71, 177, 106)]
        pts[list(IF106_EYES[0])], pts[list(IF106_EYES[1])], pts[list(IF106_LIPS)] = (203, 102), (246, 104), (223, 147)
        return [DetectedFace(landmarks=pts, box=np.array([179.0, 71, 271, 177]), score=1.0, layout="insightface106")]

    def close(self) -> None:
        pass


def make_cropper(detector: str = "fixed"):
    """FaceCropper with mediapipe ("mediapipe", falls back to fixed landmarks when it is not installed) or
    the fixed astronaut landmarks ("fixed"). -> (cropper, name of the landmark source)."""
    from playmate_core.crop import FaceCropper
    cropper = FaceCropper(backend="mediapipe")
    if detector == "mediapipe" and importlib.util.find_spec("mediapipe") is not None:
        return cropper, "mediapipe"
    cropper._backend = FixedLandmarks()        # the core has no public way to pass a backend instance
    return cropper, FixedLandmarks.name


def portrait_source(engine, detector: str = "fixed"):
    """prepare_source on skimage's astronaut (512x512 RGB)."""
    from skimage.data import astronaut
    from playmate_core.pipeline import prepare_source
    cropper, _ = make_cropper(detector)
    return prepare_source(engine, cropper, astronaut())


def swept_motion(source, frames: int, fps: float = 25.0):
    """MotionSequence of `frames` frames: the source held still (pipeline.still_motion) with a small yaw sweep."""
    from playmate_core.pipeline import still_motion
    motion = still_motion(source, frames, fps)
    motion.values[:, 64] += torch.linspace(0, 8, frames)
    return motion


def speech_like(seconds: float, seed: int = 0) -> torch.Tensor:
    """(S,) noise under a 2.5 Hz syllable envelope, 16 kHz: timing does not depend on the content."""
    g = torch.Generator().manual_seed(seed)
    s = int(seconds * SAMPLE_RATE)
    env = torch.sin(torch.arange(s) / SAMPLE_RATE * 2 * math.pi * 2.5).abs()
    return torch.randn(s, generator=g) * 0.1 * env


def zero_source_motion() -> dict:
    """A batch-1 source motion dict (kp, exp, angles, t, scale) for motion-only rows."""
    z = torch.zeros
    return {"kp": z(1, 21, 3), "exp": z(1, 21, 3), "pitch": z(1, 1), "yaw": z(1, 1), "roll": z(1, 1),
            "t": z(1, 3), "scale": torch.ones(1, 1)}
