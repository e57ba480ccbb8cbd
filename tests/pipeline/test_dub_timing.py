"""Video dubbing, time (pipeline/dub_timing.py): every length policy gives exactly THE frame count of the audio
at 25 and 29.97 fps, maps onto real source frames, and behaves as documented (pure, no media)."""
from fractions import Fraction

import numpy as np
import pytest

from playmate_core.pipeline.dub_timing import (DUB_POLICIES, output_frame_count, resolve_output_fps,
                                               source_frame_indices)
from playmate_core.timebase import frame_count

NTSC = Fraction(30000, 1001)


@pytest.mark.parametrize("policy", DUB_POLICIES)
@pytest.mark.parametrize("out_fps", [25, 29.97, NTSC])
@pytest.mark.parametrize("src_fps", [25, 29.97, 30])
def test_every_policy_gives_the_audio_frame_count(policy, out_fps, src_fps):
    sr = 44100
    samples = 2 * sr + 12345                                   # 2.28 s of audio: not a whole number of frames
    n = output_frame_count(samples, sr, out_fps)
    assert n == frame_count(samples, out_fps, sr)
    m = 200 if policy == "trim" else 23                        # trim needs a video as long as the audio
    idx = source_frame_indices(m, src_fps, n, out_fps, policy)
    assert idx.shape == (n,) and idx.dtype == np.int64
    assert idx.min() >= 0 and idx.max() <= m - 1


def test_equal_rates_show_the_frames_in_order_then_apply_the_policy():
    m, n = 4, 11
    expect = {"loop": [0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2],
              "pingpong": [0, 1, 2, 3, 2, 1, 0, 1, 2, 3, 2],
              "hold": [0, 1, 2, 3, 3, 3, 3, 3, 3, 3, 3]}
    for policy, want in expect.items():
        assert source_frame_indices(m, 25, n, 25, policy).tolist() == want, policy
    stretched = source_frame_indices(m, 25, n, 25, "stretch")
    assert stretched[0] == 0 and stretched[-1] == m - 1 and np.all(np.diff(stretched) >= 0)
    assert sorted(set(stretched.tolist())) == [0, 1, 2, 3]                # every frame shown, in order


def test_a_longer_video_is_cut_at_the_audio_by_every_policy_but_stretch():
    for policy in ("trim", "loop", "pingpong", "hold"):
        assert source_frame_indices(100, 25, 10, 25, policy).tolist() == list(range(10))
    squeezed = source_frame_indices(100, 25, 10, 25, "stretch")
    assert squeezed[0] < 10 and squeezed[-1] >= 90                      # the whole video, sped up


def test_trim_refuses_a_video_shorter_than_the_audio():
    with pytest.raises(ValueError, match=r"shorter than the audio.*choose loop, pingpong, hold or stretch"):
        source_frame_indices(20, 25, 21, 25, "trim")
    assert source_frame_indices(20, 25, 20, 25, "trim").tolist() == list(range(20))
    # 1 s of audio at 2.5 fps is ceil(2.5) = 3 frames (1.2 s): the last one starts at 0.8 s, inside a 1 s video
    assert source_frame_indices(25, 25, 3, 2.5, "trim").tolist() == [5, 15, 24]
    with pytest.raises(ValueError, match="shorter than the audio"):
        source_frame_indices(20, 25, 3, 2.5, "trim")                         # 0.8 s: the last frame starts at its end


def test_frame_times_follow_the_source_exactly_across_rates():
    # 29.97 -> 25 fps: output frame j shows the source frame on screen at its centre, (j + 1/2) / 25 s
    n = 25 * 600                                                         # ten minutes: no drift allowed
    idx = source_frame_indices(10**6, NTSC, n, 25, "trim")
    centres = (np.arange(n) + 0.5) / 25
    shown_from, shown_to = idx * 1001 / 30000, (idx + 1) * 1001 / 30000
    assert np.all(shown_from <= centres + 1e-9) and np.all(centres < shown_to + 1e-9)
    assert np.all(np.diff(idx) >= 1)                                     # 25 < 29.97: never a repeated frame
    up = source_frame_indices(10**6, 25, 30 * 60, NTSC, "trim")          # 25 -> 29.97: some frames twice
    assert np.all(np.diff(up) <= 1) and (np.diff(up) == 0).any()


def test_pingpong_never_jumps_and_loop_wraps():
    for m in (2, 3, 7):
        pp = source_frame_indices(m, 25, 50, 25, "pingpong")
        assert np.abs(np.diff(pp)).max() == 1                            # no cut, only reversals
        lp = source_frame_indices(m, 25, 50, 25, "loop")
        assert set(np.diff(lp).tolist()) == {1, -(m - 1)}
    assert source_frame_indices(1, 25, 5, 25, "pingpong").tolist() == [0] * 5


def test_output_fps_defaults_to_the_source_and_is_checked():
    assert resolve_output_fps(None, NTSC) == NTSC
    assert resolve_output_fps(0, 25) == 25 and resolve_output_fps(0.0, Fraction(25, 2)) == Fraction(25, 2)
    assert resolve_output_fps(29.97, 25) == Fraction(2997, 100)
    with pytest.raises(ValueError, match="the dub's output fps"):
        resolve_output_fps(500, 25)
    with pytest.raises(ValueError, match="source video's frame rate"):
        resolve_output_fps(None, 240)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="length policy must be one of"):
        source_frame_indices(5, 25, 5, 25, "bounce")
    with pytest.raises(ValueError, match="video's frame count"):
        source_frame_indices(0, 25, 5, 25, "loop")
    with pytest.raises(ValueError, match="sample count"):
        output_frame_count(0, 16000, 25)
