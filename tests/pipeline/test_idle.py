"""pipeline.blinks, pipeline.silence and pipeline.idle: blinks on the eyelids only, the mouth closing in the
audio's pauses on the lips only, deterministic per seed, for a motion of any origin."""
import numpy as np
import pytest
import torch

from fine_control_helpers import SR, speech_with_pauses, talking_motion
from playmate_core.motion.layout import EXP, POSE
from playmate_core.pipeline import load_motion_file, mouth_opening, save_motion_file
from playmate_core.pipeline.blinks import MIN_GAP_S, add_blinks, blink_curve, blink_schedule
from playmate_core.pipeline.idle import add_idle
from playmate_core.pipeline.keypoint_map import LID_TRAVEL, LOWER_LID_SHARE, eye_opening
from playmate_core.pipeline.silence import close_mouth, pauses_for_motion, silence_weights

EYELID_DIMS = {11 * 3 + 1, 13 * 3 + 1, 15 * 3 + 1, 16 * 3 + 1}
LIP_Y_DIMS = {k * 3 + 1 for k in (6, 12, 14, 17, 19, 20)}
FULL_DROP = (1 + LOWER_LID_SHARE) * LID_TRAVEL


def changed_dims(a, b) -> set:
    return set(np.flatnonzero((a.values != b.values).any(dim=0).numpy()).tolist())


def count_blinks(before, after) -> int:
    """Blinks seen in the eye keypoints: runs of frames whose eye opening dropped by over half a full closure."""
    drop = (eye_opening(before.values[:, EXP]) - eye_opening(after.values[:, EXP])).mean(axis=1)
    closed = np.concatenate([[0], (drop > FULL_DROP / 2).astype(int)])
    return int((np.diff(closed) == 1).sum())


@pytest.mark.parametrize("fps", [25.0, 12.5, 30.0])
def test_rate_zero_means_no_blinks(fps):
    m = talking_motion(int(60 * fps), fps)
    out = add_blinks(m, 0, seed=3)
    assert torch.equal(out.values, m.values) and float(out.tracks["blink"].abs().max()) == 0
    assert blink_schedule(60.0, 0, 0, fps) == []


@pytest.mark.parametrize("rate", [6, 15, 30, 45])
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("fps", [12.5, 25.0, 30.0])
def test_n_per_minute_gives_about_n_blinks_in_a_minute(rate, seed, fps):
    m = talking_motion(int(60 * fps), fps)                                      # one minute
    out = add_blinks(m, rate, seed=seed)
    assert abs(count_blinks(m, out) - rate) <= 1                                 # N +- 1 (the bar: +-30 %)
    assert changed_dims(m, out) == EYELID_DIMS                                   # never the lips or the pose


def test_blink_shape_spacing_and_closure_on_a_frame():
    for fps in (12.5, 25.0, 30.0):
        blinks = blink_schedule(300.0, 20, seed=7, fps=fps)
        assert 90 <= len(blinks) <= 110
        lengths = np.array([b.end - b.start for b in blinks])
        assert lengths.min() >= 0.1 - 1e-9 and lengths.max() <= 0.4 + 1e-9 and 0.15 < np.median(lengths) < 0.3
        assert all(b.peak - b.start < b.end - b.peak for b in blinks)                   # closing is faster
        gaps = np.array([b.start - a.end for a, b in zip(blinks, blinks[1:])])
        assert gaps.min() >= MIN_GAP_S - 1 / fps                                       # (peak snapped to a frame)
        intervals = np.diff([b.peak for b in blinks])
        assert intervals.std() / intervals.mean() > 0.25                                # irregular, not a metronome
        curve = blink_curve(blinks, int(300 * fps), fps)
        assert curve.min() == 0 and curve.max() == 1
        peaks = [curve[int(round(b.peak * fps))] for b in blinks]
        assert np.allclose(peaks, 1.0)                                                 # seen fully closed


def test_blinks_close_both_eyes_by_the_documented_amount():
    m = talking_motion(250)
    out = add_blinks(m, 20, seed=0)
    c = out.tracks["blink"].double().numpy()
    drop = eye_opening(m.values[:, EXP]) - eye_opening(out.values[:, EXP])             # N,2
    assert np.allclose(drop, c[:, None] * FULL_DROP, atol=1e-6)
    assert (out.values[:, 11 * 3 + 1] - m.values[:, 11 * 3 + 1]).max() == pytest.approx(LID_TRAVEL, abs=1e-6)


def test_blinks_are_deterministic_per_seed():
    m = talking_motion(750, origin="joyvasa")
    a, b, c = add_blinks(m, 15, seed=5), add_blinks(m, 15, seed=5), add_blinks(m, 15, seed=6)
    assert torch.equal(a.values, b.values) and not torch.equal(a.values, c.values)
    assert a.origin == "joyvasa" and a.fps == m.fps and len(a) == len(m)


def test_silence_weights_ramp_in_and_out():
    w = silence_weights([(1.0, 2.0)], 75, 25.0, strength=0.8, ease=0.2)
    t = (np.arange(75) + 0.5) / 25
    assert np.all(w[t <= 1.0] == 0) and np.all(w[t >= 2.0] == 0)
    assert np.allclose(w[(t > 1.2) & (t < 1.8)], 0.8)
    rise, fall = w[(t > 1.0) & (t < 1.2)], w[(t > 1.8) & (t < 2.0)]
    assert np.all(np.diff(rise) > 0) and np.all(np.diff(fall) < 0) and 0 < rise.min() and rise.max() < 0.8
    short = silence_weights([(1.0, 1.1)], 75, 25.0, ease=0.2)                    # shorter than two ramps
    assert 0 < short.max() < 1


def test_close_mouth_moves_only_the_lips_vertical_offsets():
    m = talking_motion(50)
    w = np.linspace(0, 1, 50)
    out = close_mouth(m, w)
    assert changed_dims(m, out) <= LIP_Y_DIMS
    ratio = mouth_opening(out.values.numpy()) / mouth_opening(m.values.numpy())
    assert np.allclose(ratio, 1 - w, atol=1e-5)                                  # opening shrinks by (1 - w)
    with pytest.raises(ValueError, match="weights must be 50 numbers in \\[0, 1\\]"):
        close_mouth(m, np.full(50, 1.5))


def test_one_second_pause_closes_the_mouth():
    wave = speech_with_pauses([("speech", 2.0), ("pause", 1.0), ("speech", 2.0)])
    m = talking_motion(125)                                                      # 5 s at 25 fps, mouth open
    out = add_idle(m, wave, SR, blink_rate=0, silence_strength=1.0)
    before, after = mouth_opening(m.values.numpy()), mouth_opening(out.values.numpy())
    t = (np.arange(125) + 0.5) / 25
    pause = (t > 2.25) & (t < 2.75)
    assert after[pause].max() < 0.05 * before[pause].min()                       # closed in the pause
    talk = (t < 1.8) | (t > 3.2)
    assert np.array_equal(after[talk], before[talk])                             # untouched while talking
    assert torch.equal(out.values[:, POSE], m.values[:, POSE])
    half = add_idle(m, wave, SR, blink_rate=0, silence_strength=0.5)
    assert np.allclose(mouth_opening(half.values.numpy())[pause], 0.5 * before[pause], rtol=1e-4)


@pytest.mark.parametrize("gain", [0.002, 1.0, 30.0])
def test_silence_does_not_depend_on_the_recording_level(gain):
    wave = speech_with_pauses([("speech", 1.5), ("pause", 0.8), ("speech", 1.5)], seed=2)
    m = talking_motion(96)
    ref = add_idle(m, wave, SR, blink_rate=0)
    assert torch.equal(add_idle(m, wave * gain, SR, blink_rate=0).values, ref.values)


def test_add_idle_touches_eyes_and_lips_only_and_carries_tracks():
    wave = speech_with_pauses([("pause", 0.6), ("speech", 3.0), ("pause", 1.0), ("speech", 2.0)], seed=4)
    m = talking_motion(166, origin="driving")
    out = add_idle(m, np.stack([wave, wave])[None], SR, blink_rate=30, seed=1)   # ComfyUI's (1, C, S)
    assert changed_dims(m, out) <= EYELID_DIMS | LIP_Y_DIMS
    assert set(out.tracks) == {"blink", "silence"} and out.tracks["blink"].shape == (166,)
    assert float(out.tracks["silence"].max()) == pytest.approx(1.0)
    again = add_idle(m, np.stack([wave, wave])[None], SR, blink_rate=30, seed=1)
    assert torch.equal(again.values, out.values)


def test_frames_after_the_audio_count_as_silence():
    assert pauses_for_motion([(1.0, 2.0)], 2.0, 2.5, 0.3) == [(1.0, 2.5)]
    assert pauses_for_motion([], 2.0, 2.5, 0.3) == [(2.0, 2.5)]
    assert pauses_for_motion([], 2.0, 2.1, 0.3) == []


def test_tracks_do_not_break_motion_files(tmp_path):
    out = add_idle(talking_motion(50), speech_with_pauses([("speech", 2.0)]), SR, blink_rate=20)
    path = save_motion_file(tmp_path / "m.motion.safetensors", out)
    back = load_motion_file(path)
    assert torch.equal(back.values, out.values) and back.tracks is None          # tracks are display-only


def test_errors():
    m = talking_motion(25)
    wave = speech_with_pauses([("speech", 1.0)])
    with pytest.raises(ValueError, match="blinks per minute in \\[0, 60\\]"):
        add_idle(m, wave, SR, blink_rate=-1)
    with pytest.raises(ValueError, match="silence strength must be a number in \\[0, 1\\]"):
        add_idle(m, wave, SR, silence_strength=2)
    with pytest.raises(ValueError, match="min_pause"):
        add_idle(m, wave, SR, min_pause=0)
    with pytest.raises(ValueError, match="needs a MotionSequence"):
        add_idle("motion", wave, SR)
