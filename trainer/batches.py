"""Batch -> denoiser inputs for one training step (motion-model.md §2.4, §2.5, §2.7).

All randomness comes from the step's CPU generator `g` (seeded from run seed, step and rank), so a
resumed run draws exactly the same timesteps, noise, prev-frame augmentation and dropout.
"""
from __future__ import annotations

import torch

from playmate_core.motion.playmate.windows import augment_previous_frames, start_previous_frames


def diffusion_inputs(batch: dict, model, cond, g: torch.Generator, device) -> dict:
    """-> dict(x_t (B,T,70), t (B,), noise (B,T,70), prev (B,P,70), audio (B,P+T+4,L,D),
    f_id (B,126), audio_null (B,P+T) bool) with:
        t ~ U{0..999}; x_t = sqrt(abar) x0 + sqrt(1 - abar) eps
        p = 1 - p_start: GT prev frames noised at t_aug ~ U{0..prev_noise_steps-1} (0 = clean)
        p = p_start:     prev = reference frame x P, prev audio = null ("start" case)
    Condition dropout of the CURRENT audio is left to the stage (audio_null[:, P:])."""
    sched = model.scheduler
    x0, prev, ref = batch["x0"], batch["prev"], batch["ref"]                 # B,T,70  B,P,70  B,70
    b, p = x0.shape[0], prev.shape[1]
    t = sched.sample_timesteps(b, g)                                          # B
    noise = torch.randn(x0.shape, generator=g)                                # B,T,70
    x_t = sched.add_noise(x0, noise, t)
    prev_aug, _ = augment_previous_frames(prev, sched, g, cond.prev_noise_steps)
    start = torch.rand(b, generator=g) < cond.p_start                         # B
    prev_in = torch.where(start[:, None, None], start_previous_frames(ref, p), prev_aug)
    audio_null = torch.zeros(b, p + x0.shape[1], dtype=torch.bool)
    audio_null[:, :p] = start[:, None]
    dtype = model.dtype
    out = {"x_t": x_t, "t": t, "noise": noise, "prev": prev_in, "audio": batch["audio"], "f_id": batch["f_id"],
           "audio_null": audio_null}
    return {k: v.to(device, dtype) if v.is_floating_point() else v.to(device) for k, v in out.items()}


def drop_current_audio(inputs: dict, drop: torch.Tensor) -> None:
    """Null the current-window audio tokens of the samples where drop (B,) is True (CFG dropout)."""
    p = inputs["prev"].shape[1]
    inputs["audio_null"][:, p:] |= drop.to(inputs["audio_null"].device)[:, None]


def eps_mse(eps: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """MSE over all 70 dims, in float32 (bf16 autocast outputs are upcast)."""
    return torch.nn.functional.mse_loss(eps.float(), noise.float())
