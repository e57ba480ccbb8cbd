"""Builders for the tests in tests/motion: tiny Playmate motion models with non-trivial weights, inputs."""
from __future__ import annotations

import torch

from nets import perturb_
from playmate_core.motion import build_motion_model


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
