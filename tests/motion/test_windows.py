"""Long-audio windows: coverage, exact frame counts, seam blending, prev frames, training noise helper."""
from __future__ import annotations

import math

import pytest
import torch

from motion_helpers import active_model, features, source_motion
from playmate_core.motion import DDPMCosineScheduler, augment_previous_frames, generate_motion, start_previous_frames
from playmate_core.motion.playmate.windows import blend_ramp, stitch, window_starts

T, P, S = 80, 10, 70


@pytest.mark.parametrize("n", [1, 50, 80, 81, 150, 151, 219, 1000])
def test_window_starts_cover_and_end_at_n(n):
    starts = window_starts(max(n, T), T, S)
    total = max(n, T)
    assert starts[0] == 0 and starts[-1] == total - T
    assert all(b > a for a, b in zip(starts, starts[1:]))
    assert all(b - a == S for a, b in zip(starts[:-2], starts[1:-1]))        # regular stride until the last
    covered = torch.zeros(total, dtype=torch.bool)
    for s in starts:
        covered[s:s + T] = True
    assert covered.all()


def test_blend_ramp_is_a_smooth_symmetric_crossfade():
    r = blend_ramp(10)
    assert (r > 0).all() and (r < 1).all() and (r[1:] > r[:-1]).all()
    assert torch.allclose(r + r.flip(0), torch.ones(10))
    assert blend_ramp(1).item() == pytest.approx(0.5)


def _fake_windows(offsets, record=None):
    """A 'sampler' returning a smooth signal of the absolute frame plus a per-window offset."""
    def sample(k, start, prev, virtual):
        if record is not None:
            record.append((k, start, prev.clone(), virtual.clone()))
        frames = torch.arange(start, start + T, dtype=torch.float32)
        return torch.sin(2 * math.pi * frames / 50)[:, None].repeat(1, 70) + offsets[k % len(offsets)]
    return sample


@pytest.mark.parametrize("n", [1, 79, 80, 81, 300, 1234])
def test_stitch_returns_exact_frames_and_reads_final_prev_frames(n):
    source_z = torch.full((1, 70), 7.0)
    record = []
    out = stitch(n, T, P, source_z, _fake_windows([0.0, 0.3, -0.3], record))
    assert out.shape == (max(n, T), 70)
    assert torch.equal(record[0][2], source_z.expand(P, 70)) and record[0][3].all()   # window 0: source x P
    for k, start, prev, virtual in record[1:]:
        assert torch.equal(virtual, torch.arange(start - P, start) < 0)
        real = ~virtual
        # prev frames are final: frames before `start` are never changed afterwards (pose smoothing aside)
        assert torch.allclose(prev[real, :63], out[start - P:start][real[-min(P, start):], :63] if start >= P
                              else out[:start, :63])


def test_seams_have_no_jump():
    offsets = [0.0, 0.6, -0.6]
    n = 500
    out = stitch(n, T, P, torch.zeros(1, 70), _fake_windows(offsets))
    delta = (out[1:] - out[:-1]).abs().amax(dim=1)                           # per-frame step
    smooth_step = 2 * math.pi / 50                                           # max step of the signal itself
    assert delta.max() < smooth_step + 0.6 * 2 * 0.15                         # ramp slope <= pi/(2*11) ~ 0.143
    naive = torch.cat([_fake_windows(offsets)(k, s, None, None)[: (S if s + T < n else T)]
                       for k, s in enumerate(window_starts(n, T, S))])[:n]
    assert (naive[1:] - naive[:-1]).abs().amax(dim=1).max() > 3 * smooth_step   # a hard cut would jump


def test_chains_stitch_independently_and_keep_shared_values_shared():
    """stitch(chains=2): each chain reads its own previous frames; values on which the chains agree
    (here the pose dims) stay bit-identical through blending and pose smoothing; chain 0 alone gives
    the 2-D result."""
    n, record = 300, []
    single = stitch(n, T, P, torch.zeros(1, 70), _fake_windows([0.0, 0.4, -0.2]))

    def pair(k, start, prev, virtual):
        record.append((start, prev.clone()))
        base = _fake_windows([0.0, 0.4, -0.2])(k, start, prev, virtual)             # T,70
        other = base.clone()
        other[:, :63] += 0.1 * (k + 1) + prev[-1, 1, 0]                             # expression only
        return torch.stack([base, other], dim=1)                                    # T,2,70

    out = stitch(n, T, P, torch.zeros(1, 70), pair, chains=2)
    assert out.shape == (n, 2, 70) and torch.equal(out[:, 0], single)
    assert torch.equal(out[:, 0, 63:], out[:, 1, 63:])
    assert (out[:, 0, :63] - out[:, 1, :63]).abs().min() > 0.05
    for start, prev in record[1:]:                     # each chain reads its own final past (pose smoothing aside)
        assert torch.equal(prev[:, :, :63], out[start - P:start, :, :63])


def test_generate_returns_exactly_n_frames():
    model = active_model()
    for n in (1, 37, 80, 81, 230):
        seq = generate_motion(model, source_motion=source_motion(), features=features(n, model), steps=1)
        assert seq.values.shape == (n, 70) and len(seq.frames()) == n and torch.isfinite(seq.values).all()


def test_previous_frame_noise_augmentation():
    sch = DDPMCosineScheduler()
    prev = torch.randn(400, 10, 70, generator=torch.Generator().manual_seed(0))
    noisy, t_aug = augment_previous_frames(prev, sch, torch.Generator().manual_seed(1))
    assert t_aug.min() == 0 and t_aug.max() <= 49 and noisy.shape == prev.shape
    clean = t_aug == 0
    assert clean.any() and torch.equal(noisy[clean], prev[clean])
    assert not torch.equal(noisy[~clean], prev[~clean])
    worst = (1 - sch.alphas_cumprod[49]).sqrt().item()                       # ~0.09 in normalised units
    assert 0.05 < worst < 0.12
    start = start_previous_frames(torch.randn(3, 70), 10)
    assert start.shape == (3, 10, 70) and torch.equal(start[:, 0], start[:, 9])
