"""Helpers shared by the eval tests (random-init networks in the public layouts)."""
from __future__ import annotations

import torch


def randomize_batchnorm(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Give BatchNorm statistics and affine terms non-trivial random values in place (the default
    init leaves them at 0/1, which would hide a mix-up of running_mean/var or weight/bias)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if name.endswith("running_var") or name.endswith("bn.weight"):
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            elif name.endswith("running_mean") or name.endswith("bn.bias"):
                t.copy_(torch.randn(t.shape, generator=g) * 0.1)
    return model
