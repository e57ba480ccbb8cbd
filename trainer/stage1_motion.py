"""Stage 1: train the audio -> motion denoiser eps_theta (motion-model.md §2.4-2.7).

    python -m trainer.stage1_motion --data DATA --out runs/stage1 [--config cfg.yaml] [--set key=value ...]
    torchrun --nproc_per_node 8 -m trainer.stage1_motion --data DATA --out runs/stage1   (multi-GPU)

Loss: MSE between eps and eps_theta(x_t, t, prev, audio, f_id) on all 70 dims. prev: GT frames noised
at t_aug < 50 (p 0.9) or the reference frame repeated with null prev audio (p 0.1); current audio
-> null embedding with p 0.1 (CFG). Writes out/train_state.pt and the EMA weights as
out/motion_stage1.safetensors (normalisation statistics of DATA inside). Resumes when
out/train_state.pt exists.
"""
from __future__ import annotations

import logging
from pathlib import Path

import torch

from playmate_core.motion import build_motion_model, save_motion_checkpoint

from .batches import diffusion_inputs, drop_current_audio, eps_mse
from .config import TrainConfig, load_config, stage_arguments
from .data import MotionWindows, compute_stats, load_clips
from .loop import Stage, run

log = logging.getLogger("playmate.trainer")
EXPORT = "motion_stage1.safetensors"


def make_dataset(data: str | Path, cfg: TrainConfig) -> MotionWindows:
    clips = load_clips(data, cfg.data.min_frames)
    stats = compute_stats(clips)
    ds = MotionWindows(clips, stats)
    ds.manifest_meta = {"data": str(data), "clips": len(clips), "frames": sum(c.frames for c in clips)}
    return ds


def stage1_loss(cfg: TrainConfig, model):
    def loss(net, batch: dict, g: torch.Generator, device) -> torch.Tensor:
        x = diffusion_inputs(batch, model, cfg.cond, g, device)
        drop_current_audio(x, torch.rand(x["t"].shape[0], generator=g) < cfg.cond.p_null_audio)
        eps = net(x["x_t"], x["t"], x["prev"], x["audio"], x["f_id"], x["audio_null"])   # B,T,70
        return eps_mse(eps, x["noise"])
    return loss


def build_stage(cfg: TrainConfig, dist, dataset: MotionWindows) -> Stage:
    model = build_motion_model(cfg.preset, stats=dataset.stats)
    clip, cfg_m = dataset.clips[0], model.config
    shape = clip.audio_shape
    if shape != (cfg_m.audio_layers, cfg_m.audio_dim):
        raise ValueError(f"audio features in '{clip.audio_path}' have (layers, dim) {shape}, preset {cfg.preset!r} "
                         f"expects ({cfg_m.audio_layers}, {cfg_m.audio_dim}); prepare the data with the matching "
                         f"audio encoder or choose another preset")
    model.meta["stage1_trained"] = True
    model.train()

    def export(ema_model, out: Path, meta: dict) -> list:
        path = out / EXPORT
        tmp = path.with_name("tmp_" + path.name)
        save_motion_checkpoint(tmp, ema_model, part="stage1", trained=True, training={**meta, **dataset.manifest_meta})
        tmp.replace(path)
        return [path]

    return Stage("stage1_motion", model, model.denoiser, stage1_loss(cfg, model), export, lambda m: m.denoiser)


def main(argv=None, stop_at: int | None = None) -> dict:
    parser = stage_arguments(__doc__, "run folder: training state, log, motion checkpoint")
    args = parser.parse_args(argv)
    cfg = load_config(TrainConfig, args.config, args.set)
    return run(cfg, args.out, build_stage, lambda dist: make_dataset(args.data, cfg), stop_at=stop_at)


if __name__ == "__main__":
    main()
