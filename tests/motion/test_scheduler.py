"""DDPM cosine schedule, epsilon targets and the DDIM sampler."""
from __future__ import annotations

import math

import pytest
import torch

from playmate_core.motion import DDPMCosineScheduler, DiffusionConfig
from playmate_core.motion.playmate.scheduler import cosine_alpha_bar


def test_cosine_alphas_cumprod_monotone_and_closed_form():
    sch = DDPMCosineScheduler()
    ab = sch.alphas_cumprod
    assert ab.shape == (1000,) and ab.dtype == torch.float64
    assert (ab[1:] < ab[:-1]).all() and ab[0] < 1 and ab[-1] > 0
    t = torch.arange(1000)
    closed = cosine_alpha_bar(t + 1, 1000, 0.008)                 # f(t+1)/f(0)
    unclipped = t < 990                                           # beta hits its 0.999 cap at the very end
    assert torch.allclose(ab[unclipped], closed[unclipped], rtol=1e-9, atol=0)
    s = 0.008                                                    # spot value from the formula itself
    f = lambda x: math.cos((x / 1000 + s) / (1 + s) * math.pi / 2) ** 2   # noqa: E731
    assert ab[499].item() == pytest.approx(f(500) / f(0), rel=1e-9)


def test_add_noise_and_epsilon_round_trip():
    sch = DDPMCosineScheduler()
    g = torch.Generator().manual_seed(0)
    x0, noise = torch.randn(4, 80, 70, generator=g), torch.randn(4, 80, 70, generator=g)
    t = torch.tensor([0, 100, 500, 900])
    x_t = sch.add_noise(x0, noise, t)
    assert torch.equal(sch.target(x0, noise, t), noise)
    assert torch.allclose(sch.predict_x0(x_t, noise, t), x0, atol=2e-4)
    ab = sch.alphas_cumprod[500].item()
    assert torch.allclose(x_t[2], math.sqrt(ab) * x0[2] + math.sqrt(1 - ab) * noise[2], atol=1e-6)
    assert sch.sample_timesteps(8, g).max() < 1000


def _ddim(sch, x0, steps, eta, seed):
    """Sample with an oracle eps that knows x0: DDIM must land on x0."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(x0.shape, generator=g)
    for t, t_prev in sch.set_timesteps(steps):
        ab = sch.alphas_cumprod[t].float()
        eps = (x - ab.sqrt() * x0) / (1 - ab).sqrt()
        x = sch.step(eps, t, t_prev, x, eta, g)
    return x


@pytest.mark.parametrize("clip", [None, 5.0])
def test_ddim_eta0_is_deterministic_and_exact_with_an_oracle(clip):
    sch = DDPMCosineScheduler(DiffusionConfig(x0_clip=clip))
    x0 = torch.randn(1, 80, 70, generator=torch.Generator().manual_seed(1)).clamp(-3, 3)
    a, b = _ddim(sch, x0, 25, 0.0, 7), _ddim(sch, x0, 25, 0.0, 7)
    assert torch.equal(a, b)
    assert torch.allclose(a, x0, atol=1e-3)


def test_ddim_eta1_depends_on_the_generator_only():
    sch = DDPMCosineScheduler()
    x0 = torch.zeros(1, 80, 70)
    assert torch.equal(_ddim(sch, x0, 10, 1.0, 3), _ddim(sch, x0, 10, 1.0, 3))
    assert not torch.equal(_ddim(sch, x0, 10, 1.0, 3), _ddim(sch, x0, 10, 1.0, 4))


def test_set_timesteps_trailing_spacing_and_validation():
    sch = DDPMCosineScheduler()
    pairs = sch.set_timesteps(25)
    assert len(pairs) == 25 and pairs[0][0] == 999 and pairs[-1] == (0, -1)
    assert all(t > tp for t, tp in pairs) and all(pairs[i][1] == pairs[i + 1][0] for i in range(24))
    for bad in (0, 1001, 2.5):
        with pytest.raises(ValueError, match="steps"):
            sch.set_timesteps(bad)


def test_diffusion_config_is_strict():
    with pytest.raises(ValueError, match="unknown keys"):
        DiffusionConfig.from_dict({"num_train_timesteps": 1000, "typo": 1})
    with pytest.raises(ValueError, match="cosine"):
        DiffusionConfig(schedule="linear")
