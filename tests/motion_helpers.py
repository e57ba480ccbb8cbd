"""Shared builders for the motion-model tests: tiny models with non-trivial weights, inputs."""
from __future__ import annotations

import torch

from playmate_core.motion import build_motion_model


def perturb_(module: torch.nn.Module, seed: int, std: float = 0.05) -> None:
    """Add N(0, std) to every parameter, so zero-initialised gates and heads become active."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn(p.shape, generator=g) * std)


def active_model(preset: str = "tiny", emotion: bool = False, seed: int = 0, emotion_active: bool = True):
    """A tiny model whose stage-1 weights (and, if emotion_active, the emotion module's) are perturbed."""
    torch.manual_seed(seed)
    model = build_motion_model(preset, emotion=emotion)
    perturb_(model.denoiser, seed)
    if emotion and emotion_active:
        perturb_(model.emotion, seed + 1)
    return model.eval()


def source_motion(seed: int = 0) -> dict:
    """A plausible single-frame face-engine motion dict."""
    g = torch.Generator().manual_seed(seed)
    return {"kp": torch.randn(1, 21, 3, generator=g) * 0.1, "exp": torch.randn(1, 21, 3, generator=g) * 0.01,
            "pitch": torch.tensor([[3.0]]), "yaw": torch.tensor([[-8.0]]), "roll": torch.tensor([[1.5]]),
            "t": torch.tensor([[0.01, -0.02, 0.0]]), "scale": torch.tensor([[1.6]])}


def features(n: int, model, seed: int = 0) -> torch.Tensor:
    """Synthetic audio hidden states (N, L, D) for `model`'s audio config."""
    g = torch.Generator().manual_seed(seed)
    cfg = model.config
    return torch.randn(n, cfg.audio_layers, cfg.audio_dim, generator=g)
