"""Audio from outside is bounded before any heavy work: rate, duration, finite samples, full scale."""
import numpy as np
import pytest
import torch

from playmate_core.audio.bounds import MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, check_audio, check_sample_rate


def test_loud_audio_is_scaled_to_full_scale_with_a_note_and_keeps_its_layout():
    wave = torch.zeros(1, 2, 1600)
    wave[0, 0, 10], wave[0, 1, 20] = 1e5, -2e5
    out = check_audio(wave, 16000)
    assert out.waveform.shape == (1, 2, 1600) and out.waveform.dtype == torch.float32
    assert float(out.waveform.abs().max()) == 1.0 and float(out.waveform[0, 0, 10]) == pytest.approx(0.5)
    assert "peaks at 2e+05" in out.note and "scaled down" in out.note


def test_audio_within_full_scale_is_untouched():
    wave = np.linspace(-1, 1, 8000, dtype=np.float32)
    out = check_audio(wave, 8000)
    assert out.note == "" and torch.equal(out.waveform, torch.from_numpy(wave)) and out.seconds == 1.0


@pytest.mark.parametrize("rate", [1, 3999, MAX_SAMPLE_RATE + 1, 16000.5, float("nan"), True, "16000", 0, -16000])
def test_sample_rates_outside_the_sane_range_are_refused_with_the_fix(rate):
    with pytest.raises(ValueError, match=f"from {MIN_SAMPLE_RATE} to {MAX_SAMPLE_RATE} Hz. Resample"):
        check_sample_rate(rate, "the clip")


def test_duration_limit_is_checked_before_the_samples_are_read():
    class Huge:                      # a shape only: check_audio must refuse it without touching samples
        shape = (1, 1, 16000 * 3601)
    with pytest.raises(ValueError, match="3601 s long; the limit is 3600 s.*PLAYMATE_MAX_AUDIO_SECONDS"):
        check_audio(Huge(), 16000, max_seconds=3600)


@pytest.mark.parametrize("wave, fragment", [(torch.tensor([0.1, float("nan")]), "1 NaN/inf"),
                                            (torch.zeros(0), "empty"),
                                            (torch.tensor([1, 2], dtype=torch.int16), "float samples")])
def test_bad_samples_are_refused(wave, fragment):
    with pytest.raises(ValueError, match=fragment):
        check_audio(wave, 16000)
