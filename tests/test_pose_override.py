"""pose_override: the PoseOverride node's core call, closed-form on hand-made motions."""
import numpy as np
import pytest
import torch

from playmate_core.motion.generate import MotionSequence
from playmate_core.motion.layout import ANGLES, EXP, POSE
from playmate_core.pipeline.pose_edit import LIP_KEYPOINTS
from playmate_core.pipeline.source import PortraitSource
from playmate_core.pose_override import pose_override, scale_head_motion, still_motion


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
