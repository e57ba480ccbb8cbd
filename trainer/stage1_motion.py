"""Stage 1: train the audio -> motion denoiser eps_theta (motion-model.md §2.4-2.7).

    python -m trainer.stage1_motion --data DATA --out runs/stage1 [--config cfg.yaml] [--set key=value ...]
    torchrun --nproc_per_node 8 -m trainer.stage1_motion --data DATA --out runs/stage1   (multi-GPU)
    python -m trainer.stage1_motion --data DATA --out runs/finetune --init-from motion_stage1.safetensors

Loss: MSE between eps and eps_theta(x_t, t, prev, audio, f_id) on all 70 dims. prev: GT frames noised
at t_aug < 50 (p 0.9) or the reference frame repeated with null prev audio (p 0.1); current audio
-> null embedding with p 0.1 (CFG). Writes out/train_state.pt and the EMA weights as
out/motion_stage1.safetensors (normalisation statistics of DATA and the dataset's provenance inside).
Resumes when out/train_state.pt exists. --init-from starts a new run from a checkpoint's weights and
keeps ITS normalisation statistics (the weights were trained in them). Held-out identities
(val.*, on in configs/base.yaml) are scored by trainer/validation.py; with --face-weights also as a video.
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path

import torch

from playmate_core.motion import build_motion_model, load_motion_model, save_motion_checkpoint

from .batches import diffusion_inputs, drop_current_audio, eps_mse
from .config import TrainConfig, stage_arguments, stage_config
from .data import MotionWindows, compute_stats, load_clips
from .loop import Stage, run
from .provenance import check_face_weights, dataset_provenance
from .validation import holdout, make_validator

log = logging.getLogger("playmate.trainer")
EXPORT = "motion_stage1.safetensors"


def make_dataset(data: str | Path, cfg: TrainConfig) -> MotionWindows:
    provenance = dataset_provenance(data)
    check_face_weights(provenance, cfg.face_weights)
    train, val = holdout(load_clips(data, cfg.data.min_frames), cfg.val)
    init = load_motion_model(cfg.init_from) if cfg.init_from else None
    ds = MotionWindows(train, init.stats if init is not None else compute_stats(train))
    ds.init_model, ds.val_clips, ds.provenance = init, val, provenance
    ds.manifest_meta = {"data": str(data), "clips": len(train), "frames": sum(c.frames for c in train),
                        "val_clips": len(val)}
    return ds


def stage1_loss(cfg: TrainConfig, model):
    def loss(net, batch: dict, g: torch.Generator, device) -> torch.Tensor:
        x = diffusion_inputs(batch, model, cfg.cond, g, device)
        drop_current_audio(x, torch.rand(x["t"].shape[0], generator=g) < cfg.cond.p_null_audio)
        eps = net(x["x_t"], x["t"], x["prev"], x["audio"], x["f_id"], x["audio_null"])   # B,T,70
        return eps_mse(eps, x["noise"])
    return loss


def _initial_model(cfg: TrainConfig, dataset: MotionWindows):
    model = build_motion_model(cfg.preset, stats=dataset.stats)
    init = dataset.init_model
    if init is None:
        return model
    if init.config != model.config:
        raise ValueError(f"--init-from '{cfg.init_from}' holds a stage-1 model with config {init.config}, preset "
                         f"{cfg.preset!r} builds {model.config}; pass the matching --set preset=...")
    model.denoiser.load_state_dict(init.denoiser.state_dict())
    log.info("stage 1 starts from the weights and statistics of '%s' (a new run: step 0, new optimizer)",
             cfg.init_from)
    return model


def build_stage(cfg: TrainConfig, dist, dataset: MotionWindows) -> Stage:
    model = _initial_model(cfg, dataset)
    clip, cfg_m = dataset.clips[0], model.config
    shape = clip.audio_shape
    if shape != (cfg_m.audio_layers, cfg_m.audio_dim):
        raise ValueError(f"audio features in '{clip.audio_path}' have (layers, dim) {shape}, preset {cfg.preset!r} "
                         f"expects ({cfg_m.audio_layers}, {cfg_m.audio_dim}); prepare the data with the matching "
                         f"audio encoder or choose another preset")
    model.meta["stage1_trained"] = True
    model.train()
    provenance = {"stage": "stage1", "dataset_sha256": dataset.provenance["manifest_sha256"],
                  "audio_encoder": dataset.provenance["audio_encoder"],
                  "face_motion_sha256": dataset.provenance["face_motion_sha256"],
                  "init_from": cfg.init_from or None}

    def export(ema_model, out: Path, meta: dict) -> list:
        path = out / EXPORT
        tmp = path.with_name("tmp_" + path.name)
        save_motion_checkpoint(tmp, ema_model, part="stage1", trained=True, training={**meta, **dataset.manifest_meta},
                               provenance=provenance)
        tmp.replace(path)
        return [path]

    loss = stage1_loss(cfg, model)
    validate = make_validator(dataset, loss, cfg, dist.device, model) if dist.main else None
    return Stage("stage1_motion", model, model.denoiser, loss, export, lambda m: m.denoiser, validate)


def main(argv=None, stop_at: int | None = None, cli: bool = False) -> dict:
    parser = stage_arguments(__doc__, "run folder: training state, log, motion checkpoint")
    args = parser.parse_args(argv)
    cfg = stage_config(args)
    return run(cfg, args.out, build_stage, lambda dist: make_dataset(args.data, cfg), stop_at=stop_at,
               allow_config_change=args.allow_config_change, set_threads=cli)


if __name__ == "__main__":
    sys.exit(main(cli=True)["exit_code"])
