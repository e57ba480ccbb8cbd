"""nn.Linear with a faster CPU inference path (same parameters, same state-dict keys).

On x86 CPUs PyTorch's fp32 `F.linear` goes to MKL, which runs its AVX2 kernels on AMD processors;
oneDNN's inner product with a weight reordered once into its blocked layout runs the AVX-512 kernels
(measured 2.4-3x faster for the 180x512 @ 512x2048 products of a CFG-batched window on a 2-core Zen 5).
The reordered weight is cached on the module and rebuilt whenever the weight changes (new storage or
an in-place update such as load_state_dict). Training (autograd), non-CPU devices and other dtypes
use plain F.linear. Results differ from F.linear by float rounding only (another summation order).
Disable with PLAYMATE_FAST_LINEAR=0.
"""
from __future__ import annotations

import logging
import os

import torch
import torch.nn.functional as F
from torch import nn

log = logging.getLogger("playmate")

_STATE = {"enabled": os.environ.get("PLAYMATE_FAST_LINEAR", "1") != "0", "checked": False}
_DTYPES = (torch.float32, torch.bfloat16)


def _self_check() -> bool:
    """Run the oneDNN op once against F.linear; any failure disables the fast path for the process."""
    try:
        g = torch.Generator().manual_seed(0)
        x, w, b = (torch.randn(s, generator=g) for s in ((5, 16), (8, 16), (8,)))
        packed = torch.ops.mkldnn._reorder_linear_weight(w, None)
        y = torch.ops.mkldnn._linear_pointwise(x, packed, b, "swish", [], "")
        ok = torch.allclose(y, F.silu(F.linear(x, w, b)), atol=1e-5)
        y = torch.ops.mkldnn._linear_pointwise(x, packed, b, "gelu", [], "tanh")
        ok = ok and torch.allclose(y, F.gelu(F.linear(x, w, b), approximate="tanh"), atol=1e-5)
    except (AttributeError, RuntimeError, TypeError) as exc:
        log.debug("oneDNN packed linear unavailable (%s); using F.linear", exc)
        return False
    if not ok:
        log.debug("oneDNN packed linear disagrees with F.linear; using F.linear")
    return ok


def fast_linear_enabled() -> bool:
    if _STATE["enabled"] and not _STATE["checked"]:
        _STATE["checked"] = True
        _STATE["enabled"] = torch.backends.mkldnn.is_available() and _self_check()
    return _STATE["enabled"]


class Linear(nn.Linear):
    """nn.Linear; `forward(x, act)` with act 'none', 'swish' (SiLU) or 'gelu_tanh', fused into the product."""

    _packed: torch.Tensor | None = None
    _pack_key: tuple | None = None
    _pack_src: torch.Tensor | None = None     # keeps the packed storage alive, so its address is never reused

    def _packed_weight(self, x: torch.Tensor) -> torch.Tensor | None:
        w = self.weight
        if (x.device.type != "cpu" or x.dtype != w.dtype or w.dtype not in _DTYPES
                or (torch.is_grad_enabled() and (x.requires_grad or w.requires_grad)) or not fast_linear_enabled()):
            return None
        try:
            version = w._version
        except RuntimeError:          # inference tensors carry no version counter (and cannot change)
            version = -1
        key = (w.data_ptr(), version, w.dtype, tuple(w.shape))
        if self._pack_key != key:
            self._pack_src = w.detach()
            self._packed = torch.ops.mkldnn._reorder_linear_weight(self._pack_src, None)
            self._pack_key = key
        return self._packed

    def forward(self, x: torch.Tensor, act: str = "none") -> torch.Tensor:
        packed = self._packed_weight(x)
        if packed is not None:
            if act == "gelu_tanh":
                return torch.ops.mkldnn._linear_pointwise(x, packed, self.bias, "gelu", [], "tanh")
            return torch.ops.mkldnn._linear_pointwise(x, packed, self.bias, act, [], "")
        y = F.linear(x, self.weight, self.bias)
        if act == "swish":
            return F.silu(y)
        return F.gelu(y, approximate="tanh") if act == "gelu_tanh" else y
