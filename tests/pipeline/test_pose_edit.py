"""pipeline.pose_edit, closed-form: match_length, relative_driving, override_pose, replace_expression, and
pose_override (the PoseOverride node's core call) with still_motion and scale_head_motion on hand-made motions."""
import numpy as np
import pytest
import torch

from playmate_core.motion import MotionSequence
from playmate_core.motion.layout import ANGLES, EXP, POSE
from playmate_core.pipeline import (EYE_KEYPOINTS, LIP_KEYPOINTS, match_length, override_pose, relative_driving,
                                    replace_expression)
from playmate_core.pipeline.pose_edit import pose_override, scale_head_motion, still_motion
from playmate_core.pipeline.source import PortraitSource


def ramp(m: int, c: int = 2) -> torch.Tensor:
    """(m,c): row i holds i in every channel, so a row's value is its source position."""
    return torch.arange(m, dtype=torch.float32)[:, None].repeat(1, c)


def seq(n: int = 4, seed: int = 0, **kw) -> MotionSequence:
    g = torch.Generator().manual_seed(seed)
    values = torch.randn(n, 70, generator=g)
    values[:, 69] = 1.5 + 0.1 * torch.rand(n, generator=g)
    kw = {"fps": 25.0, "trained": True, "normalised": torch.zeros(n, 70), "origin": "audio", **kw}
    return MotionSequence(values=values, kp=torch.randn(1, 21, 3, generator=g), **kw)


@pytest.mark.parametrize("policy, expected", [
    ("loop", [0, 1, 2, 0, 1, 2, 0]),
    ("pingpong", [0, 1, 2, 1, 0, 1, 2]),
    ("hold", [0, 1, 2, 2, 2, 2, 2]),
    ("stretch", [0, 1 / 3, 2 / 3, 1, 4 / 3, 5 / 3, 2]),
])
def test_match_length_policies_same_fps(policy, expected):
    out = match_length(ramp(3), 25, 7, 25, policy)
    assert out.shape == (7, 2)
    torch.testing.assert_close(out[:, 0], torch.tensor(expected, dtype=torch.float32))


def test_match_length_is_identity_and_truncates_at_equal_fps():
    v = torch.randn(10, 70)
    for policy in ("loop", "pingpong", "hold"):
        torch.testing.assert_close(match_length(v, 30, 10, 30, policy), v)
        torch.testing.assert_close(match_length(v, 30, 4, 30, policy), v[:4])


def test_match_length_time_alignment_between_rates():
    # 50 fps source read at 25 fps: output frame i (centre (i+0.5)/25 s) sits at source position 2i + 0.5
    out = match_length(ramp(20), 50, 5, 25, "hold")
    torch.testing.assert_close(out[:, 0], torch.tensor([0.5, 2.5, 4.5, 6.5, 8.5]))
    # 10 fps read at 30 fps: position (i + 0.5) / 3 - 0.5, clamped at 0
    out = match_length(ramp(4), 10, 6, 30, "hold")
    torch.testing.assert_close(out[:, 0], torch.tensor([0.0, 0.0, 1 / 3, 2 / 3, 1.0, 4 / 3]))
    # loop at another rate: 3 frames at 10 fps read at 20 fps, p_i = 0.5 i - 0.25 taken mod 3; between
    # the last and the first frame it interpolates frame 2 -> frame 0 (2.25 -> 0.75*2 + 0.25*0 = 1.5)
    out = match_length(ramp(3), 10, 8, 20, "loop")
    assert out[:, 0].tolist()[4:8] == pytest.approx([1.75, 1.5, 0.5, 0.25])


def test_match_length_single_frame_and_errors():
    one = torch.tensor([[3.0, 4.0]])
    for policy in ("loop", "pingpong", "hold", "stretch"):
        torch.testing.assert_close(match_length(one, 25, 3, 30, policy), one.expand(3, 2))
    with pytest.raises(ValueError, match="policy must be one of"):
        match_length(one, 25, 3, 25, "bounce")
    with pytest.raises(ValueError, match="n .* integer >= 1"):
        match_length(one, 25, 0, 25)
    with pytest.raises(ValueError, match="src_fps must be a positive"):
        match_length(one, 0, 3, 25)
    with pytest.raises(ValueError, match=r"\(frames, channels\)"):
        match_length(torch.zeros(3), 25, 3, 25)


def test_relative_driving_closed_form():
    src = torch.zeros(70)
    src[:63], src[63:66], src[66:69], src[69] = 0.5, torch.tensor([1.0, 2.0, 3.0]), 0.1, 2.0
    drv = torch.zeros(3, 70)
    drv[:, :63] = torch.tensor([0.2, 0.3, 0.7])[:, None]
    drv[:, 64] = torch.tensor([10.0, 15.0, 5.0])
    drv[:, 66] = torch.tensor([0.0, 0.05, -0.05])
    drv[:, 69] = torch.tensor([1.0, 1.5, 0.5])
    out = relative_driving(drv, src)
    torch.testing.assert_close(out[0], src)                                   # frame 0 = the source
    torch.testing.assert_close(out[:, 0], torch.tensor([0.5, 0.6, 1.0]))      # exp_s + (exp_d - exp_d0)
    torch.testing.assert_close(out[:, 64], torch.tensor([2.0, 7.0, -3.0]))    # yaw_s + (yaw_d - yaw_d0)
    torch.testing.assert_close(out[:, 63], torch.ones(3))                     # pitch constant in driving
    torch.testing.assert_close(out[:, 66], torch.tensor([0.1, 0.15, 0.05]))
    torch.testing.assert_close(out[:, 69], torch.tensor([2.0, 3.0, 1.0]))     # scale_s * d / d0
    with pytest.raises(ValueError, match="one 70-d motion vector"):
        relative_driving(drv, torch.zeros(63))
    with pytest.raises(ValueError, match=r"driving must be \(frames, 70\)"):
        relative_driving(torch.zeros(3, 63), src)


def test_override_pose_per_axis_strength_and_offsets():
    m = seq(3)
    target = torch.tensor([10.0, 20.0, 30.0, 0.1, 0.2, 0.3, 2.0])
    out = override_pose(m, target, strength=(1.0, 0.0, 0.5, 0.25), offsets=(0.0, 5.0, -2.0))
    v, o = m.values, out.values
    torch.testing.assert_close(o[:, 63], torch.full((3,), 10.0))                       # pitch: s=1
    torch.testing.assert_close(o[:, 64], v[:, 64] + 5.0)                               # yaw: s=0, +5
    torch.testing.assert_close(o[:, 65], v[:, 65] + 0.5 * (30.0 - v[:, 65]) - 2.0)     # roll: half way, -2
    torch.testing.assert_close(o[:, 66:70], v[:, 66:70] + 0.25 * (target[3:] - v[:, 66:70]))   # position
    torch.testing.assert_close(o[:, :63], v[:, :63])                                   # expression kept
    assert out is not m and out.normalised is None and m.normalised is not None        # new object
    assert (out.fps, out.trained, out.origin, out.kp is m.kp) == (m.fps, m.trained, m.origin, True)
    assert not torch.equal(o, v) and torch.equal(m.values, seq(3).values)              # input not mutated


def test_override_pose_per_frame_target_and_identity():
    m = seq(4)
    same = override_pose(m, m.values[:, 63:70])
    torch.testing.assert_close(same.values, m.values)
    keep = override_pose(m, torch.zeros(7), strength=(0, 0, 0, 0))
    torch.testing.assert_close(keep.values, m.values)
    with pytest.raises(ValueError, match="target_pose must be .* match_length"):
        override_pose(m, torch.zeros(5, 7))
    with pytest.raises(ValueError, match=r"strength .* \[0, 1\]"):
        override_pose(m, torch.zeros(7), strength=(1.5, 0, 0, 0))
    with pytest.raises(ValueError, match="strength .* must be 4 finite numbers"):
        override_pose(m, torch.zeros(7), strength=(1, 1, 1))
    with pytest.raises(ValueError, match=r"offsets .* \[-90, 90\]"):
        override_pose(m, torch.zeros(7), offsets=(0, 120, 0))
    with pytest.raises(ValueError, match="must be a MotionSequence"):
        override_pose(m.values, torch.zeros(7))


def test_replace_expression_keeps_only_the_lips():
    m = seq(3)
    base = torch.full((63,), 7.0)
    out = replace_expression(m, base)
    exp, own = out.values[:, :63].reshape(3, 21, 3), m.values[:, :63].reshape(3, 21, 3)
    others = [k for k in range(21) if k not in LIP_KEYPOINTS]
    torch.testing.assert_close(exp[:, list(LIP_KEYPOINTS)], own[:, list(LIP_KEYPOINTS)])
    assert bool((exp[:, others] == 7.0).all())
    torch.testing.assert_close(out.values[:, 63:], m.values[:, 63:])                  # pose untouched
    assert out.normalised is None and out.origin == m.origin
    per_frame = torch.arange(3 * 63, dtype=torch.float32).reshape(3, 21, 3)
    full = replace_expression(m, per_frame, keep=())
    torch.testing.assert_close(full.values[:, :63], per_frame.reshape(3, 63))
    eyes = replace_expression(m, base, keep=EYE_KEYPOINTS).values[:, :63].reshape(3, 21, 3)
    torch.testing.assert_close(eyes[:, list(EYE_KEYPOINTS)], own[:, list(EYE_KEYPOINTS)])
    with pytest.raises(ValueError, match="keep must list keypoint indices"):
        replace_expression(m, base, keep=(21,))
    with pytest.raises(ValueError, match=r"base_exp must be \(63,\) or \(3, 63\)"):
        replace_expression(m, torch.zeros(2, 63))
    with pytest.raises(ValueError, match="NaN"):
        replace_expression(m, torch.full((63,), float("nan")))


# ---------------------------------------------------------------- pose_override (PoseOverride node)
def _source(pitch=2.0, yaw=-5.0, roll=1.0, exp_value=0.01) -> PortraitSource:
    motion = {"kp": torch.zeros(1, 21, 3), "exp": torch.full((1, 21, 3), exp_value),
              "pitch": torch.tensor([[pitch]]), "yaw": torch.tensor([[yaw]]), "roll": torch.tensor([[roll]]),
              "t": torch.tensor([[0.01, 0.02, 0.0]]), "scale": torch.tensor([[1.5]])}
    return PortraitSource(image=np.zeros((8, 8, 3), np.uint8), crop=None, f_s=torch.zeros(1), motion=motion,
                          x_s=torch.zeros(1, 21, 3), mask=np.ones((8, 8), np.float32))


def _motion(n=10, fps=25.0, seed=0) -> MotionSequence:
    g = torch.Generator().manual_seed(seed)
    values = torch.randn(n, 70, generator=g) * 0.05
    values[:, ANGLES] = torch.randn(n, 3, generator=g) * 10
    values[:, 69] = 1.5
    return MotionSequence(values=values, kp=torch.zeros(1, 21, 3), fps=fps, trained=True)


def test_generated_keeps_the_motion_and_offsets_add_degrees():
    m, src = _motion(), _source()
    same = pose_override(m, src, "generated")
    assert torch.equal(same.values, m.values)
    shifted = pose_override(m, src, "generated", offsets=(1.0, -2.0, 3.0))
    assert torch.allclose(shifted.values[:, ANGLES] - m.values[:, ANGLES], torch.tensor([1.0, -2.0, 3.0]).expand(10, 3))
    assert torch.equal(shifted.values[:, EXP], m.values[:, EXP])


def test_source_pose_with_per_axis_strength():
    m, src = _motion(), _source()
    out = pose_override(m, src, "source", strength=(1.0, 0.0, 0.5, 1.0))
    sp = src.vector()[POSE]
    assert torch.allclose(out.values[:, 63], sp[0].expand(10))                     # pitch replaced
    assert torch.allclose(out.values[:, 64], m.values[:, 64])                      # yaw kept
    assert torch.allclose(out.values[:, 65], 0.5 * (m.values[:, 65] + sp[2]))      # roll halfway
    assert torch.allclose(out.values[:, 66:70], sp[3:].expand(10, 4))              # position replaced


def test_expression_only_freezes_the_head_at_the_source_pose_keeping_the_expression():
    m, src = _motion(), _source()
    out = pose_override(m, src, "generated", strength=(0.0, 0.0, 0.0, 0.0), expression_only=True)
    assert torch.allclose(out.values[:, POSE], src.vector()[POSE].expand(10, 7))
    assert torch.equal(out.values[:, EXP], m.values[:, EXP])


def test_driving_relative_pose_and_lip_only_dubbing():
    m, src = _motion(n=10), _source()
    drv = _motion(n=4, seed=3)                                     # shorter: loops
    out = pose_override(m, src, "driving motion", driving=drv, lip_only=True, length_policy="loop")
    d = drv.values[torch.arange(10) % 4]
    rel_angles = src.vector()[ANGLES] + d[:, ANGLES] - drv.values[0, ANGLES]
    assert torch.allclose(out.values[:, ANGLES], rel_angles, atol=1e-5)
    exp = out.values[:, EXP].reshape(10, 21, 3)
    want_rest = (src.vector()[EXP] + d[:, EXP] - drv.values[0, EXP]).reshape(10, 21, 3)
    others = [k for k in range(21) if k not in LIP_KEYPOINTS]
    assert torch.allclose(exp[:, others], want_rest[:, others], atol=1e-6)
    assert torch.equal(exp[:, list(LIP_KEYPOINTS)], m.values[:, EXP].reshape(10, 21, 3)[:, list(LIP_KEYPOINTS)])


def test_driving_absolute_and_image_pose():
    m, src = _motion(), _source()
    drv = _motion(n=10, seed=5)
    out = pose_override(m, src, "driving motion", driving=drv, driving_mode="absolute")
    assert torch.allclose(out.values[:, POSE], drv.values[:, POSE])
    img = _source(pitch=-10.0, yaw=20.0, roll=0.0)
    out = pose_override(m, src, "image", pose_image=img)
    assert torch.allclose(out.values[:, ANGLES], torch.tensor([-10.0, 20.0, 0.0]).expand(10, 3))


@pytest.mark.parametrize("kwargs, fragment", [({"pose_source": "driving motion"}, "driving_motion"),
                                              ({"pose_source": "image"}, "pose_image"),
                                              ({"pose_source": "video"}, "pose_source must be one of"),
                                              ({"driving_mode": "sideways"}, "driving_mode")])
def test_missing_inputs_name_the_socket_to_connect(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        pose_override(_motion(), _source(), **kwargs)


def test_still_motion_holds_the_source():
    src = _source()
    m = still_motion(src, 5, 30.0)
    assert len(m) == 5 and m.fps == 30.0 and torch.allclose(m.values, src.vector().expand(5, 70))


def test_scale_head_motion_around_the_source_pose():
    m, src = _motion(), _source()
    sp = src.vector()[POSE]
    assert torch.allclose(scale_head_motion(m, src, 0.0).values[:, POSE], sp.expand(10, 7))
    assert scale_head_motion(m, src, 1.0) is m
    twice = scale_head_motion(m, src, 2.0).values
    assert torch.allclose(twice[:, POSE], sp + 2 * (m.values[:, POSE] - sp), atol=1e-5)
    assert torch.equal(twice[:, EXP], m.values[:, EXP])
    with pytest.raises(ValueError, match="pose_scale"):
        scale_head_motion(m, src, -1.0)
