"""playmate_core.timebase: THE frame count N = ceil(duration * fps), exact for samples, frames and seconds,
and the same N from every part that counts frames (audio features, both motion backends' lengths)."""
from fractions import Fraction

import pytest

from playmate_core.pipeline.video_file import video_rate
from playmate_core.timebase import fps_fraction, frame_count


@pytest.mark.parametrize("amount,fps,rate,n", [
    (16000, 25, 16000, 25), (16001, 25, 16000, 26), (0, 25, 16000, 0),
    (100, 30, 25, 120), (101, 30, 25, 122), (50, 12.5, 25, 25),
    (3.0, 25, 1, 75), (3.0000001, 25, 1, 75), (3.04, 25, 1, 76),      # floats to the microsecond
    (Fraction(1001, 1000), Fraction(30000, 1001), 1, 30), (1.001, 29.97, 1, 30),
])
def test_frame_count(amount, fps, rate, n):
    assert frame_count(amount, fps, rate) == n


def test_fps_is_one_rational_everywhere():
    assert fps_fraction(29.97) == Fraction(2997, 100) == video_rate(29.97)
    assert fps_fraction(30000 / 1001) == Fraction(30000, 1001) == video_rate(30000 / 1001)
    for bad in (0, -1, float("nan"), float("inf"), True, "25"):
        with pytest.raises(ValueError, match="fps must be a positive number"):
            fps_fraction(bad)
    with pytest.raises(ValueError, match="finite number"):
        frame_count(float("inf"), 25)
