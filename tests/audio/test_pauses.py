"""audio.pauses: pauses found from the waveform alone, the same at any recording level."""
import shutil
import subprocess

import numpy as np
import pytest

from playmate_core.audio import SAMPLE_RATE
from playmate_core.audio.pauses import HOP_S, energy_db, find_pauses, speech_activity

SR = SAMPLE_RATE


def syllables(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Speech-like sound: voiced syllables of 120-250 ms (harmonics of ~140 Hz under a smooth envelope) with
    40-90 ms dips between them that never go fully quiet (like consonants and word joins)."""
    out, n = [], int(seconds * SR)
    while sum(map(len, out)) < n:
        k = int(rng.uniform(0.12, 0.25) * SR)
        t = np.arange(k) / SR
        f0 = rng.uniform(110, 180)
        voiced = sum(np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 6)) / h for h in range(1, 8))
        out.append(voiced * np.hanning(k) * rng.uniform(0.3, 0.6))
        dip = int(rng.uniform(0.04, 0.09) * SR)
        out.append(rng.standard_normal(dip) * 0.02)                          # -35 dB-ish fricative noise
    return np.concatenate(out)[:n]


def utterance(pause_s: float = 1.0, noise_db: float = -55.0, seed: int = 0) -> tuple[np.ndarray, float]:
    """2 s of speech, a pause of `pause_s`, 2 s of speech, over steady background noise -> (wave, pause start)."""
    rng = np.random.default_rng(seed)
    speech = np.concatenate([syllables(2.0, rng), np.zeros(int(pause_s * SR)), syllables(2.0, rng)])
    return speech + rng.standard_normal(len(speech)) * 10 ** (noise_db / 20), 2.0


def test_one_second_pause_is_found_where_it_is():
    wave, start = utterance(1.0)
    pauses = find_pauses(wave, SR, min_pause=0.3)
    assert len(pauses) == 1, pauses
    a, b = pauses[0]
    assert abs(a - start) < 0.06 and abs(b - (start + 1.0)) < 0.06


@pytest.mark.parametrize("gain", [1e-3, 0.05, 20.0])
def test_pauses_do_not_depend_on_the_level(gain):
    wave, _ = utterance(0.8)
    assert find_pauses(wave * gain, SR, 0.3) == find_pauses(wave, SR, 0.3)
    assert np.allclose(energy_db(wave * gain) - energy_db(wave), 20 * np.log10(gain), atol=0.05)


def test_noisy_background_and_other_sample_rates():
    wave, start = utterance(1.0, noise_db=-32.0, seed=1)
    (a, b), = find_pauses(wave, SR, 0.3)             # fricative-level sounds at the edges drown in the noise
    assert start - 0.2 < a < start + 0.06 and start + 1.0 - 0.06 < b < start + 1.2
    from scipy.signal import resample_poly
    stereo44 = np.stack([resample_poly(wave, 441, 160)] * 2)                  # (2, S) at 44.1 kHz
    (a2, b2), = find_pauses(stereo44[None], 44100, 0.3)                      # ComfyUI's (1, C, S)
    assert abs(a2 - a) < 0.03 and abs(b2 - b) < 0.03


def test_min_pause_separates_word_gaps_from_pauses():
    wave, _ = utterance(0.2)
    assert find_pauses(wave, SR, min_pause=0.3) == []
    assert len(find_pauses(wave, SR, min_pause=0.15)) == 1                   # syllable gaps are ~0.1 s


def test_steady_signals_and_digital_silence():
    t = np.arange(2 * SR) / SR
    assert find_pauses(0.3 * np.sin(2 * np.pi * 200 * t), SR) == []                      # a steady tone
    assert find_pauses(np.random.default_rng(0).standard_normal(2 * SR) * 0.1, SR) == []  # steady noise
    assert find_pauses(np.zeros(2 * SR), SR) == [(0.0, 2.0)]
    activity = speech_activity(np.zeros(SR))
    assert activity.shape == (int(1 / HOP_S),) and not activity.any()


def test_leading_and_trailing_silence_are_pauses():
    rng = np.random.default_rng(3)
    wave = np.concatenate([np.zeros(SR // 2), syllables(1.5, rng), np.zeros(SR)])
    pauses = find_pauses(wave + rng.standard_normal(len(wave)) * 1e-4, SR, 0.3)
    assert len(pauses) == 2 and pauses[0][0] == 0.0 and abs(pauses[0][1] - 0.5) < 0.06
    assert abs(pauses[1][0] - 2.0) < 0.06 and pauses[1][1] == pytest.approx(3.0)


@pytest.mark.skipif(not shutil.which("espeak-ng"), reason="espeak-ng is not installed (.ci/run installs it)")
def test_real_synthesised_speech(tmp_path):
    from playmate_core.audio import load_audio_file
    waves = []
    for i, text in enumerate(["Good morning, everyone.", "Let us begin the lesson now."]):
        subprocess.run(["espeak-ng", "-w", str(tmp_path / f"{i}.wav"), text], check=True, capture_output=True)
        waves.append(load_audio_file(tmp_path / f"{i}.wav")[0].numpy())
    first = len(waves[0]) / SR
    wave = np.concatenate([waves[0], np.zeros(SR), waves[1]])
    long = [p for p in find_pauses(wave, SR, 0.5)]
    assert any(a <= first + 0.1 and b >= first + 0.9 for a, b in long), (first, long)
    assert all(b - a >= 0.5 for a, b in long)


def test_errors():
    with pytest.raises(ValueError, match="min_pause"):
        find_pauses(np.zeros(SR), SR, min_pause=-1)
    with pytest.raises(ValueError, match="sample rate"):
        find_pauses(np.zeros(SR), 0)
