"""Conformer trunk of the stage-1 motion denoiser, with adaLN-single conditioning (motion-model.md §2.2).

One block (macaron Conformer, Gulati et al. 2020), every sub-module pre-normed by an adaptive
LayerNorm and gated:

    x = x + 1/2 g1 * FFN (m1(x))
    x = x +     g2 * MHSA(m2(x))          RoPE, see attention.py
    x = x +     g3 * Conv(m3(x))          pointwise -> GLU -> depthwise (k=15) -> GroupNorm(1)|LN -> SiLU -> pointwise
    x = x + 1/2 g4 * FFN (m4(x))
    x = LN(x)
    m_i(x) = LN(x) * (1 + scale_i) + shift_i

adaLN-single (PixArt-alpha): ONE global MLP maps the condition c (B,D) to 12 vectors
(shift, scale, gate for each of the 4 sub-modules), and each block adds its own learned (12,D)
offset table. Gates start at zero, so every block starts as `LN(x)`. BatchNorm is never used: it
breaks with CFG-batched inference, batch-1 streaming and mixed noise levels.
"""
from __future__ import annotations

import torch
from torch import nn

from .attention import RotarySelfAttention
from .linear import Linear

NUM_MOD = 12   # (shift, scale, gate) x (FFN1, MHSA, Conv, FFN2)


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """x (B,F,D) * (1 + scale) + shift; shift/scale (B,D) or per-token (B,F,D)."""
    if shift.ndim == 2:
        shift, scale = shift[:, None], scale[:, None]
    return torch.addcmul(shift, x, 1 + scale)


class FeedForward(nn.Sequential):
    """Linear(D -> H) -> SiLU -> Dropout -> Linear(H -> D) -> Dropout (SiLU fused into the first product)."""

    def __init__(self, dim: int, hidden: int, dropout: float, device=None, dtype=None):
        super().__init__(Linear(dim, hidden, device=device, dtype=dtype), nn.SiLU(), nn.Dropout(dropout),
                         Linear(hidden, dim, device=device, dtype=dtype), nn.Dropout(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self[4](self[3](self[2](self[0](x, act="swish"))))


class ConvModule(nn.Module):
    """Conformer convolution module over time: (B,F,D) -> (B,F,D), 'same' zero padding.

    pointwise(D -> 2D) -> GLU -> depthwise conv (kernel k) -> GroupNorm(1, D) | LayerNorm(D) -> SiLU
    -> pointwise(D -> D). The depthwise conv runs channels-last as k shifted multiply-adds,
        y[f] = b + sum_j w[:, j] * x[f + j - k//2],
    the same cross-correlation as nn.Conv1d(groups=D) (whose weights it keeps) but ~5x faster on CPU
    for 90-frame windows; GroupNorm(1) = one mean/variance over (F, D) per sample.
    """

    def __init__(self, dim: int, kernel: int, norm: str, dropout: float, device=None, dtype=None):
        super().__init__()
        if kernel % 2 == 0:
            raise ValueError(f"conv_kernel must be odd (symmetric 'same' padding), got {kernel}")
        if norm not in ("groupnorm", "layernorm"):
            raise ValueError(f"conv_norm must be 'groupnorm' or 'layernorm' (never BatchNorm), got {norm!r}")
        self.pointwise_in = Linear(dim, 2 * dim, device=device, dtype=dtype)
        self.depthwise = nn.Conv1d(dim, dim, kernel, padding=kernel // 2, groups=dim, device=device, dtype=dtype)
        self.norm_kind = norm
        self.norm = (nn.GroupNorm(1, dim, device=device, dtype=dtype) if norm == "groupnorm"
                     else nn.LayerNorm(dim, device=device, dtype=dtype))
        self.pointwise_out = Linear(dim, dim, device=device, dtype=dtype)
        self.drop = nn.Dropout(dropout)

    def depthwise_conv(self, x: torch.Tensor) -> torch.Tensor:
        """(B,F,D) -> (B,F,D), channels-last form of self.depthwise."""
        k, f = self.depthwise.kernel_size[0], x.shape[1]
        acc = torch.float32                                 # bf16/fp16 in, fp32 sums (faster on CPU, exact-er)
        xp = nn.functional.pad(x.to(acc), (0, 0, k // 2, k // 2))         # B,F+k-1,D
        w = self.depthwise.weight[:, 0].t().to(acc)                         # k,D
        bias = self.depthwise.bias
        out = bias.to(acc).expand_as(xp[:, :f]).clone() if bias is not None else torch.zeros_like(xp[:, :f])
        for j in range(k):
            out.addcmul_(xp[:, j:j + f], w[j])
        return out.to(x.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.glu(self.pointwise_in(x), dim=-1)                 # B,F,D
        x = self.depthwise_conv(x)                                           # B,F,D
        if self.norm_kind == "groupnorm":                                    # stats over (F, D) per sample
            x = torch.addcmul(self.norm.bias, nn.functional.layer_norm(x, x.shape[1:], eps=self.norm.eps),
                              self.norm.weight)
        else:
            x = self.norm(x)                                                 # stats over D per frame
        return self.drop(self.pointwise_out(nn.functional.silu(x)))         # B,F,D


class ConformerBlock(nn.Module):
    """One gated, adaLN-modulated Conformer block. forward(x (B,F,D), mod (B,12,D)) -> (B,F,D)."""

    def __init__(self, dim: int, num_heads: int, ffn_dim: int, kernel: int, conv_norm: str,
                 dropout: float, device=None, dtype=None):
        super().__init__()
        kw = dict(device=device, dtype=dtype)
        self.norms = nn.ModuleList(nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6, **kw) for _ in range(4))
        self.ffn1 = FeedForward(dim, ffn_dim, dropout, **kw)
        self.attn = RotarySelfAttention(dim, num_heads, dropout, **kw)
        self.attn_drop = nn.Dropout(dropout)
        self.conv = ConvModule(dim, kernel, conv_norm, dropout, **kw)
        self.ffn2 = FeedForward(dim, ffn_dim, dropout, **kw)
        self.final_norm = nn.LayerNorm(dim, **kw)
        # per-block offset added to the global modulation (adaLN-single); zero -> gates start at 0
        self.mod_table = nn.Parameter(torch.zeros(NUM_MOD, dim, **kw))

    def forward(self, x: torch.Tensor, mod: torch.Tensor) -> torch.Tensor:
        m = (mod + self.mod_table).unbind(dim=1)                             # 12 x (B,D)
        subs = ((self.ffn1, 0.5), (lambda h: self.attn_drop(self.attn(h)), 1.0), (self.conv, 1.0), (self.ffn2, 0.5))
        for i, (fn, weight) in enumerate(subs):
            shift, scale, gate = m[3 * i], m[3 * i + 1], m[3 * i + 2]
            h = fn(modulate(self.norms[i](x), shift, scale))                 # B,F,D
            x = torch.addcmul(x, (weight * gate)[:, None], h)                # x + w g h
        return self.final_norm(x)                                            # B,F,D


class ConformerTrunk(nn.Module):
    """N ConformerBlocks sharing one global adaLN MLP: (x (B,F,D), c (B,D)) -> (B,F,D)."""

    def __init__(self, dim: int, num_layers: int, num_heads: int, ffn_dim: int, kernel: int,
                 conv_norm: str, dropout: float, device=None, dtype=None):
        super().__init__()
        kw = dict(device=device, dtype=dtype)
        self.adaln = nn.Sequential(nn.SiLU(), Linear(dim, NUM_MOD * dim, **kw))
        self.blocks = nn.ModuleList(ConformerBlock(dim, num_heads, ffn_dim, kernel, conv_norm, dropout, **kw)
                                    for _ in range(num_layers))

    def modulation(self, c: torch.Tensor) -> torch.Tensor:
        """c (B,D) -> shared modulation (B,12,D)."""
        return self.adaln(c).view(c.shape[0], NUM_MOD, -1)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        mod = self.modulation(c)                                             # B,12,D
        if mod.shape[0] != x.shape[0]:                                       # one c for all CFG branches
            mod = mod.expand(x.shape[0], -1, -1)
        for block in self.blocks:
            x = block(x, mod)
        return x

    def initialize_weights(self) -> None:
        """Xavier-uniform linears, zero biases; the global adaLN projection and the per-block tables
        start at zero, so shift = scale = gate = 0 and every block begins as LN(x) (DiT's adaLN-Zero
        idea in adaLN-single form)."""
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)
        nn.init.zeros_(self.adaln[1].weight)
        nn.init.zeros_(self.adaln[1].bias)
        for block in self.blocks:
            nn.init.zeros_(block.mod_table)
