"""70-d motion layout, face-engine conversions and the adaptive normalisation (eq. 5-6)."""
from __future__ import annotations

import pytest
import torch

from motion_helpers import active_model, features, source_motion
from playmate_core.face import keypoints
from playmate_core.motion import MOTION_LAYOUT, MotionStats, generate_motion, motion_to_vector, vector_to_motion
from playmate_core.motion.layout import clip_pose_stats, denormalise, inference_pose_std, normalise


def test_layout_slices_cover_70_dims_once():
    covered = sorted(i for a, b in MOTION_LAYOUT.values() for i in range(a, b))
    assert covered == list(range(70))


def test_motion_dict_vector_round_trip():
    src = source_motion()
    vec = motion_to_vector(src)                                              # 1,70
    assert vec.shape == (1, 70) and vec[0, 63].item() == 3.0 and vec[0, 69].item() == pytest.approx(1.6)
    back = vector_to_motion(vec, src["kp"])
    for k in src:
        assert torch.equal(back[k].reshape(src[k].shape), src[k].float()), k
    logits = torch.zeros(1, 66)
    logits[0, 40] = 50.0                                                     # bin 40 -> 40*3 - 97.5 = 22.5 deg
    assert motion_to_vector({**src, "yaw": logits})[0, 64].item() == pytest.approx(22.5, abs=1e-4)


def test_normalise_denormalise_identity_with_clip_stats():
    stats = MotionStats.placeholder()
    g = torch.Generator().manual_seed(0)
    clip = torch.randn(120, 70, generator=g) * 0.02
    clip[:, 63:66] = torch.randn(120, 3, generator=g) * 4 + 10               # degrees
    mu, sigma = clip_pose_stats(clip[:, 63:], stats)
    z = normalise(clip, stats, mu, sigma)
    assert torch.allclose(z[:, 63:66].mean(0), torch.zeros(3), atol=1e-5)
    assert torch.allclose(denormalise(z, stats, mu, sigma), clip, atol=1e-5)


def test_pose_std_floor_applies_to_static_clips():
    stats = MotionStats.placeholder()
    static = torch.zeros(50, 7)
    static[:, 0] = 2.0
    mu, sigma = clip_pose_stats(static, stats)
    assert torch.equal(sigma, torch.tensor(stats.pose_std_floor))
    assert mu[0].item() == 2.0


def test_pose_scale_zero_holds_the_source_pose():
    model = active_model()
    src = source_motion()
    seq = generate_motion(model, source_motion=src, features=features(90, model), steps=3, pose_scale=0.0)
    pose = seq.values[:, 63:]
    assert torch.equal(pose, motion_to_vector(src)[:, 63:].expand_as(pose))
    assert seq.values[:, :63].std() > 0                                      # expression still moves
    with pytest.raises(ValueError, match="pose_scale"):
        inference_pose_std(model.stats, -1.0, pose)


def test_frames_render_through_transform_keypoints():
    model = active_model()
    src = source_motion()
    seq = generate_motion(model, source_motion=src, features=features(30, model), steps=2)
    frames = seq.frames()
    assert len(frames) == 30 and set(frames[0]) == {"kp", "exp", "pitch", "yaw", "roll", "t", "scale"}
    x = keypoints.transform_keypoints(*(frames[5][k] for k in ("kp", "pitch", "yaw", "roll", "exp", "scale", "t")))
    assert x.shape == (1, 21, 3) and torch.isfinite(x).all()
    assert torch.equal(frames[5]["kp"], src["kp"])
    batched = seq.motion()
    assert batched["exp"].shape == (30, 21, 3) and batched["pitch"].shape == (30, 1)


def test_stats_are_strict():
    data = MotionStats.placeholder().to_dict()
    assert MotionStats.from_dict(data) == MotionStats.placeholder()
    with pytest.raises(ValueError, match="missing keys"):
        MotionStats.from_dict({k: v for k, v in data.items() if k != "exp_std"})
    with pytest.raises(ValueError, match="expected 63"):
        MotionStats.from_dict({**data, "exp_mean": [0.0] * 62})
    with pytest.raises(ValueError, match="> 0"):
        MotionStats.from_dict({**data, "exp_std": [0.0] * 63})


def test_optional_stats_fields_round_trip():
    data = {**MotionStats.placeholder().to_dict(), "pose_std_p90": [1.0] * 7, "raw_p999": [2.0] * 70}
    stats = MotionStats.from_dict(data)
    assert stats.raw_p999 == (2.0,) * 70 and stats.raw_p001 is None
    assert MotionStats.from_dict(stats.to_dict()) == stats
    with pytest.raises(ValueError, match="expected 70"):
        MotionStats.from_dict({**data, "raw_p001": [0.0] * 7})
