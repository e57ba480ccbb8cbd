"""Pauses in speech from the waveform itself: an energy voice-activity detector that does not depend on
the recording level.

    x (S,) 16 kHz --40 ms Hann windows, 10 ms hop--> e_j = 10 log10(mean(w x^2) + 1e-10) dB   (J,)
    (e clipped to 90 dB under its maximum)
    floor = P5(e), peak = P95(e)                    the clip's own quiet and loud levels
    speech_j = e_j > floor + 0.35 (peak - floor)    (threshold halfway-ish, in dB: scale-free)
    speech runs shorter than 60 ms are dropped (clicks); silent runs >= min_pause s are pauses

Multiplying the waveform by any gain shifts every e_j by the same number of dB, so floor, peak and the
threshold move with it and the pauses stay the same. A clip whose loud and quiet levels are within
MIN_RANGE_DB of each other has no pauses (steady speech or steady noise), unless it is digitally silent
(peak under SILENT_DB = -100 dB full scale), which is one pause.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .io import SAMPLE_RATE, prepare_waveform

WINDOW_S = 0.040            # analysis window (Hann)
HOP_S = 0.010               # hop between energy frames
ENERGY_EPS = 1e-20          # power floor: -200 dB (digital zero)
RANGE_DB = 90.0             # energies are clipped to this far below the clip's loudest frame
FLOOR_PCT, PEAK_PCT = 5, 95 # percentiles giving the quiet and loud levels
THRESHOLD_SHARE = 0.35      # speech above floor + share x (peak - floor) dB
MIN_RANGE_DB = 12.0         # below this loud/quiet spread the clip has no pauses
SILENT_DB = -100.0          # a clip whose loud level is under this is all pause (under 16-bit resolution)
MIN_BURST_S = 0.06          # shorter speech runs (clicks, breaths) count as silence


def energy_db(wave16k: np.ndarray) -> np.ndarray:
    """(S,) 16 kHz mono float -> (J,) frame energies in dB, frame j centred at j * HOP_S seconds, clipped to
    RANGE_DB under the loudest frame (so a gain shifts every value by the same amount)."""
    x = np.asarray(wave16k, np.float64)
    win, hop = int(WINDOW_S * SAMPLE_RATE), int(HOP_S * SAMPLE_RATE)
    n = max(1, int(math.ceil(len(x) / hop)))
    padded = np.pad(x, (win // 2, win // 2 + n * hop))
    frames = np.lib.stride_tricks.sliding_window_view(padded, win)[::hop][:n]     # J,win
    w = np.hanning(win)
    power = (frames ** 2 * w).sum(axis=1) / w.sum()
    e = 10 * np.log10(power + ENERGY_EPS)
    return np.maximum(e, e.max() - RANGE_DB)


def _runs(mask: np.ndarray) -> list:
    """Runs of equal values -> [(value, start, end)] with end exclusive."""
    edges = np.flatnonzero(np.diff(mask.astype(np.int8))) + 1
    bounds = np.concatenate([[0], edges, [len(mask)]])
    return [(bool(mask[a]), int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]


def speech_activity(wave16k: np.ndarray) -> np.ndarray:
    """(J,) bool per HOP_S frame: speech (True) or silence, by the level-free rule of the module doc."""
    e = energy_db(wave16k)
    floor, peak = np.percentile(e, FLOOR_PCT), np.percentile(e, PEAK_PCT)
    if peak < SILENT_DB:
        return np.zeros(len(e), bool)
    if peak - floor < MIN_RANGE_DB:
        return np.ones(len(e), bool)
    active = e > floor + THRESHOLD_SHARE * (peak - floor)
    min_burst = int(round(MIN_BURST_S / HOP_S))
    for value, a, b in _runs(active):
        if value and b - a < min_burst:
            active[a:b] = False
    return active


def _check_seconds(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a number of seconds >= 0, got {value!r}")
    return float(value)


def find_pauses(waveform, sample_rate: int, min_pause: float = 0.3) -> list[tuple[float, float]]:
    """Pauses of at least `min_pause` seconds -> [(start_s, end_s)] in time order.

    waveform: anything audio.io.prepare_waveform takes ((S,), (C,S) or ComfyUI's (1,C,S)), any rate.
    A pause starts where the last speech frame ends and ends where the next speech starts (the clip's
    start and end count as edges)."""
    min_pause = _check_seconds(min_pause, "min_pause")
    wave = prepare_waveform(waveform, sample_rate).numpy()                     # S at 16 kHz
    active = speech_activity(wave)
    duration = len(wave) / SAMPLE_RATE
    pauses = []
    for value, a, b in _runs(active):
        start, end = a * HOP_S, min(b * HOP_S, duration)
        if not value and end - start >= max(min_pause, HOP_S):
            pauses.append((round(start, 6), round(end, 6)))
    return pauses


__all__ = ["find_pauses", "speech_activity", "energy_db", "WINDOW_S", "HOP_S"]
