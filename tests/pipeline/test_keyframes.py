"""pipeline.keyframes: the curve text syntax, linear interpolation, strict errors."""
import numpy as np
import pytest

from playmate_core.pipeline.keyframes import Curve, parse_curve, parse_keyframes

RANGES = {"smile": (-1, 1), "head_yaw": (-45, 45), "wink_left": (0, 1)}


def test_curve_interpolates_linearly_and_holds_the_ends():
    c = parse_curve("0:0, 1.5:1, 3:0")
    assert c == Curve((0.0, 1.5, 3.0), (0.0, 1.0, 0.0))
    assert np.allclose(c.at([0, 0.75, 1.5, 2.25, 3, 10]), [0, 0.5, 1, 0.5, 0, 0])
    late = parse_curve(" 1 : -0.5 ,2:0.5 ")
    assert np.allclose(late.at([0, 1, 1.5, 2, 5]), [-0.5, -0.5, 0, 0.5, 0.5])        # held before / after
    const = parse_curve("0.4")
    assert const.constant and np.allclose(const.at(np.arange(5)), 0.4)


def test_named_curves_comments_and_separators():
    curves = parse_keyframes("smile: 0:0, 1:1   # grin\n\n  head_yaw: -10 ; wink_left: 2:0, 2.2:1, 2.4:0\n", RANGES)
    assert list(curves) == ["smile", "head_yaw", "wink_left"]
    assert curves["head_yaw"].at(7.0) == -10 and curves["wink_left"].at(2.2) == 1
    assert parse_keyframes("", RANGES) == {} and parse_keyframes("# nothing\n", RANGES) == {}


@pytest.mark.parametrize("text,message", [
    ("smle: 0:1", "line 1 .*unknown control 'smle'; controls are smile, head_yaw, wink_left"),
    ("smile 0:1", "line 1 .*unknown control 'smile 0'"),
    ("smile: 0:0, 1:1\nsmile: 2:0", "line 2 .*'smile' has a curve already"),
    ("smile: 0:0, 0:1", "times must increase, but 0 s follows 0 s"),
    ("smile: 1:0, 0.5:1", "times must increase"),
    ("smile: -1:0", "negative"),
    ("smile: 0:2", "value 2 is outside \\[-1, 1\\]"),
    ("wink_left: 0:-0.5", "outside \\[0, 1\\]"),
    ("smile: 0:a", "value 'a' is not a number"),
    ("smile: x:1", "time 'x' is not a number"),
    ("smile: 0:1,", "'' is not a 'seconds:value' key"),
    ("smile: 0:1:2", "is not a 'seconds:value' key"),
    ("smile:", "empty curve"),
    ("smile: nan", "must be finite"),
    (": 0:1", "expected 'name: curve'"),
])
def test_strict_errors_name_the_line_and_the_fix(text, message):
    with pytest.raises(ValueError, match=message):
        parse_keyframes(text, RANGES)


def test_keyframes_must_be_text():
    with pytest.raises(ValueError, match="keyframes must be text"):
        parse_keyframes(None, RANGES)
