"""MFCC features as the SyncNet evaluation protocol computes them (numpy/scipy only).

SyncNet's audio stream was trained on the output of ``python_speech_features.mfcc(audio, 16000)``
with every other argument left at its default, applied to 16-bit PCM *sample values* (not floats in
[-1, 1]). This module reproduces that computation step by step; each step is its own function:

    x (S,) int16-valued float64, 16 kHz
      pre-emphasis        y[0] = x[0],  y[n] = x[n] - 0.97 x[n-1]
      framing             400-sample frames (25 ms), hop 160 (10 ms), no window (rectangular);
                          M = 1 if S <= 400 else 1 + ceil((S - 400) / 160), zeros appended at the end
      power spectrum      P = |rfft(frame, 512)|^2 / 512                       (M, 257)
      frame energy        E = sum_k P[:, k]             (0 replaced by float eps) (M,)
      mel filterbank      26 triangles, edges equally spaced on the mel scale
                          mel(f) = 2595 log10(1 + f / 700) between 0 Hz and 8000 Hz, edges snapped to
                          FFT bins floor((512 + 1) * f / 16000)                  (26, 257)
      log filter energies log(P @ F^T)                  (0 replaced by float eps) (M, 26)
      DCT-II, orthonormal first 13 coefficients                                  (M, 13)
      lifter              c_n * (1 + 11 sin(pi n / 22))                          (M, 13)
      energy              column 0 replaced by log E                             (M, 13)

At 16 kHz the 10 ms hop gives 100 MFCC frames per second: 4 per video frame at 25 fps.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.fft import dct

FLOAT_EPS = float(np.finfo(np.float64).eps)
"""Stand-in for zero energies before taking the log (the reference uses the float64 eps)."""


@dataclass(frozen=True)
class MfccConfig:
    """The protocol's MFCC settings (python_speech_features defaults at 16 kHz)."""

    sample_rate: int = 16000
    win_length_s: float = 0.025      # 400 samples
    hop_s: float = 0.01              # 160 samples -> 100 frames per second
    n_cep: int = 13
    n_filters: int = 26
    n_fft: int = 512                 # smallest power of two >= 400 samples
    low_hz: float = 0.0
    high_hz: float | None = None     # None: sample_rate / 2
    preemphasis: float = 0.97
    lifter: int = 22
    append_energy: bool = True       # coefficient 0 := log frame energy

    @property
    def frame_length(self) -> int:
        return round_half_up(self.win_length_s * self.sample_rate)

    @property
    def hop_length(self) -> int:
        return round_half_up(self.hop_s * self.sample_rate)


def round_half_up(x: float) -> int:
    """Nearest integer, halves rounded up (the reference's rule for window sizes in samples)."""
    return int(math.floor(x + 0.5))


def preemphasis(signal: np.ndarray, coeff: float) -> np.ndarray:
    """(S,) -> (S,): y[0] = x[0], y[n] = x[n] - coeff * x[n-1]."""
    x = np.asarray(signal, dtype=np.float64)
    if x.size == 0:
        return x
    return np.concatenate([x[:1], x[1:] - coeff * x[:-1]])


def n_frames(n_samples: int, frame_length: int, hop_length: int) -> int:
    """Frames the reference produces: 1 if S <= L, else 1 + ceil((S - L) / hop)."""
    if n_samples <= frame_length:
        return 1
    return 1 + math.ceil((n_samples - frame_length) / hop_length)


def frame_signal(signal: np.ndarray, frame_length: int, hop_length: int) -> np.ndarray:
    """(S,) -> (M, L) overlapping frames; the tail is zero-padded so the last frame is whole."""
    x = np.asarray(signal, dtype=np.float64)
    count = n_frames(x.size, frame_length, hop_length)
    padded_length = (count - 1) * hop_length + frame_length
    padded = np.concatenate([x, np.zeros(padded_length - x.size)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, frame_length)   # (S' - L + 1, L)
    return np.ascontiguousarray(windows[::hop_length][:count])                 # (M, L)


def power_spectrum(frames: np.ndarray, n_fft: int) -> np.ndarray:
    """(M, L) -> (M, n_fft // 2 + 1): |rfft|^2 / n_fft (frames zero-padded or cut to n_fft)."""
    return np.abs(np.fft.rfft(frames, n_fft, axis=-1)) ** 2 / n_fft


def hz_to_mel(hz):
    """HTK mel scale: 2595 log10(1 + f / 700)."""
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def mel_to_hz(mel):
    """Inverse of :func:`hz_to_mel`."""
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


def filter_edges(n_filters: int, n_fft: int, sample_rate: int, low_hz: float, high_hz: float) -> np.ndarray:
    """(n_filters + 2,) FFT-bin edges: mel-spaced frequencies snapped to floor((n_fft + 1) f / sr)."""
    mels = np.linspace(hz_to_mel(low_hz), hz_to_mel(high_hz), n_filters + 2)
    return np.floor((n_fft + 1) * mel_to_hz(mels) / sample_rate).astype(np.int64)


def mel_filterbank(n_filters: int, n_fft: int, sample_rate: int, low_hz: float = 0.0,
                   high_hz: float | None = None) -> np.ndarray:
    """(n_filters, n_fft // 2 + 1) triangular filters.

    Filter j rises linearly from 0 at bin e[j] towards 1 at bin e[j + 1] (exclusive) and falls
    from 1 at e[j + 1] towards 0 at e[j + 2] (exclusive); e are :func:`filter_edges`.
    """
    high_hz = sample_rate / 2 if high_hz is None else high_hz
    if high_hz > sample_rate / 2:
        raise ValueError(f"high_hz={high_hz} is above the Nyquist frequency {sample_rate / 2}.")
    edges = filter_edges(n_filters, n_fft, sample_rate, low_hz, high_hz)
    bank = np.zeros((n_filters, n_fft // 2 + 1))
    for j in range(n_filters):
        lo, mid, hi = edges[j], edges[j + 1], edges[j + 2]
        rise = np.arange(lo, mid)
        fall = np.arange(mid, hi)
        bank[j, rise] = (rise - lo) / (mid - lo) if mid > lo else 0.0
        bank[j, fall] = (hi - fall) / (hi - mid) if hi > mid else 0.0
    return bank


def lifter_weights(n_cep: int, lifter: int) -> np.ndarray:
    """(n_cep,) sinusoidal lifter 1 + (L / 2) sin(pi n / L); all ones when L <= 0."""
    if lifter <= 0:
        return np.ones(n_cep)
    n = np.arange(n_cep)
    return 1.0 + (lifter / 2.0) * np.sin(np.pi * n / lifter)


def mfcc(signal: np.ndarray, config: MfccConfig = MfccConfig()) -> np.ndarray:
    """(S,) PCM sample values at ``config.sample_rate`` -> (M, n_cep) float64 MFCCs, 100 per second.

    Feed int16-scaled values (what ``scipy.io.wavfile.read`` gives for 16-bit PCM) to match the
    protocol: scaling the signal shifts coefficient 0 (the log energy) by a constant.
    """
    x = np.asarray(signal, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"mfcc expects a mono (S,) signal, got shape {x.shape}.")
    high_hz = config.sample_rate / 2 if config.high_hz is None else config.high_hz
    frames = frame_signal(preemphasis(x, config.preemphasis), config.frame_length, config.hop_length)
    power = power_spectrum(frames, config.n_fft)                                      # (M, K)
    energy = power.sum(axis=1)                                                        # (M,)
    bank = mel_filterbank(config.n_filters, config.n_fft, config.sample_rate, config.low_hz, high_hz)
    filtered = power @ bank.T                                                         # (M, F)
    log_filtered = np.log(np.where(filtered == 0, FLOAT_EPS, filtered))
    cepstra = dct(log_filtered, type=2, norm="ortho", axis=1)[:, :config.n_cep]       # (M, C)
    cepstra = cepstra * lifter_weights(config.n_cep, config.lifter)
    if config.append_energy:
        cepstra[:, 0] = np.log(np.where(energy == 0, FLOAT_EPS, energy))
    return cepstra
