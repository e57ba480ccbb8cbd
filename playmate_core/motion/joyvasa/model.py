"""The loaded JoyVASA motion generator: audio encoder, learned tokens, denoiser, schedule, template.

State-dict names (ours, see checkpoint.py for the map from the released file):

    audio_encoder.*      transformers HubertModel / Wav2Vec2Model (fine-tuned by JoyVASA)
    audio_feature_map.*  Linear(768 -> F)
    start_audio_feat     (1,Lp,F)  audio tokens standing in for the frames before the utterance
    start_motion_feat    (1,Lp,D)  motion frames standing in for the frames before the utterance
    null_audio_feat      (1,1,F)   the "no audio" token of classifier-free guidance
    denoiser.*           JoyVASADenoiser (released prefix `denoising_net.`)

Construction only allocates (random init); weights arrive through `load_joyvasa`.
"""
from __future__ import annotations

import torch
from torch import nn

from .audio import audio_tokens
from .config import JoyVASAConfig
from .denoiser import JoyVASADenoiser
from .sampler import cosine_schedule
from .template import MotionTemplate


class JoyVASAModel(nn.Module):
    """A JoyVASA generator ready to sample. `template` de-normalises its output (template.py)."""

    def __init__(self, cfg: JoyVASAConfig, encoder: nn.Module, template: MotionTemplate | None = None,
                 meta: dict | None = None):
        super().__init__()
        f, d, lp = cfg.feature_dim, cfg.motion_dim, cfg.n_prev_motions
        if encoder.config.hidden_size != cfg.audio_dim:
            raise ValueError(f"audio encoder width {encoder.config.hidden_size} != config audio_dim {cfg.audio_dim}")
        self.cfg = cfg
        self.audio_encoder = encoder
        self.audio_feature_map = nn.Linear(cfg.audio_dim, f)
        self.start_audio_feat = nn.Parameter(torch.randn(1, lp, f))
        self.start_motion_feat = nn.Parameter(torch.randn(1, lp, d))
        self.null_audio_feat = nn.Parameter(torch.randn(1, 1, f))
        self.denoiser = JoyVASADenoiser(cfg)
        self.schedule = cosine_schedule(cfg.n_diff_steps)       # dict of (T+1,) float32 CPU tensors
        self.template = template
        self.meta = dict(meta or {})

    @property
    def device(self) -> torch.device:
        return self.null_audio_feat.device

    @property
    def dtype(self) -> torch.dtype:
        return self.null_audio_feat.dtype

    @property
    def trained(self) -> bool:
        """True for a released JoyVASA file (its weights are trained); tests mark random builds False."""
        return bool(self.meta.get("trained", True))

    def encode_window(self, wav: torch.Tensor) -> torch.Tensor:
        """(B, 16000*L/fps) raw samples -> audio tokens (B,L,F)."""
        cfg = self.cfg
        if wav.shape[-1] != cfg.window_samples:
            raise ValueError(f"a JoyVASA window takes {cfg.window_samples} samples, got {wav.shape[-1]}")
        return audio_tokens(self.audio_encoder, self.audio_feature_map, wav, cfg.n_motions, cfg.fps)

    def parameter_counts(self) -> dict:
        enc = sum(p.numel() for p in self.audio_encoder.parameters())
        total = sum(p.numel() for p in self.parameters())
        return {"audio_encoder": enc, "rest": total - enc, "total": total}
