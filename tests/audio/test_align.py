"""Native 50 Hz frames -> video frames at any fps: frame counts, windows, pair averaging, interpolation."""
from fractions import Fraction

import pytest
import torch

from playmate_core.audio.align import (native_frames_needed, native_to_video, pad_for_native_frames,
                                       video_frame_weights)
from playmate_core.timebase import frame_count

FPS = [25, 30, 24, 12.5, 60, 29.97, 50, 100]


def cnn_frames(num_samples: int) -> int:
    """wav2vec2's conv output length (kernel 400 samples, hop 320)."""
    return (num_samples - 400) // 320 + 1


@pytest.mark.parametrize("n", [1, 2, 25, 101])
def test_25fps_pads_40_each_side_and_gives_2n_frames(n):
    x = torch.randn(640 * n)
    m = native_frames_needed(n, 25)
    assert m == 2 * n
    padded = pad_for_native_frames(x, m)
    assert padded.shape[0] == 640 * n + 80
    torch.testing.assert_close(padded[40:-40], x)
    assert cnn_frames(padded.shape[0]) == 2 * n


@pytest.mark.parametrize("fps", FPS)
@pytest.mark.parametrize("samples", [640, 16048, 16000 * 3 + 7, 12345])
def test_padding_covers_the_audio_and_every_frame(fps, samples):
    n = frame_count(samples, fps, 16000)
    m = native_frames_needed(n, fps)
    padded = pad_for_native_frames(torch.zeros(samples), m)
    assert cnn_frames(padded.shape[0]) == m
    video, native, w = video_frame_weights(n, fps, m)
    assert int(native.max()) < m
    sums = torch.zeros(n, dtype=torch.float64).index_add_(0, video, w)
    torch.testing.assert_close(sums, torch.ones(n, dtype=torch.float64))   # a weighted mean per frame


def test_25fps_is_pair_averaging():
    h = torch.randn(20, 3, 8)                                       # (M=2N, L, D)
    out = native_to_video(h, 25, 10)
    torch.testing.assert_close(out, h.view(10, 2, 3, 8).mean(1), rtol=0, atol=1e-6)


@pytest.mark.parametrize("fps", [30, 24, 12.5, 29.97, Fraction(30000, 1001)])
def test_native_frames_go_to_the_window_holding_their_centre(fps):
    n = 40
    m = native_frames_needed(n, fps)
    video, native, _ = video_frame_weights(n, fps, m)
    f = Fraction(fps).limit_denominator(1001)
    for v, k in zip(video.tolist(), native.tolist()):
        centre = Fraction(2 * k + 1, 100)                          # (k + 1/2) / 50 s
        assert Fraction(v) / f <= centre < Fraction(v + 1) / f
    assert sorted(set(native.tolist())) == list(range(len(native)))  # each native frame used once


def test_12_5fps_averages_fours():
    h = torch.randn(16, 5)
    torch.testing.assert_close(native_to_video(h, 12.5, 4), h.view(4, 4, 5).mean(1), rtol=0, atol=1e-6)


def test_above_50fps_interpolates_linearly():
    h = torch.arange(10, dtype=torch.float32)[:, None]             # native value = index
    out = native_to_video(h, 100, 20)[:, 0]                        # centres at (i + 1/2) / 100 s
    expected = ((torch.arange(20) + 0.5) / 2 - 0.5).clamp(0, 9)    # position in native frames
    torch.testing.assert_close(out, expected)


def test_too_few_native_frames_is_an_error():
    with pytest.raises(ValueError, match="native_frames_needed"):
        video_frame_weights(10, 25, 15)
    with pytest.raises(ValueError, match="native_frames_needed"):
        pad_for_native_frames(torch.zeros(640 * 10 + 1), 20)
