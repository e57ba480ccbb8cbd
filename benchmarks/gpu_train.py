"""Stage-1 training row of benchmarks/gpu.py: optimizer steps per second and peak GPU memory.

    job = {"kind": "train", "config": "trainer/configs/base.yaml", "warmup_steps": 10, "steps": 40,
           "files": 8, "frames": 250, "batch": 8, "workers": 4, "device": "cuda", ...}

Runs the real trainer entry point, `trainer.stage1_motion.main` (the same loop, loss, EMA, clipping,
bf16 autocast and data loader as a training run), with --set overrides, on a synthetic prepared dataset
written on the fly in the trainer's format (manifest.jsonl, motion/*.safetensors random-walk motion,
audio/*.safetensors random float16 features of the preset's encoder width). log_every=1 adds one
host sync per step (float(grad norm)); the loop already syncs on float(loss) every step. Timing comes from the
trainer's own per-step log records (log_every=1): steps/s over the steps after the warm-up; the
final checkpoint write is outside the timed span. Peak memory is read at the last step's log record.
"""
from __future__ import annotations

import json
import logging
import math
import tempfile
from pathlib import Path

import torch

from gpu_common import Device, each_key, emit

ROOT = Path(__file__).resolve().parents[1]


def write_dataset(root: Path, rows: int, files: int, frames: int, layers: int, dim: int, seed: int = 0) -> Path:
    """A prepared dataset whose manifest lists `rows` clips over `files` motion/audio file pairs (round
    robin; enough rows that one epoch covers the run, so the loader never restarts its workers)."""
    from safetensors.torch import save_file
    g = torch.Generator().manual_seed(seed)
    (root / "motion").mkdir(parents=True, exist_ok=True)
    (root / "audio").mkdir(parents=True, exist_ok=True)
    scale = torch.tensor([0.01] * 63 + [3.0, 5.0, 2.0, 0.01, 0.01, 0.01, 0.01])
    offset = torch.tensor([0.0] * 69 + [1.5])
    for f in range(files):
        motion = (torch.randn(frames, 70, generator=g).cumsum(0) * 0.1 * scale + offset).float()
        kp = torch.randn(21, 3, generator=g) * 0.1
        save_file({"motion": motion, "kp": kp}, str(root / "motion" / f"f{f}.safetensors"))
        feats = torch.randn(frames, layers, dim, generator=g).half()
        save_file({"features": feats}, str(root / "audio" / f"f{f}.safetensors"))
    manifest = [{"clip_id": f"clip{c:04d}", "frames": frames, "fps": 25, "duration": frames / 25,
                 "identity": f"id{c % files}", "emotion": None, "intensity": None,
                 "motion": f"motion/f{c % files}.safetensors", "audio": f"audio/f{c % files}.safetensors"}
                for c in range(rows)]
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in manifest))
    return root


class StepClock(logging.Handler):
    """Records (step, time, peak GPU MB) from the trainer's 'step %d/%d ...' log records."""

    def __init__(self, dev: Device):
        super().__init__(logging.INFO)
        self.dev, self.steps = dev, []

    def emit(self, record: logging.LogRecord) -> None:
        if isinstance(record.msg, str) and record.msg.startswith("step ") and record.args:
            self.steps.append((int(record.args[0]), record.created, self.dev.peak_mb()))


def run(job: dict) -> None:
    from playmate_core.motion import motion_preset
    from trainer import stage1_motion
    from trainer.config import TrainConfig, load_config
    dev = Device.of(job)
    config = ROOT / job["config"]
    train_cfg = load_config(TrainConfig, str(config), [])
    preset = train_cfg.preset
    cfg_m = motion_preset(preset)

    def measure(i: int, key: dict) -> None:
        with tempfile.TemporaryDirectory(prefix="playmate-gpu-train-") as tmp:
            total = job["warmup_steps"] + job["steps"]
            data = write_dataset(Path(tmp) / "data", (total + 1) * job["batch"], job["files"], job["frames"],
                                 cfg_m.audio_layers, cfg_m.audio_dim)
            clock = StepClock(dev)
            log = logging.getLogger("playmate.trainer")
            log.addHandler(clock)
            dev.reset_peak()
            try:
                result = stage1_motion.main([
                    "--data", str(data), "--out", str(Path(tmp) / "run"), "--config", str(config),
                    "--set", f"steps={total}", f"save_every={total}", "log_every=1", f"device={job['device']}",
                    f"data.batch_size={job['batch']}", f"data.num_workers={job['workers']}"])
            finally:
                log.removeHandler(clock)
        losses = result["losses"]
        if len(losses) != total or not all(math.isfinite(x) for x in losses):
            raise RuntimeError(f"expected {total} finite losses, got {losses[-3:]} ({len(losses)})")
        (s0, t0, _), (s1, t1, peak) = clock.steps[job["warmup_steps"] - 1], clock.steps[-1]
        rate = (s1 - s0) / max(t1 - t0, 1e-9)
        bf16 = train_cfg.bf16 and dev.cuda
        emit(job, i, value=rate, unit="steps/s", peak_mb=peak,
             notes=f"preset {preset}, batch {job['batch']}, {rate * job['batch']:.0f} windows/s, bf16 autocast {bf16}, "
                   f"{s1 - s0} steps after {job['warmup_steps']} warm-up, {job['workers']} loader workers, "
                   f"last loss {losses[-1]:.3f}")

    each_key(job, measure)
