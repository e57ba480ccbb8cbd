"""Multi-head self-attention with rotary position embeddings (RoPE), used by the Conformer trunk and
the emotion blocks.

RoPE (Su et al. 2021) treats each channel pair (2i, 2i+1) of a query/key head as a complex number
and rotates it at frame position p by the angle p * theta_i, theta_i = base^(-2i/D):

    q'_p[i] = q_p[i] * exp(j p theta_i)        (j = sqrt(-1))

so Re(q'_p . conj k'_r) depends on p - r only. It is the only order signal the attention gets (the
depthwise convolution adds local order in the trunk); `tests/motion/test_model.py` checks it is active.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .linear import Linear


class RotaryEmbedding(nn.Module):
    """Unit complex rotations exp(j p theta_i), table (F, D/2) complex64, cached per device and grown on demand."""

    def __init__(self, head_dim: int, base: float = 10000.0):
        super().__init__()
        if head_dim % 2:
            raise ValueError(f"rotary embeddings need an even head dim, got {head_dim}")
        self.head_dim, self.base = head_dim, base
        self._cache: dict = {}

    def table(self, length: int, device: torch.device) -> torch.Tensor:
        cached = self._cache.get(device)
        if cached is None or cached.shape[0] < length:
            n = max(length, 128)
            theta = self.base ** (-torch.arange(0, self.head_dim, 2, dtype=torch.float64) / self.head_dim)  # D/2
            angles = torch.arange(n, dtype=torch.float64)[:, None] * theta[None]                           # n,D/2
            cached = torch.polar(torch.ones_like(angles), angles).to(device, torch.complex64)
            self._cache[device] = cached
        return cached[:length]

    def rotate(self, x: torch.Tensor) -> torch.Tensor:
        """x (B,F,...,D) real, frames on dim 1 -> rotated, same shape and dtype (computed in fp32)."""
        b, f = x.shape[:2]
        xc = torch.view_as_complex(x.float().reshape(*x.shape[:-1], -1, 2))                 # B,F,...,D/2
        rot = self.table(f, x.device).view(f, *([1] * (x.ndim - 3)), -1)                    # F,1..,D/2
        return torch.view_as_real(xc * rot).flatten(-2).to(x.dtype)


class RotarySelfAttention(nn.Module):
    """MHSA over a frame sequence: (B,F,D) -> (B,F,D), RoPE on queries and keys."""

    def __init__(self, dim: int, num_heads: int, dropout: float = 0.0,
                 device: torch.device | None = None, dtype: torch.dtype | None = None):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"d_model {dim} is not divisible by num_heads {num_heads}")
        self.num_heads, self.head_dim, self.dropout = num_heads, dim // num_heads, dropout
        self.qkv = Linear(dim, 3 * dim, device=device, dtype=dtype)
        self.proj = Linear(dim, dim, device=device, dtype=dtype)
        self.rope = RotaryEmbedding(self.head_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, f, d = x.shape
        qkv = self.qkv(x).view(b, f, 3, self.num_heads, self.head_dim)                         # B,F,3,H,Dh
        qk = self.rope.rotate(qkv[:, :, :2]).transpose(1, 3)                                    # B,H,2,F,Dh
        v = qkv[:, :, 2].transpose(1, 2)                                                        # B,H,F,Dh
        out = F.scaled_dot_product_attention(qk[:, :, 0], qk[:, :, 1], v,
                                             dropout_p=self.dropout if self.training else 0.0)  # B,H,F,Dh
        return self.proj(out.transpose(1, 2).reshape(b, f, d))                                 # B,F,D
