"""MotionModel: the stage-1 denoiser, the optional stage-2 emotion module and everything needed to
use them (normalisation statistics, diffusion settings, fps, label list, training metadata).

`build_motion_model` gives an UNTRAINED model (random init, placeholder statistics); `trained` is
True only when the weights came from checkpoints whose metadata says they were trained.
"""
from __future__ import annotations

import logging
from typing import Mapping

import torch
from torch import nn

from .denoiser import MotionDenoiser, MotionDenoiserConfig, motion_preset
from .emotion import EMOTION_LABELS, EMOTION_PRESETS, INTENSITY_LEVELS, EmotionConfig, EmotionModule
from ..layout import MotionStats
from .scheduler import DDPMCosineScheduler, DiffusionConfig

log = logging.getLogger("playmate")

FPS = 25
SAMPLE_RATE = 16000


class MotionModel(nn.Module):
    """Container used by `generate_motion`. `meta` holds plain JSON-able data:
    trained (bool), stage1_trained, emotion_trained, fps, sample_rate, emotion_labels, training (dict)."""

    def __init__(self, denoiser: MotionDenoiser, emotion: EmotionModule | None = None,
                 stats: MotionStats | None = None, diffusion: DiffusionConfig = DiffusionConfig(),
                 meta: Mapping | None = None):
        super().__init__()
        if emotion is not None and emotion.cfg.d_model != denoiser.cfg.d_model:
            raise ValueError(f"emotion module width {emotion.cfg.d_model} does not match the stage-1 model "
                             f"width {denoiser.cfg.d_model}; use the emotion checkpoint trained on this stage-1 model")
        self.denoiser = denoiser
        self.emotion = emotion
        self.stats = stats or MotionStats.placeholder()
        self.diffusion = diffusion
        self.scheduler = DDPMCosineScheduler(diffusion)
        meta = dict(meta or {})
        meta.setdefault("stage1_trained", False)
        meta.setdefault("emotion_trained", False if emotion is not None else None)
        meta["trained"] = bool(meta["stage1_trained"]) and (emotion is None or bool(meta["emotion_trained"]))
        meta.setdefault("fps", FPS)
        meta.setdefault("sample_rate", SAMPLE_RATE)
        meta.setdefault("emotion_labels", list(EMOTION_LABELS))
        meta.setdefault("intensity_levels", list(INTENSITY_LEVELS))
        meta.setdefault("training", {})
        self.meta = meta

    @property
    def config(self) -> MotionDenoiserConfig:
        return self.denoiser.cfg

    @property
    def trained(self) -> bool:
        return bool(self.meta["trained"])

    @property
    def fps(self) -> int:
        return int(self.meta["fps"])

    @property
    def has_emotion(self) -> bool:
        return self.emotion is not None

    @property
    def emotion_labels(self) -> tuple:
        return tuple(self.meta["emotion_labels"])

    @property
    def device(self) -> torch.device:
        return self.denoiser.null_audio.device

    @property
    def dtype(self) -> torch.dtype:
        return self.denoiser.null_audio.dtype

    def training_epsilon(self, x_t: torch.Tensor, t: torch.Tensor, prev: torch.Tensor, audio: torch.Tensor,
                         f_id: torch.Tensor, audio_null: torch.Tensor | None = None,
                         emotion: tuple | None = None) -> torch.Tensor:
        """eps (B,T,70) for the trainer, with per-sample timesteps; stage 2 passes emotion weights
        ((B,T,9), (B,T,4)) (null rows for dropped samples). Inputs as MotionDenoiser.forward."""
        d = self.denoiser
        if emotion is None or self.emotion is None:
            if emotion is not None:
                raise ValueError("emotion weights given but this model has no emotion module "
                                 "(build it with emotion=True)")
            return d(x_t, t, prev, audio, f_id, audio_null)
        if audio_null is None:
            audio_null = torch.zeros(x_t.shape[0], prev.shape[1] + x_t.shape[1], dtype=torch.bool, device=x_t.device)
        t_emb = d.embed_time(t)                                                   # B,d
        h = d.trunk_forward(x_t, t_emb + d.proj_id(f_id), d.context_tokens(prev, d.proj_a(audio), audio_null))
        h_exp = self.emotion(h, t_emb, *emotion)                                  # B,T,d
        return torch.cat([d.exp_head(h_exp), d.pose_head(h)], dim=-1)             # B,T,70

    def parameter_counts(self) -> dict:
        """{'stage1': n, 'emotion': n or 0, 'total': n}."""
        s1 = sum(p.numel() for p in self.denoiser.parameters())
        em = sum(p.numel() for p in self.emotion.parameters()) if self.emotion is not None else 0
        return {"stage1": s1, "emotion": em, "total": s1 + em}


def build_motion_model(preset: str | MotionDenoiserConfig = "tiny", emotion: bool | EmotionConfig = False,
                       stats: MotionStats | None = None, device: str | torch.device | None = None,
                       dtype: torch.dtype | None = None) -> MotionModel:
    """A randomly initialised (UNTRAINED) model from a preset name or config; emotion=True adds the
    emotion module of the same preset (or pass an EmotionConfig). Nothing is read from disk."""
    cfg = motion_preset(preset) if isinstance(preset, str) else preset
    denoiser = MotionDenoiser(cfg, device=device, dtype=dtype)
    module = None
    if emotion:
        if isinstance(emotion, EmotionConfig):
            ecfg = emotion
        elif isinstance(preset, str) and preset in EMOTION_PRESETS:
            ecfg = EMOTION_PRESETS[preset]
        else:
            ecfg = EmotionConfig(d_model=cfg.d_model, num_heads=cfg.num_heads)
        module = EmotionModule(ecfg, device=device, dtype=dtype)
    model = MotionModel(denoiser, module, stats)
    log.debug("built untrained motion model (%s): %s", preset if isinstance(preset, str) else "custom",
              model.parameter_counts())
    return model.eval()
