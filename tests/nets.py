"""Random networks with non-trivial state, shared by every test folder (tests/ is on sys.path: `from nets import`).

Default initialisation leaves BatchNorm statistics at 0/1, affine terms at 1/0, PReLU slopes equal and
spectral-norm vectors converged: a loader that mixed up or dropped such a tensor would go unnoticed.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch
from torch.nn.modules.batchnorm import _BatchNorm


def randomize_norms(model: torch.nn.Module | Mapping[str, torch.nn.Module] | Iterable[torch.nn.Module],
                    seed: int = 0, *, affine: bool = False, prelu: bool = False):
    """Give normalisation state random, non-default values in place, from one generator seeded with SEED.

    MODEL is a module, a {name: module} dict (e.g. the face-engine slots) or an iterable of modules; it is
    returned unchanged in kind. Always: every BatchNorm's running_mean ~ 0.1 N(0,1) and running_var ~ 0.5 +
    U(0,1), and spectral-norm buffers (`weight_u`, `weight_v`) become random unit vectors. With AFFINE, BatchNorm
    weight ~ 0.5 + U(0,1) and bias ~ 0.1 N(0,1) too; with PRELU, PReLU slopes ~ 0.25 + 0.05 N(0,1).
    Modules are visited in registration order, so a given model and seed always give the same values.
    """
    modules = model.values() if isinstance(model, Mapping) else [model] if isinstance(model, torch.nn.Module) else model
    g = torch.Generator().manual_seed(seed)

    def randn(t: torch.Tensor) -> torch.Tensor:
        return torch.randn(t.shape, generator=g).to(t.dtype)

    def rand(t: torch.Tensor) -> torch.Tensor:
        return torch.rand(t.shape, generator=g).to(t.dtype)

    with torch.no_grad():
        for root in modules:
            for module in root.modules():
                if isinstance(module, _BatchNorm):
                    if module.track_running_stats:
                        module.running_mean.copy_(0.1 * randn(module.running_mean))
                        module.running_var.copy_(0.5 + rand(module.running_var))
                    if affine and module.affine:
                        module.weight.copy_(0.5 + rand(module.weight))
                        module.bias.copy_(0.1 * randn(module.bias))
                elif prelu and isinstance(module, torch.nn.PReLU):
                    module.weight.copy_(0.25 + 0.05 * randn(module.weight))
                for name in ("weight_u", "weight_v"):
                    buf = module._buffers.get(name)
                    if buf is not None:
                        buf.copy_(torch.nn.functional.normalize(randn(buf), dim=0))
    return model


def perturb_(module: torch.nn.Module, seed: int, std: float = 0.05) -> None:
    """Add N(0, std) to every parameter, so zero-initialised gates and heads become active."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn(p.shape, generator=g) * std)
