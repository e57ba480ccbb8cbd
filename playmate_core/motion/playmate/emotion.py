"""Stage-2 emotion-control module (motion-model.md §2.8).

Two DiT blocks with adaLN-Zero, inserted between the Conformer output h and the Exp-MLP (the
Pose-MLP still reads h; over whole generations the sampler's pose-locked chains keep the head pose
independent of the emotion, see generate.py):

    c_e = t_emb + w_emo E_emo + w_int E_int                     (B,T,D), per frame
    h   = h + g1 * MHSA(LN(h) (1 + a1) + b1)                     RoPE attention
    h   = h + g2 * MLP (LN(h) (1 + a2) + b2)                     MLP x4, GELU(tanh)
    (b1, a1, g1, b2, a2, g2) = Linear(SiLU(c_e))                 zero-initialised -> exact identity

E_emo: 8 MEAD labels (alphabetical, as MEAD/EAT) + index 8 = null (distinct from 'neutral').
E_int: intensity levels 1-3 + index 3 = unknown. The condition is a per-frame WEIGHT vector over
the rows (one-hot for a fixed label), so an emotion track can crossfade between labels and
interpolating between null and a label gives continuous strength.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ...config_base import ConfigMixin
from .attention import RotarySelfAttention
from .conformer import modulate
from ..labels import EMOTION_LABELS, INTENSITY_LEVELS
from .linear import Linear



@dataclass(frozen=True)
class EmotionConfig(ConfigMixin):
    """Architecture of the emotion module (saved in its checkpoint; strict `from_dict`)."""
    d_model: int = 512
    num_blocks: int = 2
    num_heads: int = 8
    mlp_ratio: float = 4.0
    num_emotions: int = len(EMOTION_LABELS)       # + 1 null row
    num_intensities: int = len(INTENSITY_LEVELS)  # + 1 unknown row
    dropout: float = 0.1


    @property
    def null_emotion(self) -> int:
        return self.num_emotions

    @property
    def unknown_intensity(self) -> int:
        return self.num_intensities


EMOTION_PRESETS = {"tiny": EmotionConfig(d_model=128, num_heads=4), "base": EmotionConfig()}


class DiTMlp(nn.Sequential):
    """Linear(D -> 4D) -> GELU(tanh) -> Dropout -> Linear(4D -> D) -> Dropout (GELU fused into the product)."""

    def __init__(self, dim: int, hidden: int, dropout: float, device=None, dtype=None):
        super().__init__(Linear(dim, hidden, device=device, dtype=dtype), nn.GELU(approximate="tanh"),
                         nn.Dropout(dropout), Linear(hidden, dim, device=device, dtype=dtype), nn.Dropout(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self[4](self[3](self[2](self[0](x, act="gelu_tanh"))))


class EmotionBlock(nn.Module):
    """DiT block with adaLN-Zero and per-token modulation: (h (B,T,D), c (B|1,T|1,D)) -> (B,T,D)."""

    def __init__(self, cfg: EmotionConfig, device=None, dtype=None):
        super().__init__()
        d, kw = cfg.d_model, dict(device=device, dtype=dtype)
        hidden = int(d * cfg.mlp_ratio)
        self.norm1 = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6, **kw)
        self.attn = RotarySelfAttention(d, cfg.num_heads, cfg.dropout, **kw)
        self.norm2 = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6, **kw)
        self.mlp = DiTMlp(d, hidden, cfg.dropout, **kw)
        self.adaln = nn.Sequential(nn.SiLU(), Linear(d, 6 * d, **kw))

    def forward(self, h: torch.Tensor, c: torch.Tensor, index: torch.Tensor | None = None) -> torch.Tensor:
        """c: per-token conditions (B,T,D), or U distinct rows (U,D) with `index` (B,T) mapping each
        token to its row (a constant emotion has U = 1: the modulation MLP then runs once, not B*T times)."""
        mod = self.adaln(c)                                                # B,T,6D | U,6D
        if index is not None:
            mod = mod[None] if mod.shape[0] == 1 else mod[index]           # 1,1,6D | B,T,6D
        shift1, scale1, gate1, shift2, scale2, gate2 = mod.chunk(6, dim=-1)
        h = torch.addcmul(h, gate1, self.attn(modulate(self.norm1(h), shift1, scale1)))   # B,T,D
        return torch.addcmul(h, gate2, self.mlp(modulate(self.norm2(h), shift2, scale2)))


class EmotionModule(nn.Module):
    """The two emotion blocks plus the emotion / intensity embeddings."""

    def __init__(self, cfg: EmotionConfig, device=None, dtype=None):
        super().__init__()
        self.cfg = cfg
        kw = dict(device=device, dtype=dtype)
        self.emotion_embed = nn.Embedding(cfg.num_emotions + 1, cfg.d_model, **kw)
        self.intensity_embed = nn.Embedding(cfg.num_intensities + 1, cfg.d_model, **kw)
        self.blocks = nn.ModuleList(EmotionBlock(cfg, **kw) for _ in range(cfg.num_blocks))
        self.initialize_weights()

    def initialize_weights(self) -> None:
        """Xavier linears, N(0, 0.02) embeddings, and ZERO adaLN projections: every gate is exactly
        0, so the module returns its input bit for bit until stage 2 trains it (h + 0 * f = h)."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        nn.init.normal_(self.emotion_embed.weight, std=0.02)
        nn.init.normal_(self.intensity_embed.weight, std=0.02)
        for block in self.blocks:
            nn.init.zeros_(block.adaln[1].weight)
            nn.init.zeros_(block.adaln[1].bias)

    def null_weights(self, frames: int, device=None) -> tuple:
        """One-hot null emotion + unknown intensity for `frames` frames: ((T,9), (T,4))."""
        emo = torch.zeros(frames, self.cfg.num_emotions + 1, device=device)
        inten = torch.zeros(frames, self.cfg.num_intensities + 1, device=device)
        emo[:, self.cfg.null_emotion] = 1
        inten[:, self.cfg.unknown_intensity] = 1
        return emo, inten

    def embed(self, emo_w: torch.Tensor, int_w: torch.Tensor) -> torch.Tensor:
        """Per-frame weights (...,9), (...,4) -> E_emo / E_int mixture (...,D)."""
        dt = self.emotion_embed.weight.dtype
        return emo_w.to(dt) @ self.emotion_embed.weight + int_w.to(dt) @ self.intensity_embed.weight

    def distinct_rows(self, emo_w: torch.Tensor, int_w: torch.Tensor) -> tuple:
        """(B,T,9), (B,T,4) weights -> (embeddings of the U distinct rows (U,D), row of each token (B,T)).

        Sampling uses one timestep for the whole batch, so the modulation only has to be computed for
        the distinct (emotion, intensity) rows: U = 1 or 2 for a fixed label, a few more in a crossfade."""
        rows, index = torch.unique(torch.cat([emo_w, int_w], dim=-1).flatten(0, 1), dim=0, return_inverse=True)
        e = self.cfg.num_emotions + 1
        return self.embed(rows[:, :e], rows[:, e:]), index.view(emo_w.shape[:2])

    def run(self, h: torch.Tensor, c: torch.Tensor, index: torch.Tensor | None) -> torch.Tensor:
        """The blocks on h (B,T,D) with conditions c: per token (B,T,D), or rows (U,D) + index (B,T)."""
        for block in self.blocks:
            h = block(h, c, index)
        return h

    def forward(self, h: torch.Tensor, t_emb: torch.Tensor, emo_w: torch.Tensor, int_w: torch.Tensor) -> torch.Tensor:
        """h (B,T,D) trunk output; t_emb (B|1,D); emo_w (B,T,9), int_w (B,T,4) per-frame weights."""
        if t_emb.shape[0] == 1:
            emb, index = self.distinct_rows(emo_w, int_w)
            return self.run(h, t_emb + emb, index)                            # U,D rows
        return self.run(h, t_emb[:, None] + self.embed(emo_w, int_w), None)   # B,T,D per token


# ---- emotion tracks -> per-frame condition weights ------------------------------------------
def _label_index(label, labels: tuple) -> int:
    if label is None:
        return len(labels)                                                   # the null row
    name = str(label).strip().lower()
    if name not in labels:
        raise ValueError(f"unknown emotion {label!r}; valid emotions: {', '.join(labels)} (or None for none)")
    return labels.index(name)


def _intensity_index(level, levels: tuple = INTENSITY_LEVELS) -> int:
    if level is None:
        return len(levels)                                                   # "unknown"
    if isinstance(level, bool) or level not in levels:
        raise ValueError(f"emotion intensity must be one of {list(levels)} or None (unknown), got {level!r}")
    return levels.index(level)


def _smooth(onehot: torch.Tensor, width: int) -> torch.Tensor:
    """Average (N,K) one-hot tracks with a normalised Hann kernel of odd `width` (edges repeated)."""
    if width <= 1 or onehot.shape[0] == 1:
        return onehot
    kernel = torch.hann_window(width + 2, periodic=False, dtype=torch.float64)[1:-1]
    kernel = (kernel / kernel.sum()).view(1, 1, -1).expand(onehot.shape[1], 1, -1)
    x = onehot.double().t()[None]                                            # 1,K,N
    x = torch.nn.functional.pad(x, (width // 2, width // 2), mode="replicate")
    return torch.nn.functional.conv1d(x, kernel, groups=onehot.shape[1])[0].t().float()   # N,K


def emotion_weights(emotion, intensity, n_frames: int, fps: float, labels: tuple = EMOTION_LABELS,
                    crossfade_s: float = 0.3) -> tuple | None:
    """Emotion request -> per-frame weights ((N, len(labels)+1), (N, 4)), or None for no emotion.

    emotion: None; a label for the whole utterance (with `intensity` 1-3 or None = unknown); or a
    track: a list of (start_s, end_s, label, intensity) covering [start_s, end_s). Frames outside
    every segment get the null emotion; a later segment overrides an earlier one. The one-hot tracks
    are averaged over ~crossfade_s (Hann kernel), so changes crossfade instead of switching.
    """
    if emotion is None:
        return None
    if isinstance(emotion, str):
        emotion = [(0.0, math.inf, emotion, intensity)]
    emo_idx = torch.full((n_frames,), len(labels), dtype=torch.long)
    int_idx = torch.full((n_frames,), len(INTENSITY_LEVELS), dtype=torch.long)
    times = torch.arange(n_frames, dtype=torch.float64) / fps
    for seg in emotion:
        if not isinstance(seg, (tuple, list)) or len(seg) not in (3, 4):
            raise ValueError(f"emotion track entries must be (start_s, end_s, emotion, intensity), got {seg!r}")
        start, end, label = float(seg[0]), float(seg[1]), seg[2]
        if not 0 <= start < end:
            raise ValueError(f"emotion segment {seg!r}: need 0 <= start_s < end_s")
        mask = (times >= start) & (times < end)
        emo_idx[mask] = _label_index(label, labels)
        int_idx[mask] = _intensity_index(seg[3] if len(seg) == 4 else intensity)
    width = max(1, int(round(crossfade_s * fps))) | 1                        # odd
    emo_w = _smooth(torch.nn.functional.one_hot(emo_idx, len(labels) + 1).float(), width)
    int_w = _smooth(torch.nn.functional.one_hot(int_idx, len(INTENSITY_LEVELS) + 1).float(), width)
    return emo_w, int_w
