"""generate_motion end to end on the tiny preset: determinism, bad input, emotion, callback, long audio."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from motion_helpers import active_model, features, source_motion
from playmate_core.motion import EMOTION_LABELS, emotion_weights, generate_motion

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def model():
    return active_model(emotion=True)


def _gen(model, n=120, **kw):
    kw.setdefault("steps", 3)
    return generate_motion(model, source_motion=source_motion(), features=features(n, model), **kw)


def test_same_seed_same_motion_different_seed_differs(model):
    a, b, c = _gen(model, seed=5), _gen(model, seed=5), _gen(model, seed=6)
    assert torch.equal(a.values, b.values)
    assert not torch.allclose(a.values, c.values)
    assert a.fps == 25 and a.trained is False


def test_silent_features_give_finite_motion(model):
    seq = generate_motion(model, source_motion=source_motion(), features=torch.zeros(60, 2, 32), steps=3)
    assert seq.values.shape == (60, 70) and torch.isfinite(seq.values).all()


@pytest.mark.parametrize("bad, match", [
    (torch.full((40, 2, 32), float("nan")), "NaN"),
    (torch.zeros(0, 2, 32), "shorter than one video frame"),
    (torch.zeros(40, 3, 32), r"\(N, 2, 32\)"),
    (torch.zeros(40, 32), r"\(N, 2, 32\)"),
])
def test_bad_features_raise_clear_errors(model, bad, match):
    with pytest.raises(ValueError, match=match):
        generate_motion(model, source_motion=source_motion(), features=bad, steps=1)


def test_other_bad_input(model):
    with pytest.raises(ValueError, match="no audio"):
        generate_motion(model, source_motion=source_motion())
    with pytest.raises(ValueError, match="extract_motion"):
        generate_motion(model, source_motion={"kp": torch.zeros(1, 21, 3)}, features=features(10, model))
    with pytest.raises(ValueError, match="fps must be a positive number"):
        _gen(model, fps=0)
    with pytest.raises(ValueError, match="encoder"):
        generate_motion(model, torch.zeros(16000), 16000, source_motion=source_motion())


def test_unknown_emotion_lists_the_labels(model):
    with pytest.raises(ValueError) as err:
        _gen(model, emotion="joyful")
    assert all(label in str(err.value) for label in EMOTION_LABELS)
    with pytest.raises(ValueError, match="intensity"):
        _gen(model, emotion="happy", intensity=5)


def test_emotion_needs_an_emotion_module():
    stage1 = active_model()
    with pytest.raises(ValueError, match="no emotion module"):
        _gen(stage1, emotion="happy")


def test_emotion_changes_expression_and_tracks_crossfade(model):
    plain, happy = _gen(model, seed=1), _gen(model, seed=1, emotion="happy", intensity=3)
    assert not torch.allclose(plain.values[:, :63], happy.values[:, :63])
    track = [(0.0, 2.0, "happy", 2), (2.0, 4.0, "sad", None)]
    seq = _gen(model, seed=1, emotion=track)
    assert seq.values.shape == (120, 70) and torch.isfinite(seq.values).all()
    emo, inten = emotion_weights(track, None, 120, 25)
    assert torch.allclose(emo.sum(1), torch.ones(120)) and torch.allclose(inten.sum(1), torch.ones(120))
    happy_w = emo[:, EMOTION_LABELS.index("happy")]
    assert happy_w[0] == 1 and happy_w[100] == 0
    ramp = happy_w[40:60]
    assert (ramp[1:] <= ramp[:-1]).all() and ((ramp > 0) & (ramp < 1)).sum() >= 5    # ~0.3 s crossfade
    assert emo[-1, -1] == 1                                                           # after 4 s: null emotion
    with pytest.raises(ValueError, match="start_s"):
        emotion_weights([(2.0, 1.0, "happy", 1)], None, 10, 25)


def test_callback_counts_steps_and_can_cancel(model):
    calls = []
    _gen(model, n=200, steps=4, callback=lambda i, total: calls.append((i, total)))
    windows = 3                                                                       # starts 0, 70, 120
    assert calls == [(i + 1, 4 * windows) for i in range(4 * windows)]

    class Cancelled(Exception):
        pass

    seen = []

    def cancel(i, total):
        seen.append(i)
        if i == 2:
            raise Cancelled("user cancelled")
    with pytest.raises(Cancelled):
        _gen(model, n=200, steps=4, callback=cancel)
    assert seen == [1, 2]


class FakeEncoder:
    """Stands in for playmate_core.audio.AudioEncoder: (S,) 16 kHz -> (ceil(S*fps/16000), 2, 32)."""

    def __init__(self):
        self.lengths = []

    def encode(self, wav, fps=25.0):
        self.lengths.append(wav.shape[0])
        n = -(-wav.shape[0] * int(fps) // 16000)
        return torch.sin(torch.arange(n * 64, dtype=torch.float32) * 0.01).view(n, 2, 32)


def test_waveform_path_pads_short_audio_with_silence(model):
    enc = FakeEncoder()
    seq = generate_motion(model, torch.randn(1, 22050), 44100, source_motion=source_motion(), encoder=enc, steps=2)
    assert len(seq) == 13                                                             # 0.5 s at 25 fps
    assert enc.lengths == [80 * 640]                                                  # padded to one window
    with pytest.raises(ValueError, match="shorter than one video frame"):
        generate_motion(model, torch.randn(300), 16000, source_motion=source_motion(), encoder=enc)


@pytest.mark.parametrize("fps", [25, 30, 24, 12.5, 60])
def test_any_fps_gives_exactly_ceil_duration_times_fps_frames(model, fps):
    import math
    enc = FakeEncoder()
    samples = 16000 * 3 + 123                                                         # 3.0077 s
    seq = generate_motion(model, torch.randn(samples), 16000, source_motion=source_motion(), encoder=enc,
                          steps=2, fps=fps)
    assert len(seq) == math.ceil(samples * fps / 16000) and seq.fps == fps
    ref = generate_motion(model, torch.randn(samples), 16000, source_motion=source_motion(), encoder=FakeEncoder(),
                          steps=2, fps=25)
    from playmate_core.motion.sequence import resample_frames
    assert torch.allclose(seq.values, resample_frames(ref.values, 25, fps, len(seq)), atol=1e-5)


def test_resample_frames_is_linear_interpolation():
    from playmate_core.motion.sequence import resample_frames
    v = torch.arange(10, dtype=torch.float32)[:, None] * 2.0                          # ramp at 25 fps
    out = resample_frames(v, 25, 50, 20)                                              # 2x: half-frame steps
    centre_pos = (torch.arange(20) + 0.5) * 0.5 - 0.5
    assert torch.allclose(out[:, 0], 2.0 * centre_pos.clamp(0, 9), atol=1e-5)
    assert torch.equal(resample_frames(v, 25, 25, 10), v)


LONG = textwrap.dedent("""
    import resource, sys, torch
    sys.path[:0] = ["tests/motion", "tests"]         # motion_helpers and the nets it imports
    from motion_helpers import active_model, source_motion
    from playmate_core.motion import generate_motion
    torch.set_num_threads(1)
    model = active_model(emotion=True)
    def rss():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    def run(n):
        feats = torch.randn(n, 2, 32)
        return generate_motion(model, source_motion=source_motion(), features=feats, steps=2, emotion="happy")
    run(300)
    base = rss()
    seq = run(15000)                      # 10 minutes at 25 fps
    assert seq.values.shape == (15000, 70) and torch.isfinite(seq.values).all()
    print(f"GROWTH {rss() - base:.1f}")
""")


@pytest.mark.slow                       # runs a subprocess
def test_ten_minutes_of_audio_in_bounded_memory():
    res = subprocess.run([sys.executable, "-c", LONG], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    growth = float(res.stdout.split("GROWTH")[-1])
    # the 15000-frame output and features are ~10 MB; keeping per-window activations would cost GBs
    assert growth < 80, f"peak RSS grew by {growth:.0f} MB"


def test_audio_reaches_the_audio_branch_only(model):
    """One window (prev = source, null audio): w_a = 0 is the pure null-audio branch and must ignore the
    audio; w_a = 1 is the pure audio branch and must follow it."""
    a, b = features(60, model, seed=1), features(60, model, seed=2)

    def run(feats, w_a):
        return generate_motion(model, source_motion=source_motion(), features=feats, steps=2, w_a=w_a).values
    assert torch.equal(run(a, 0.0), run(b, 0.0))
    assert not torch.allclose(run(a, 1.0), run(b, 1.0))


def test_real_tiny_audio_encoder_end_to_end(model):
    pytest.importorskip("transformers")
    audio = pytest.importorskip("playmate_core.audio")
    enc = audio.AudioEncoder(audio.build_random_encoder("tiny"), identity="tiny-test")
    wav = torch.randn(2, 44100 * 3, generator=torch.Generator().manual_seed(0)) * 0.1   # stereo, 44.1 kHz, 3 s
    seq = generate_motion(model, wav, 44100, source_motion=source_motion(), encoder=enc, steps=2, emotion="neutral")
    assert seq.values.shape == (75, 70) and torch.isfinite(seq.values).all()
