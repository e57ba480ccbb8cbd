"""DDPM cosine noise schedule with epsilon targets and DDIM sampling (motion-model.md §2.4).

Shared by the trainer (`add_noise`, `target`) and inference (`set_timesteps`, `step`); it holds no
network. Schedule (Nichol & Dhariwal 2021), T = 1000 training steps:

    f(t) = cos^2( (t/T + s) / (1 + s) * pi/2 ),  s = 0.008
    beta_t = min(1 - f(t+1)/f(t), 0.999),  t = 0..T-1
    alpha_bar_t = prod_{i<=t} (1 - beta_i)   (= f(t+1)/f(0) wherever beta is not clipped)
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ...config_base import ConfigMixin


@dataclass(frozen=True)
class DiffusionConfig(ConfigMixin):
    """Diffusion settings stored in every checkpoint. x0_clip: |x0_hat| bound in normalised units
    during sampling (None = off); it tames the first DDIM step, where alpha_bar ~ 2e-9."""
    num_train_timesteps: int = 1000
    schedule: str = "cosine"
    cosine_s: float = 0.008
    max_beta: float = 0.999
    prediction: str = "epsilon"
    x0_clip: float | None = 5.0

    def __post_init__(self):
        if self.schedule != "cosine" or self.prediction != "epsilon":
            raise ValueError(f"only schedule='cosine' and prediction='epsilon' are implemented, got "
                             f"{self.schedule!r}/{self.prediction!r}")


def cosine_alpha_bar(t: torch.Tensor, num_steps: int, s: float) -> torch.Tensor:
    """Closed form f(t)/f(0) (float64) for continuous t in [0, T]."""
    f = lambda x: torch.cos((x / num_steps + s) / (1 + s) * math.pi / 2) ** 2   # noqa: E731
    return f(t.double()) / f(torch.zeros((), dtype=torch.float64))


class DDPMCosineScheduler:
    """Cosine-schedule DDPM with epsilon prediction; DDIM sampler (Song et al. 2021, eq. 12)."""

    def __init__(self, config: DiffusionConfig = DiffusionConfig()):
        self.config = config
        n = config.num_train_timesteps
        f = cosine_alpha_bar(torch.arange(n + 1), n, config.cosine_s)               # n+1
        betas = (1 - f[1:] / f[:-1]).clamp(max=config.max_beta)                     # n
        self.alphas_cumprod = torch.cumprod(1 - betas, dim=0)                       # n, float64
        self.timesteps = torch.arange(n - 1, -1, -1)

    @property
    def num_train_timesteps(self) -> int:
        return self.config.num_train_timesteps

    def _abar(self, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """alpha_bar at integer timesteps t (B,) -> (B,1,...,1) broadcastable to `like`; t = -1 -> 1."""
        t = torch.as_tensor(t, device=self.alphas_cumprod.device).long().reshape(-1)
        ab = torch.where(t >= 0, self.alphas_cumprod[t.clamp(min=0)], torch.ones((), dtype=torch.float64))
        return ab.to(like.device, torch.float32).reshape(-1, *([1] * (like.ndim - 1)))

    # ---- training ------------------------------------------------------------------------------
    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Forward process q(x_t | x_0): x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps.  x0, noise (B,...)."""
        ab = self._abar(t, x0)
        return (ab.sqrt() * x0.float() + (1 - ab).sqrt() * noise.float()).to(x0.dtype)

    def target(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Regression target of the denoiser: epsilon itself (prediction = 'epsilon')."""
        return noise

    def sample_timesteps(self, batch: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Uniform training timesteps t ~ U{0..T-1}, (B,) int64."""
        return torch.randint(0, self.num_train_timesteps, (batch,), generator=generator)

    def predict_x0(self, x_t: torch.Tensor, eps: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """x0_hat = (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t)."""
        ab = self._abar(t, x_t)
        return (x_t - (1 - ab).sqrt() * eps) / ab.sqrt()

    # ---- sampling ------------------------------------------------------------------------------
    def set_timesteps(self, steps: int) -> list:
        """DDIM schedule of `steps` (t, t_prev) pairs, evenly spaced from T-1 down to 0 ("trailing"
        spacing: the first step starts from pure noise); t_prev = -1 means alpha_bar = 1 (clean)."""
        if not isinstance(steps, int) or not 1 <= steps <= self.num_train_timesteps:
            raise ValueError(f"steps must be an integer in 1..{self.num_train_timesteps}, got {steps!r}")
        ts = torch.linspace(self.num_train_timesteps - 1, 0, steps).round().long().tolist()
        return list(zip(ts, ts[1:] + [-1]))

    def step(self, eps: torch.Tensor, t: int, t_prev: int, x_t: torch.Tensor, eta: float = 0.0,
             generator: torch.Generator | None = None) -> torch.Tensor:
        """One DDIM update x_t -> x_{t_prev}.

        Notation (code -> symbols of Song et al., "DDIM", eq. 12; Playmate trains eps as in its
        denoising loss and samples with DDIM):
            x_t      x_t           noisy normalised motion, (B,T,70)
            eps      eps_theta(x_t, t, c)   guided noise prediction (paper eq. 8 after CFG)
            ab_t     alpha_t in DDIM notation (= alpha_bar_t of DDPM)
            ab_prev  alpha_{t-1}; 1 at the last step
            x0       f_theta(x_t) = (x_t - sqrt(1 - ab_t) eps) / sqrt(ab_t)   "predicted x0"
            sigma    sigma_t(eta) = eta * sqrt((1-ab_prev)/(1-ab_t)) * sqrt(1 - ab_t/ab_prev)
        Update:
            x_prev = sqrt(ab_prev) x0 + sqrt(1 - ab_prev - sigma^2) eps + sigma z,  z ~ N(0, I)
        eta = 0 is deterministic DDIM; eta = 1 is DDPM-like ancestral sampling. When x0 is clipped
        to +-config.x0_clip, eps is recomputed from the clipped x0 so both terms stay consistent.
        """
        x_t, eps = x_t.float(), eps.float()
        ab_t, ab_prev = self._abar(t, x_t), self._abar(t_prev, x_t)
        x0 = (x_t - (1 - ab_t).sqrt() * eps) / ab_t.sqrt()                        # 1. predicted x0
        if self.config.x0_clip is not None:
            x0 = x0.clamp(-self.config.x0_clip, self.config.x0_clip)
            eps = (x_t - ab_t.sqrt() * x0) / (1 - ab_t).sqrt()
        sigma = eta * ((1 - ab_prev) / (1 - ab_t) * (1 - ab_t / ab_prev)).clamp(min=0).sqrt()
        direction = (1 - ab_prev - sigma ** 2).clamp(min=0).sqrt() * eps           # 2. direction to x_t
        x_prev = ab_prev.sqrt() * x0 + direction                                  # 3. eq. 12
        if eta > 0 and t_prev >= 0:
            z = torch.randn(x_t.shape, generator=generator, dtype=torch.float32).to(x_t.device)
            x_prev = x_prev + sigma * z
        return x_prev
