"""Stage-1 motion denoiser eps_theta: audio-conditioned Conformer diffusion model (motion-model.md §2.2).

One window = [P = 10 previous frames | T = 80 current frames] = 90 tokens:

    token_i = Proj_{x|prev}(m_i) + Proj_a(a_i) + E_seg[prev|current]      (B,P+T,D)
    c       = MLP(sinusoid(t)) + Proj_id(f_id)                            (B,D)  -> adaLN-single
    h       = Conformer(tokens, c)[:, P:]                                 (B,T,D) current tokens only
    eps     = [Exp-MLP(h) (63) | Pose-MLP(h) (7)]                         (B,T,70)

Proj_a: softmax-weighted sum over the L encoder layers, +-2-frame window concatenated, LN, MLP.
f_id = [source canonical kp (63), normalised source exp (63)]. A learned null-audio embedding
replaces audio tokens for CFG (and for the virtual frames before the utterance starts). Which
inputs the four Proj modules take is OUR reading of the paper (see the design note).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
from torch import nn

from ...config_base import ConfigMixin
from .conformer import ConformerTrunk
from ..layout import EXP_DIM, MOTION_DIM, POSE_DIM
from .linear import Linear


@dataclass(frozen=True)
class MotionDenoiserConfig(ConfigMixin):
    """Architecture of eps_theta (saved in every checkpoint; strict `from_dict`)."""
    d_model: int = 512
    num_layers: int = 8
    num_heads: int = 8
    ffn_dim: int = 2048
    conv_kernel: int = 15
    conv_norm: str = "groupnorm"
    dropout: float = 0.1
    window: int = 80              # T current frames
    prev_frames: int = 10         # P previous frames
    audio_dim: int = 768          # D of the audio encoder's hidden states
    audio_layers: int = 12        # L hidden layers weighted by Proj_a
    audio_context: int = 2        # +-frames concatenated by Proj_a
    id_dim: int = 126             # f_id = canonical kp 63 + normalised exp 63
    time_embed_dim: int = 256     # sinusoid width of the timestep embedding
    motion_dim: int = MOTION_DIM

    def __post_init__(self):
        if self.motion_dim != MOTION_DIM:
            raise ValueError(f"motion_dim must be {MOTION_DIM} (the fixed LivePortrait layout), got {self.motion_dim}")
        if self.d_model % self.num_heads or (self.d_model // self.num_heads) % 2:
            raise ValueError(f"d_model {self.d_model} / num_heads {self.num_heads} must be an even head dim")



MOTION_PRESETS = {
    # CPU tests: d 128 x 2 layers; audio width/layers match a tiny random wav2vec2 (hidden 32, 2 layers)
    "tiny": MotionDenoiserConfig(d_model=128, num_layers=2, num_heads=4, ffn_dim=512, audio_dim=32, audio_layers=2),
    # the model we train: d 512 x 8 layers on wav2vec2-base-960h layers 1-12
    "base": MotionDenoiserConfig(),
}


def motion_preset(name: str, **overrides) -> MotionDenoiserConfig:
    if name not in MOTION_PRESETS:
        raise ValueError(f"unknown motion preset {name!r}; choose one of {sorted(MOTION_PRESETS)}")
    return replace(MOTION_PRESETS[name], **overrides)


def timestep_sinusoid(t: torch.Tensor, dim: int) -> torch.Tensor:
    """t (B,) -> (B,dim) = [cos(t w_k), sin(t w_k)], w_k = 10000^(-k/(dim/2))."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([args.cos(), args.sin()], dim=-1)


def context_indices(start: int, stop: int, n: int, context: int) -> torch.Tensor:
    """Frame indices [start - c, stop + c) clamped to [0, n): Proj_a's input for frames [start, stop)
    of an n-frame utterance (the edge frames repeat). Training windows must gather the same way."""
    return torch.arange(start - context, stop + context).clamp(0, n - 1)


class AudioProjection(nn.Module):
    """Proj_a: (B,F+2c,L,D) encoder hidden states with c context frames each side -> (B,F,d)."""

    def __init__(self, cfg: MotionDenoiserConfig, device=None, dtype=None):
        super().__init__()
        kw = dict(device=device, dtype=dtype)
        self.context = cfg.audio_context
        width = (2 * cfg.audio_context + 1) * cfg.audio_dim
        self.layer_logits = nn.Parameter(torch.zeros(cfg.audio_layers, **kw))   # softmax -> layer weights
        self.norm = nn.LayerNorm(width, **kw)
        self.mlp = nn.Sequential(Linear(width, cfg.d_model, **kw), nn.SiLU(), Linear(cfg.d_model, cfg.d_model, **kw))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        w = self.layer_logits.softmax(dim=0).to(features.dtype)                  # L
        mixed = torch.einsum("bfld,l->bfd", features, w)                          # B,F+2c,D
        k = 2 * self.context + 1
        win = mixed.unfold(1, k, 1)                                               # B,F,D,k
        win = win.permute(0, 1, 3, 2).flatten(2)                                  # B,F,k*D (frame-major)
        return self.mlp(self.norm(win))                                           # B,F,d


class MotionDenoiser(nn.Module):
    """eps_theta of stage 1. See the module docstring for the equations."""

    def __init__(self, cfg: MotionDenoiserConfig, device=None, dtype=None):
        super().__init__()
        self.cfg = cfg
        d, kw = cfg.d_model, dict(device=device, dtype=dtype)
        self.proj_x = Linear(MOTION_DIM, d, **kw)
        self.proj_prev = Linear(MOTION_DIM, d, **kw)
        self.proj_a = AudioProjection(cfg, **kw)
        self.proj_id = nn.Sequential(Linear(cfg.id_dim, d, **kw), nn.SiLU(), Linear(d, d, **kw))
        self.time_embed = nn.Sequential(Linear(cfg.time_embed_dim, d, **kw), nn.SiLU(), Linear(d, d, **kw))
        self.segment = nn.Embedding(2, d, **kw)                                  # 0 = prev, 1 = current
        self.null_audio = nn.Parameter(torch.zeros(d, **kw))
        self.trunk = ConformerTrunk(d, cfg.num_layers, cfg.num_heads, cfg.ffn_dim, cfg.conv_kernel,
                                    cfg.conv_norm, cfg.dropout, **kw)
        self.pose_head = nn.Sequential(Linear(d, d, **kw), nn.SiLU(), Linear(d, POSE_DIM, **kw))
        self.exp_head = nn.Sequential(Linear(d, d, **kw), nn.SiLU(), Linear(d, EXP_DIM, **kw))
        self.initialize_weights()

    def initialize_weights(self) -> None:
        """Trunk: see ConformerTrunk.initialize_weights (gates at zero). Projections: Xavier. Time MLP,
        segment and null-audio embeddings: N(0, 0.02). Output layers of both heads: zero (eps = 0 at
        init, as DiT's final layer)."""
        self.trunk.initialize_weights()
        for m in (self.proj_x, self.proj_prev, *self.proj_a.mlp, *self.proj_id, *self.pose_head, *self.exp_head):
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        for m in self.time_embed:
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)
        nn.init.normal_(self.segment.weight, std=0.02)
        nn.init.normal_(self.null_audio, std=0.02)
        for head in (self.pose_head, self.exp_head):
            nn.init.zeros_(head[-1].weight)
            nn.init.zeros_(head[-1].bias)

    # ---- per-utterance / per-window parts (constant over the denoising steps) ----------------
    def audio_tokens(self, features: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
        """Whole utterance (B,N,L,D) (any device/dtype) -> Proj_a tokens (B,N,d), `chunk` frames at a
        time so only one chunk is ever converted to the model's device and dtype."""
        n, c = features.shape[1], self.cfg.audio_context
        w = self.null_audio
        return torch.cat([self.proj_a(features[:, context_indices(i, min(i + chunk, n), n, c)].to(w.device, w.dtype))
                          for i in range(0, n, chunk)], dim=1)                    # B,N,d

    def context_tokens(self, prev: torch.Tensor, audio_tok: torch.Tensor, audio_null: torch.Tensor) -> torch.Tensor:
        """Everything of the token sequence except Proj_x(x_t).

        prev (B,P,70) normalised; audio_tok (B,P+T,d); audio_null (B,P+T) bool (True -> null-audio
        embedding). -> (B,P+T,d): prev tokens complete, current tokens = audio + segment.
        """
        p = self.cfg.prev_frames
        audio = torch.where(audio_null[..., None], self.null_audio.to(audio_tok.dtype), audio_tok)   # B,P+T,d
        prev_tok = self.proj_prev(prev) + audio[:, :p] + self.segment.weight[0]                     # B,P,d
        cur_tok = audio[:, p:] + self.segment.weight[1]                                             # B,T,d
        return torch.cat([prev_tok, cur_tok], dim=1)

    def embed_time(self, t: torch.Tensor) -> torch.Tensor:
        """t (B,) -> t_emb (B,d)."""
        return self.time_embed(timestep_sinusoid(t, self.cfg.time_embed_dim).to(self.null_audio.dtype))

    # ---- per-step parts ------------------------------------------------------------------------
    def trunk_forward(self, x_t: torch.Tensor, c: torch.Tensor, ctx: torch.Tensor) -> torch.Tensor:
        """x_t (1|B,T,70), c (1|B,d), ctx (B,P+T,d) -> current-token features h (B,T,d).

        A batch-1 x_t / c is shared by all rows of ctx (the CFG branches differ only in ctx)."""
        p = self.cfg.prev_frames
        cur = ctx[:, p:] + self.proj_x(x_t)                                       # B,T,d
        h = self.trunk(torch.cat([ctx[:, :p], cur], dim=1), c)                    # B,P+T,d
        return h[:, p:]                                                           # B,T,d

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, prev: torch.Tensor, audio: torch.Tensor,
                f_id: torch.Tensor, audio_null: torch.Tensor | None = None) -> torch.Tensor:
        """Training / reference path (no emotion): eps (B,T,70).

        x_t (B,T,70), t (B,), prev (B,P,70), audio (B,P+T+2c,L,D) hidden states of the window's
        frames with c context frames each side, f_id (B,126), audio_null (B,P+T) bool or None.
        """
        b, n_tok = x_t.shape[0], self.cfg.prev_frames + self.cfg.window
        if audio_null is None:
            audio_null = torch.zeros(b, n_tok, dtype=torch.bool, device=x_t.device)
        ctx = self.context_tokens(prev, self.proj_a(audio), audio_null)          # B,P+T,d
        c = self.embed_time(t) + self.proj_id(f_id)                               # B,d
        h = self.trunk_forward(x_t, c, ctx)                                       # B,T,d
        return torch.cat([self.exp_head(h), self.pose_head(h)], dim=-1)           # B,T,70
