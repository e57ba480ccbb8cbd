"""JoyVASA's sampler: ancestral DDPM on a cosine schedule with an x0-predicting network and audio CFG.

Schedule (Nichol & Dhariwal 2021, s = 0.008), T steps, index 0 is "no noise":

    abar'(k) = cos^2(((k/T) + s) / (1 + s) * pi/2) / (same at k = 0),   k = 0..T
    beta_k   = clip(1 - abar'(k) / abar'(k-1), 1e-4, 0.999),  beta_0 = 0
    alpha_k  = 1 - beta_k,  abar_k = exp(sum_{j<=k} log alpha_j)         (all float32)
    sigma_k  = sqrt((1 - abar_{k-1}) / (1 - abar_k) * beta_k)            ("inflexible" posterior std)

Step t -> t-1 with the network's x0 estimate x0_hat (posterior mean of q(x_{t-1} | x_t, x0)):

    x_{t-1} = (1 - abar_{t-1}) sqrt(alpha_t) / (1 - abar_t) * x_t
            + beta_t sqrt(abar_{t-1}) / (1 - abar_t) * x0_hat  +  sigma_t z,    z ~ N(0, I), z = 0 at t = 1

The released model uses every step t = T..1. `respaced` builds the same update for a subsequence of
steps (improved-DDPM respacing: betas re-derived from abar at the kept steps); the network is still
told the ORIGINAL step index. It is a speed option; only the full schedule is the reference's.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

COSINE_S = 0.008
BETA_MIN, BETA_MAX = 1e-4, 0.999


def cosine_schedule(steps: int) -> dict:
    """The five (T+1,) float32 tables the released file stores under `diffusion_sched.`."""
    k = torch.linspace(0, steps, steps + 1, device="cpu")          # CPU data even under a device context
    abar = torch.cos(((k / steps) + COSINE_S) / (1 + COSINE_S) * torch.pi * 0.5) ** 2
    abar = abar / abar[0]
    betas = torch.cat([torch.zeros(1, device="cpu"), (1 - abar[1:] / abar[:-1]).clip(BETA_MIN, BETA_MAX)])   # T+1
    alphas = 1 - betas
    log_abar = torch.log(alphas)
    for i in range(1, steps + 1):               # sequential float32 sums, as the stored tables were made
        log_abar[i] += log_abar[i - 1]
    alpha_bars = log_abar.exp()
    inflex = torch.zeros_like(betas)
    inflex[1:] = (1 - alpha_bars[:-1]) / (1 - alpha_bars[1:]) * betas[1:]
    return {"betas": betas, "alphas": alphas, "alpha_bars": alpha_bars, "sigmas_flex": betas.sqrt(),
            "sigmas_inflex": inflex.sqrt()}


@dataclass(frozen=True)
class StepCoefficients:
    """One update x_{t-1} = c_xt * x_t + c_x0 * x0_hat + sigma * z, network step index `t`."""
    t: int
    c_xt: float
    c_x0: float
    sigma: float


def plan_steps(schedule: dict, steps: int | None = None) -> list:
    """StepCoefficients from the last step to step 1. steps None (or T): the reference's full chain."""
    abar = schedule["alpha_bars"].double()
    total = abar.shape[0] - 1
    steps = total if steps is None else int(steps)
    if not 1 <= steps <= total:
        raise ValueError(f"steps must be between 1 and {total} (the checkpoint's n_diff_steps), got {steps}")
    if steps == total:                           # exactly the stored float32 tables
        a, ab, b = (schedule[k] for k in ("alphas", "alpha_bars", "betas"))
        sig = schedule["sigmas_inflex"]
        return [StepCoefficients(t, float((1 - ab[t - 1]) * a[t].sqrt() / (1 - ab[t])),
                                 float(b[t] * ab[t - 1].sqrt() / (1 - ab[t])), float(sig[t]))
                for t in range(total, 0, -1)]
    kept = sorted({round(x) for x in torch.linspace(1, total, steps).tolist()}, reverse=True)
    plan = []
    for i, t in enumerate(kept):
        prev_abar = float(abar[kept[i + 1]]) if i + 1 < len(kept) else 1.0
        beta = 1 - float(abar[t]) / prev_abar
        c_xt = (1 - prev_abar) * math.sqrt(1 - beta) / (1 - float(abar[t]))
        c_x0 = beta * math.sqrt(prev_abar) / (1 - float(abar[t]))
        plan.append(StepCoefficients(t, c_xt, c_x0, math.sqrt((1 - prev_abar) / (1 - float(abar[t])) * beta)))
    return plan


def guided_x0(x0_null: torch.Tensor, x0_audio: torch.Tensor, scale: float) -> torch.Tensor:
    """Audio classifier-free guidance on x0 estimates: x0 = x0(null) + s * (x0(audio) - x0(null)).

    s = 1 is the conditional model alone, s = 0 ignores the audio; the reference's default is 2.8.
    """
    return x0_null + scale * (x0_audio - x0_null)


def step(coef: StepCoefficients, x_t: torch.Tensor, x0_hat: torch.Tensor, z: torch.Tensor | None) -> torch.Tensor:
    """Posterior update (module docstring); z is ignored at the last step (t = 1)."""
    out = coef.c_xt * x_t + coef.c_x0 * x0_hat
    return out + coef.sigma * z if z is not None and coef.t > 1 else out
