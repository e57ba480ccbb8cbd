"""Stage 2: train the emotion module on a frozen stage-1 model (motion-model.md §2.7-2.8).

    python -m trainer.stage2_emotion --data DATA --out runs/stage2 --stage1 runs/stage1/motion_stage1.safetensors
    torchrun --nproc_per_node 8 -m trainer.stage2_emotion --data DATA --out runs/stage2 --stage1 ...

The stage-1 denoiser (trunk and both heads) is frozen; only the emotion module trains, with nested
condition dropout per sample, u ~ U(0,1):
    u < 0.10           audio null + emotion null
    0.10 <= u < 0.45   emotion null
    else               full condition (the clip's label; clips without a label use the null emotion)
Normalisation statistics come from the stage-1 checkpoint. Writes out/train_state.pt,
out/motion_emotion.safetensors (emotion part only) and out/motion_full.safetensors (stage 1 + emotion);
both record the fingerprint of the stage 1 (the loaders refuse the emotion module on another one).
Refused: a dataset without any emotion label, or prepared with another audio encoder than the stage 1.
--init-from takes the emotion module of an emotion or full checkpoint as the starting weights.
Validation on held-out identities (trainer/validation.py) adds val/emotion_acc (trainer/val_emotion.py).
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path

import torch

from playmate_core.motion import (EMOTION_PRESETS, EmotionConfig, EmotionModule, load_motion_backend,
                                  save_motion_checkpoint)
from playmate_core.motion.playmate.backend import PlaymateBackend
from playmate_core.motion.playmate.checkpoint import UNKNOWN, load_emotion_module
from playmate_core.motion.playmate.model import MotionModel

from .batches import diffusion_inputs, drop_current_audio, eps_mse
from .common import set_requires_grad
from .config import TrainConfig, stage_arguments, stage_config
from .data import DatasetError, MotionWindows, load_clips
from .loop import Stage, run
from .provenance import check_face_weights, dataset_provenance
from .validation import holdout, make_validator

log = logging.getLogger("playmate.trainer")
EXPORTS = {"emotion": "motion_emotion.safetensors", "all": "motion_full.safetensors"}


def load_stage1(path: str) -> MotionModel:
    if not path:
        raise ValueError("stage 2 needs the stage-1 motion checkpoint: pass "
                         "--stage1 runs/stage1/motion_stage1.safetensors")
    backend = load_motion_backend(path)
    if not isinstance(backend, PlaymateBackend):
        raise ValueError(f"'{path}' is a {backend.capabilities.kind} model; stage 2 trains the emotion module on a "
                         f"Playmate stage-1 checkpoint (runs/stage1/motion_stage1.safetensors)")
    model = backend.model
    if not model.meta.get("stage1_trained"):
        raise ValueError(f"'{path}' holds an UNTRAINED stage-1 model; train stage 1 first (trainer.stage1_motion)")
    return model


def emotion_conditions(batch: dict, emotion: EmotionModule, cond, g: torch.Generator, frames: int) -> tuple:
    """Nested dropout -> (emo_w (B,T,9), int_w (B,T,4) one-hot, audio drop (B,) bool)."""
    ecfg = emotion.cfg
    emo = torch.as_tensor(batch["emotion"], dtype=torch.long)                 # B
    inten = torch.as_tensor(batch["intensity"], dtype=torch.long)             # B
    u = torch.rand(emo.shape[0], generator=g)
    both = u < cond.p_both_null
    no_emotion = u < cond.p_both_null + cond.p_emotion_null
    emo = torch.where(no_emotion, torch.full_like(emo, ecfg.null_emotion), emo)
    inten = torch.where(no_emotion, torch.full_like(inten, ecfg.unknown_intensity), inten)
    emo_w = torch.nn.functional.one_hot(emo, ecfg.num_emotions + 1).float()[:, None].expand(-1, frames, -1)
    int_w = torch.nn.functional.one_hot(inten, ecfg.num_intensities + 1).float()[:, None].expand(-1, frames, -1)
    return emo_w, int_w, both


def stage2_loss(cfg: TrainConfig, model: MotionModel):
    def loss(net, batch: dict, g: torch.Generator, device) -> torch.Tensor:
        x = diffusion_inputs(batch, model, cfg.cond, g, device)
        emo_w, int_w, both = emotion_conditions(batch, model.emotion, cfg.cond, g, x["x_t"].shape[1])
        drop_current_audio(x, both)
        eps = net(x["x_t"], x["t"], x["prev"], x["audio"], x["f_id"], x["audio_null"],
                  emotion=(emo_w.to(device), int_w.to(device)))                  # B,T,70
        return eps_mse(eps, x["noise"])
    return loss


def build_stage(cfg: TrainConfig, dist, dataset: MotionWindows) -> Stage:
    base = dataset.stage1_model
    width = base.config
    ecfg = EMOTION_PRESETS.get(cfg.preset) or EmotionConfig(d_model=width.d_model, num_heads=width.num_heads)
    if ecfg.d_model != base.config.d_model:
        raise ValueError(f"preset {cfg.preset!r} has emotion width {ecfg.d_model}, the stage-1 model in "
                         f"'{cfg.stage1}' has width {base.config.d_model}; use --set preset= matching stage 1")
    emotion = EmotionModule(ecfg)
    if cfg.init_from:
        start = load_emotion_module(cfg.init_from)
        if start.cfg != ecfg:
            raise ValueError(f"--init-from '{cfg.init_from}' holds an emotion module with config {start.cfg}, preset "
                             f"{cfg.preset!r} builds {ecfg}; pass the matching --set preset=...")
        emotion.load_state_dict(start.state_dict())
        log.info("stage 2 starts from the emotion module of '%s' (a new run: step 0, new optimizer)", cfg.init_from)
    model = MotionModel(base.denoiser, emotion, base.stats, base.diffusion, {**base.meta, "emotion_trained": True})
    set_requires_grad(model.denoiser, False)
    model.denoiser.eval()
    model.emotion.train()

    provenance = {"stage": "stage2", "dataset_sha256": dataset.provenance["manifest_sha256"],
                  "audio_encoder": dataset.provenance["audio_encoder"],
                  "face_motion_sha256": dataset.provenance["face_motion_sha256"],
                  "stage1_checkpoint": str(cfg.stage1), "stage1_sha256": base.meta.get("stage1_sha256"),
                  "init_from": cfg.init_from or None}

    def export(ema_model, out: Path, meta: dict) -> list:
        meta = {**meta, "stage1_checkpoint": str(cfg.stage1), **dataset.manifest_meta}
        paths = []
        for part, name in EXPORTS.items():
            tmp = out / ("tmp_" + name)
            trained = True if part == "emotion" else None          # 'all': stage 1 keeps its own flag
            save_motion_checkpoint(tmp, ema_model, part=part, trained=trained, training=meta, provenance=provenance)
            paths.append(tmp.replace(out / name))
        return paths

    loss = stage2_loss(cfg, model)
    validate = make_validator(dataset, loss, cfg, dist.device, model) if dist.main else None
    return Stage("stage2_emotion", model, model.emotion, loss, export, lambda m: m.emotion, validate)


def check_encoder(stage1: MotionModel, provenance: dict, data) -> None:
    """The dataset's audio features must come from the encoder stage 1 was trained with (when both known)."""
    trained = (stage1.meta.get("provenance") or {}).get("audio_encoder") or {}
    have = provenance["audio_encoder"]
    if UNKNOWN not in (trained.get("sha256", UNKNOWN), have["sha256"]) and trained["sha256"] != have["sha256"]:
        raise DatasetError(f"'{data}' was prepared with audio encoder {have['name']} ({have['sha256'][:12]}), the "
                           f"stage-1 model with {trained.get('name')} ({trained['sha256'][:12]}); prepare the stage-2 "
                           f"data with the stage-1 encoder (prepare_data --audio-encoder ...)")


def make_dataset(data: str | Path, cfg: TrainConfig) -> MotionWindows:
    stage1 = load_stage1(cfg.stage1)
    provenance = dataset_provenance(data)
    check_face_weights(provenance, cfg.face_weights)
    check_encoder(stage1, provenance, data)
    train, val = holdout(load_clips(data, cfg.data.min_frames), cfg.val)
    labelled = sum(c.emotion < len(stage1.emotion_labels) for c in train)
    if not labelled:
        raise DatasetError(f"stage 2 learns emotion from labelled clips, but none of the {len(train)} training clips "
                           f"in '{data}' has an emotion label; prepare the data with labels (prepare_data --labels "
                           f"labels.csv, or --label-format mead / celebvtext) and run it again")
    ds = MotionWindows(train, stage1.stats)
    ds.stage1_model, ds.val_clips, ds.provenance = stage1, val, provenance
    ds.manifest_meta = {"data": str(data), "clips": len(train), "frames": sum(c.frames for c in train),
                        "labelled_clips": labelled, "val_clips": len(val)}
    log.info("stage 2 data: %d of %d training clips carry an emotion label", labelled, len(train))
    return ds


def main(argv=None, stop_at: int | None = None, cli: bool = False) -> dict:
    parser = stage_arguments(__doc__, "run folder: training state, log, motion checkpoints")
    parser.add_argument("--stage1", help="stage-1 motion checkpoint (same as --set stage1=PATH)")
    args = parser.parse_args(argv)
    cfg = stage_config(args, [f"stage1={args.stage1}"] if args.stage1 else [])
    return run(cfg, args.out, build_stage, lambda dist: make_dataset(args.data, cfg), stop_at=stop_at,
               allow_config_change=args.allow_config_change, set_threads=cli)


if __name__ == "__main__":
    sys.exit(main(cli=True)["exit_code"])
