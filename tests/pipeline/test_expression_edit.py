"""pipeline.expression_edit + keypoint_map: every control moves exactly the keypoints it documents, in the
documented direction; curves over time; still portraits; the rendered preview."""
import numpy as np
import pytest
import torch

from fine_control_helpers import engine, source, talking_motion  # noqa: F401 (fixtures)
from playmate_core.motion.layout import ANGLES, EXP
from playmate_core.pipeline import mouth_opening, render_frames
from playmate_core.pipeline.expression_edit import (PREVIEWS, apply_expression, edit_expression, expression_controls,
                                                    preview_indices, still_source_motion)
from playmate_core.pipeline.keyframes import Curve
from playmate_core.pipeline.keypoint_map import (CONTROL_NAMES, CONTROLS, EYE_A, EYE_B, POSE_CONTROLS, X, Y, Z,
                                                 control_offsets, eye_opening, eye_sides)

EXPRESSION = [n for n in CONTROL_NAMES if n not in POSE_CONTROLS]


def kp_with_eye_a_on(side: str) -> torch.Tensor:
    kp = torch.zeros(1, 21, 3)
    kp[0, EYE_A[0], X], kp[0, EYE_B[0], X] = (-0.3, 0.3) if side == "left" else (0.3, -0.3)
    return kp


def edit(motion, **values):
    return apply_expression(motion, {k: Curve((0.0,), (float(v),)) for k, v in values.items()})


def changed(a, b) -> set:
    return set(np.flatnonzero((a.values != b.values).any(dim=0).numpy()).tolist())


ENDS = [(n, v) for n in EXPRESSION for v in (CONTROLS[n].high, CONTROLS[n].low) if v != 0]   # both directions


@pytest.mark.parametrize("name,value", ENDS)
def test_each_control_moves_only_its_documented_keypoints(name, value):
    c = CONTROLS[name]
    m = talking_motion(10)
    m.kp = kp_with_eye_a_on("left")
    out = edit(m, **{name: value})
    pos, neg = control_offsets(name, m.kp)
    table = pos if value > 0 else neg
    expected = {int(i) for i in torch.flatten(table).nonzero().flatten()}
    assert changed(m, out) == expected and expected                              # exactly those dims
    assert {d // 3 for d in expected} <= set(c.keypoints())                      # as listed in CONTROLS
    delta = (out.values - m.values)[:, EXP]
    assert torch.allclose(delta, (abs(value) * table).reshape(1, 63).expand(10, -1), atol=1e-7)


@pytest.mark.parametrize("name", POSE_CONTROLS)
def test_head_offsets_change_only_their_angle(name):
    m = talking_motion(10)
    out = edit(m, **{name: -12.5})
    axis = ANGLES.start + POSE_CONTROLS.index(name)
    assert changed(m, out) == {axis}
    assert torch.allclose(out.values[:, axis], m.values[:, axis] - 12.5)


def test_directions_on_the_keypoints():
    m = talking_motion(4)
    m.kp = kp_with_eye_a_on("left")
    base = m.values[:, EXP].reshape(-1, 21, 3)

    def moved(**values):
        return (edit(m, **values).values[:, EXP].reshape(-1, 21, 3) - base)[0]

    smile = moved(smile=1)
    assert smile[14, Y] < 0 and smile[20, Y] < 0 and smile[17, Y] > 0 and smile[17, Z] > 0   # corners up
    assert moved(smile=-1)[14, Y] > 0                                                        # corners down
    eyes = eye_opening(base)
    assert np.all(eye_opening(edit(m, eye_openness=-1).values[:, EXP]) < eyes - 0.02)       # both close
    assert np.all(eye_opening(edit(m, eye_openness=1).values[:, EXP]) > eyes)               # both widen
    left = eye_opening(edit(m, wink_left=1).values[:, EXP]) - eyes                          # EYE_A is on the left
    assert np.all(left[:, 0] < -0.02) and np.all(left[:, 1] == 0)
    m.kp = kp_with_eye_a_on("right")
    left = eye_opening(edit(m, wink_left=1).values[:, EXP]) - eyes
    assert np.all(left[:, 1] < -0.02) and np.all(left[:, 0] == 0)
    assert moved(pupil_x=1)[11, X] > 0 and moved(pupil_x=1)[15, X] > 0                      # to the image right
    assert moved(pupil_y=1)[11, Y] < 0 and moved(pupil_y=-1)[15, Y] > 0                     # up / down
    assert moved(brow=1)[1, Y] > 0 and moved(brow=1)[2, Y] < 0
    frown = moved(brow=-1)
    assert frown[1, X] > 0 and frown[2, X] < 0                                               # knitted together
    opened = mouth_opening(edit(m, mouth_aa=1).values.numpy()) - mouth_opening(m.values.numpy())
    assert np.all(opened > 0.02)                                                             # aa opens the mouth
    assert moved(mouth_ee=1)[20, Z] < 0 and moved(mouth_oo=1)[17, Z] < 0 and moved(mouth_oo=1)[14, Y] > 0


def test_eye_sides_follow_the_canonical_keypoints():
    assert eye_sides(kp_with_eye_a_on("left")) == {"left": EYE_A, "right": EYE_B}
    assert eye_sides(kp_with_eye_a_on("right")) == {"left": EYE_B, "right": EYE_A}


def test_keyframed_curves_vary_over_time_and_leave_tracks():
    m = talking_motion(76)                                                       # 3 s at 25 fps
    controls = expression_controls({"brow": 0.5}, "smile: 0:0, 1.5:1, 3:0\nhead_yaw: 0:-10, 3:10")
    out = apply_expression(m, controls)
    t = np.arange(76) / 25
    smile = np.interp(t, [0, 1.5, 3], [0, 1, 0])
    assert np.allclose(out.tracks["edit:smile"].numpy(), smile, atol=1e-6)
    assert np.allclose((out.values - m.values)[:, 14 * 3 + 1].numpy(), smile * -0.02, atol=1e-6)
    assert np.allclose((out.values - m.values)[:, 64].numpy(), np.interp(t, [0, 3], [-10, 10]), atol=1e-5)
    assert set(out.tracks) == {"edit:smile", "edit:head_yaw", "edit:brow"}
    assert torch.equal(apply_expression(m, {}).values, m.values)                 # no controls: no change


def test_control_errors():
    with pytest.raises(ValueError, match="smile has both a value \\(0.5\\) and a keyframe curve"):
        expression_controls({"smile": 0.5}, "smile: 0:0, 1:1")
    with pytest.raises(ValueError, match="unknown expression controls \\['grin'\\]"):
        expression_controls({"grin": 1})
    with pytest.raises(ValueError, match="wink_left = -1 is outside \\[0, 1\\]"):
        expression_controls({"wink_left": -1})
    with pytest.raises(ValueError, match="unknown control 'grin'"):
        expression_controls({}, "grin: 1")


def test_still_source_motion(source):                                            # noqa: F811
    one = still_source_motion(source)
    assert len(one) == 1 and torch.equal(one.values[0], source.vector()) and torch.equal(one.kp, source.kp)
    assert len(still_source_motion(source, 2.0, 12.5)) == 25
    with pytest.raises(ValueError, match="still_seconds must be a number in \\[0, 60\\]"):
        still_source_motion(source, -1)


def test_preview_indices():
    assert preview_indices(1, PREVIEWS[0]) == [0] and preview_indices(10, PREVIEWS[0]) == [0, 4, 9]
    assert preview_indices(10, "last") == [9] and preview_indices(10, "none") == []
    with pytest.raises(ValueError, match="preview must be one of"):
        preview_indices(3, "all")


def test_edit_renders_the_chosen_frames(engine, source):                         # noqa: F811
    out, frames = edit_expression(engine, source, None, {"smile": 1.0, "head_yaw": 5.0})
    assert len(out) == 1 and frames.shape == (1, 512, 512, 3) and frames.dtype == np.uint8
    plain = next(render_frames(engine, source, still_source_motion(source), paste_back=False))
    assert np.abs(frames[0].astype(int) - plain.astype(int)).mean() > 0          # the edit shows
    direct = next(render_frames(engine, source, out, paste_back=False))
    assert np.array_equal(frames[0], direct)                                    # the preview IS the render
    motion, frames = edit_expression(engine, source, None, {}, "wink_right: 0:0, 1:1", still_seconds=2.0, fps=10,
                                     preview="last")
    assert len(motion) == 20 and frames.shape[0] == 1
    assert float(motion.tracks["edit:wink_right"][-1]) == 1.0
    none = edit_expression(engine, source, talking_motion(5), {"smile": 0.2}, preview="none")[1]
    assert none.shape == (0, 512, 512, 3)
