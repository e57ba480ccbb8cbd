"""Waveform preparation: resampling, channel/batch layouts, validation, normalisation, file decoding."""
import subprocess
import sys
import textwrap
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

from playmate_core.audio.io import check_duration, load_audio_file, normalize_waveform, prepare_waveform
from playmate_core.timebase import fps_fraction, frame_count


def tone(freq: float, sr: int, seconds: float, channels: int | None = None) -> np.ndarray:
    t = np.arange(int(round(sr * seconds))) / sr
    x = 0.5 * np.sin(2 * np.pi * freq * t).astype(np.float32)          # (S,)
    return x if channels is None else np.stack([x] * channels)        # (C, S)


def peak_hz(x: torch.Tensor, sr: int = 16000) -> float:
    spec = np.abs(np.fft.rfft(x.numpy() * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / sr)[np.argmax(spec)])


@pytest.mark.parametrize("sr", [8000, 22050, 44100, 48000, 16000])
def test_resample_keeps_frequency_and_length(sr):
    x = tone(440.0, sr, 1.003)
    y = prepare_waveform(x, sr)
    assert y.dtype == torch.float32 and y.dim() == 1
    assert y.shape[0] == round(len(x) * 16000 / sr)
    assert abs(peak_hz(y) - 440.0) < 2.0
    assert abs(float(y[1000:-1000].abs().max()) - 0.5) < 0.02        # amplitude kept away from the edges


def test_stereo_is_averaged_and_torch_numpy_agree():
    left, right = tone(300.0, 16000, 0.5), tone(700.0, 16000, 0.5)
    stereo = np.stack([left, right])                                  # (2, S)
    y = prepare_waveform(stereo, 16000)
    np.testing.assert_allclose(y.numpy(), (left + right) / 2, atol=1e-6)
    torch.testing.assert_close(prepare_waveform(torch.from_numpy(stereo), 16000), y)


def test_comfyui_audio_layout():
    audio = {"waveform": torch.from_numpy(tone(440.0, 44100, 0.5, channels=2))[None], "sample_rate": 44100}
    y = prepare_waveform(audio["waveform"], audio["sample_rate"])     # (1, 2, S) -> (S16,)
    assert y.shape == (8000,)
    assert abs(peak_hz(y) - 440.0) < 3.0


def test_batch_of_clips_is_refused():
    with pytest.raises(ValueError, match="batch of 2 clips"):
        prepare_waveform(torch.zeros(2, 1, 16000), 16000)


def test_samples_last_layout_is_refused_with_the_fix():
    with pytest.raises(ValueError, match=r"transpose"):
        prepare_waveform(np.zeros((16000, 2), np.float32), 16000)


def test_integer_pcm_is_scaled():
    x = (tone(440.0, 16000, 0.25) * 32767).astype(np.int16)
    y = prepare_waveform(x, 16000)
    assert abs(float(y.abs().max()) - 0.5) < 1e-3


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_samples_are_refused(bad):
    x = tone(440.0, 16000, 0.5)
    x[100] = bad
    with pytest.raises(ValueError, match="NaN/inf"):
        prepare_waveform(x, 16000)


@pytest.mark.parametrize("x", [np.zeros(0, np.float32), torch.zeros(1, 2, 0)])
def test_empty_audio_is_refused(x):
    with pytest.raises(ValueError, match="empty"):
        prepare_waveform(x, 16000)


@pytest.mark.parametrize("sr", [0, -16000, float("nan"), "16000", 1, 3999, 400_000])
def test_bad_sample_rate(sr):
    with pytest.raises(ValueError, match="sample rate of .* Hz; Playmate accepts whole rates from 4000"):
        prepare_waveform(np.zeros(100, np.float32), sr)


def test_normalisation_matches_the_feature_extractor():
    from transformers import Wav2Vec2FeatureExtractor

    x = torch.from_numpy(tone(440.0, 16000, 1.0)) * 0.3 + 0.1
    y = normalize_waveform(x)
    assert abs(float(y.mean())) < 1e-6 and abs(float(y.std(correction=0)) - 1) < 1e-5
    fe = Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True)
    ref = fe(x.numpy(), sampling_rate=16000, return_tensors="np").input_values[0]
    np.testing.assert_allclose(y.numpy(), ref, atol=1e-5)


def test_silence_stays_finite():
    for x in (torch.zeros(16000), torch.full((16000,), 0.25)):
        y = normalize_waveform(x)
        assert torch.isfinite(y).all() and float(y.abs().max()) == 0.0


@pytest.mark.parametrize("fps", [25, 30, 24, 12.5, 60, 29.97, Fraction(30000, 1001)])
@pytest.mark.parametrize("seconds", [1.0, 1.003, 0.04, 7.77])
def test_num_video_frames_is_exact(fps, seconds):
    samples = int(round(seconds * 16000))
    f = fps_fraction(fps)
    assert frame_count(samples, fps, 16000) == -(-(samples * f) // 16000)   # exact rational ceil
    assert frame_count(samples, fps, 16000) == int(np.ceil(Fraction(samples, 16000) * f))


def test_frame_boundaries_do_not_round_up():
    assert frame_count(640 * 25, 25, 16000) == 25                       # exactly 1 s -> 25, not 26
    assert frame_count(640 * 25 + 1, 25, 16000) == 26
    assert frame_count(16000 * 1001 // 1000, Fraction(30000, 1001), 16000) == 30   # 1.001 s at 29.97 fps
    assert fps_fraction(12.5) == Fraction(25, 2) and fps_fraction(30000 / 1001) == Fraction(30000, 1001)


def test_shorter_than_one_frame():
    check_duration(640, 25)
    with pytest.raises(ValueError, match="shorter than one video frame"):
        check_duration(639, 25)
    with pytest.raises(ValueError, match="fps"):
        check_duration(640, 0)


def test_load_audio_file_decodes_and_resamples(tmp_path):
    from scipy.io import wavfile

    x = tone(440.0, 22050, 1.5, channels=2)                           # (2, S)
    wavfile.write(tmp_path / "a.wav", 22050, (x.T * 32767).astype(np.int16))
    y, sr = load_audio_file(tmp_path / "a.wav")
    assert sr == 16000 and y.dtype == torch.float32
    assert abs(y.shape[0] - 24000) <= 32                              # 1.5 s at 16 kHz (resampler delay)
    assert abs(peak_hz(y) - 440.0) < 2.0
    z = prepare_waveform(y, sr)                                       # already 16 kHz: unchanged
    torch.testing.assert_close(z, y)


def test_load_audio_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_audio_file(tmp_path / "missing.wav")
    (tmp_path / "junk.wav").write_bytes(b"not audio at all" * 10)
    with pytest.raises(ValueError, match="Cannot decode"):
        load_audio_file(tmp_path / "junk.wav")


@pytest.mark.slow                       # runs a subprocess
def test_audio_import_is_light_and_comfy_free():
    """playmate_core.audio imports without ComfyUI, and without transformers/av until they are used."""
    script = textwrap.dedent("""
        import importlib.abc, sys
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("comfy", "comfy_api", "folder_paths", "server", "nodes", "trainer"):
                    raise ImportError(name)
        sys.meta_path.insert(0, Block())
        import playmate_core.audio
        print(sorted(m for m in ("transformers", "av") if m in sys.modules))
    """)
    res = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).resolve().parents[2],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip() == "[]"
