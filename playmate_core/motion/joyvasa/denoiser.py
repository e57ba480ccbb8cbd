"""JoyVASA's denoiser: a post-norm transformer decoder that predicts clean motion x0 (target 'sample').

One window has Lp carried-over frames and L current frames, Lp + L tokens in all:

    h   = W_in [m_prev ; x_t] + PE[0:Lp+L] + MLP(TE[t])              (B,Lp+L,F)
    mem = [a_prev ; a]                                             (B,Lp+L,F) mapped audio tokens
    h   = 8 x post-norm decoder layer(h, mem)                      self-attention unmasked,
                                                                   cross-attention token i -> audio i only
    x0  = MLP_out(h)                                               (B,Lp+L,D); the sampler keeps the last L

PE and TE are the same sinusoid table (width F), of 600 rows for positions and 501 rows indexed by
the integer diffusion step t. The alignment mask is True where attention is BLOCKED; with width 1
and no expansion it leaves only the diagonal, so every motion token reads exactly its own audio frame.

Parameter names follow the released checkpoint under `denoising_net.` (see checkpoint.py): the tables
and the mask are not parameters; they are rebuilt here and the copies in a file are only verified.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from .config import MLP_RATIO, NUM_HEADS, NUM_LAYERS, PE_MAX_LEN, TIME_TABLE_ROWS, JoyVASAConfig


def sinusoid_table(rows: int, width: int) -> torch.Tensor:
    """(1,rows,width) float32: [p, 2i] = sin(p * 10000^(-2i/width)), [p, 2i+1] = cos(same).

    Computed in float32 in the reference's order (exp of a scaled arange), so the values equal
    the tables stored in released files bit for bit.
    """
    pos = torch.arange(rows, dtype=torch.float32)[:, None]                     # rows,1
    freq = torch.exp(torch.arange(0, width, 2, dtype=torch.float32) * (-math.log(10000.0) / width))
    table = torch.zeros(rows, width)
    table[:, 0::2] = torch.sin(pos * freq)
    table[:, 1::2] = torch.cos(pos * freq)
    return table[None]                                                         # 1,rows,width


def alignment_mask(tokens: int, width: int = 1, expansion: int = 0) -> torch.Tensor:
    """(tokens,tokens) bool, True = blocked: query i may read memory [(i-e)*w, (i+e+1)*w)."""
    i = torch.arange(tokens)[:, None]
    j = torch.arange(tokens)[None, :]
    allowed = (j >= ((i - expansion) * width).clamp(min=0)) & (j < (i + expansion + 1) * width)
    return ~allowed


class DecoderLayer(nn.Module):
    """Post-norm decoder layer (x + sublayer, then LayerNorm), GELU feed-forward of width 4F.

    Keys: self_attn.*, multihead_attn.*, linear1/linear2, norm1/norm2/norm3 (torch.nn naming).
    """

    def __init__(self, width: int, heads: int, ffn: int):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.multihead_attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.linear1 = nn.Linear(width, ffn)
        self.linear2 = nn.Linear(ffn, width)
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(width), nn.LayerNorm(width), nn.LayerNorm(width)

    def forward(self, h: torch.Tensor, mem: torch.Tensor, mem_mask: torch.Tensor) -> torch.Tensor:
        h = self.norm1(h + self.self_attn(h, h, h, need_weights=False)[0])                       # B,S,F
        h = self.norm2(h + self.multihead_attn(h, mem, mem, attn_mask=mem_mask, need_weights=False)[0])
        return self.norm3(h + self.linear2(F.gelu(self.linear1(h))))                             # B,S,F


class Transformer(nn.Module):
    """Holds the layers under `layers.{i}` (no final norm)."""

    def __init__(self, width: int, heads: int, ffn: int, depth: int):
        super().__init__()
        self.layers = nn.ModuleList(DecoderLayer(width, heads, ffn) for _ in range(depth))

    def forward(self, h: torch.Tensor, mem: torch.Tensor, mem_mask: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            h = layer(h, mem, mem_mask)
        return h


class JoyVASADenoiser(nn.Module):
    """x0-predictor. forward(x_t (B,L,D), a (B,L,F), m_prev (B,Lp,D), a_prev (B,Lp,F), t (B,)) -> (B,Lp+L,D)."""

    def __init__(self, cfg: JoyVASAConfig, device: torch.device | str | None = None):
        super().__init__()
        f, d = cfg.feature_dim, cfg.motion_dim
        self.cfg = cfg
        self.diff_step_map = nn.Sequential(nn.Linear(f, f), nn.GELU(), nn.Linear(f, f))
        self.feature_proj = nn.Linear(d, f)
        self.transformer = Transformer(f, NUM_HEADS, MLP_RATIO * f, NUM_LAYERS)
        self.motion_dec = nn.Sequential(nn.Linear(f, f // 2), nn.GELU(), nn.Linear(f // 2, d))
        # Derived, not loaded (persistent=False): checkpoint.py verifies the file's copies against these.
        self.register_buffer("time_table", sinusoid_table(TIME_TABLE_ROWS, f), persistent=False)   # 1,501,F
        self.register_buffer("pos_table", sinusoid_table(PE_MAX_LEN, f), persistent=False)         # 1,600,F
        self.register_buffer("mem_mask", alignment_mask(cfg.tokens), persistent=False)             # S,S
        if device is not None:
            self.to(device)

    def forward(self, x_t: torch.Tensor, a: torch.Tensor, m_prev: torch.Tensor, a_prev: torch.Tensor,
                t: torch.Tensor) -> torch.Tensor:
        temb = self.diff_step_map(self.time_table[0, t])[:, None]                # B,1,F
        tokens = torch.cat([m_prev, x_t], dim=1)                                  # B,Lp+L,D
        h = self.feature_proj(tokens)                                             # B,Lp+L,F
        h = h + self.pos_table[:, :h.shape[1]] + temb                             # B,Lp+L,F
        mem = torch.cat([a_prev, a], dim=1)                                       # B,Lp+L,F
        h = self.transformer(h, mem, self.mem_mask)                               # B,Lp+L,F
        return self.motion_dec(h)                                                 # B,Lp+L,D
