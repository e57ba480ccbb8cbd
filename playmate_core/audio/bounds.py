"""Bounds on audio that arrives from outside (a node input, a script), checked before any heavy work.

    waveform (any layout prepare_waveform accepts), sample_rate
      -> sample rate in [MIN_SAMPLE_RATE, MAX_SAMPLE_RATE] Hz      else ValueError (a 1 Hz clip resampled
                                                                    to 16 kHz would need 16000x its size)
      -> duration <= max_seconds                                   else ValueError (a documented setting)
      -> finite samples                                            else ValueError
      -> peak <= 1                                                 else scaled down to a peak of 1, with a note

Float audio is defined on [-1, 1]. Louder samples (a float WAV at +-1e5, a gain node gone wrong) are
scaled, not clipped: the speech keeps its shape for the audio encoder, and FFmpeg's AAC encoder, which
can stall for good on such input, never sees them. The same scaled audio is what the nodes pass on.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np
import torch

MIN_SAMPLE_RATE = 4_000                 # Hz; telephone speech is 8 kHz
MAX_SAMPLE_RATE = 384_000               # Hz; the highest rate studio converters offer
DEFAULT_MAX_SECONDS = 1800.0            # 30 min; PLAYMATE_MAX_AUDIO_SECONDS in ComfyUI (README, Security)
FULL_SCALE = 1.0


@dataclass(frozen=True)
class CheckedAudio:
    """waveform: float32 tensor in the caller's layout, peak <= 1. note: why it was changed ('' if not)."""
    waveform: torch.Tensor
    sample_rate: int
    seconds: float
    note: str = ""


def check_sample_rate(sample_rate, what: str = "the audio") -> int:
    """An integer rate in [MIN_SAMPLE_RATE, MAX_SAMPLE_RATE] Hz, else ValueError naming the fix."""
    ok = isinstance(sample_rate, numbers.Real) and not isinstance(sample_rate, bool) \
        and math.isfinite(float(sample_rate)) and float(sample_rate) == int(sample_rate)
    if not ok or not MIN_SAMPLE_RATE <= int(sample_rate) <= MAX_SAMPLE_RATE:
        raise ValueError(f"{what} declares a sample rate of {sample_rate!r} Hz; Playmate accepts whole rates from "
                         f"{MIN_SAMPLE_RATE} to {MAX_SAMPLE_RATE} Hz. Resample it (e.g. to 16000 or 48000 Hz) or "
                         f"fix the file's header.")
    return int(sample_rate)


def check_audio(waveform, sample_rate, *, max_seconds: float = DEFAULT_MAX_SECONDS,
                what: str = "the audio") -> CheckedAudio:
    """Validate and, when louder than full scale, scale down `waveform` ((S,), (C,S) or (B,C,S)).

    Rate and duration are checked on the shape alone, before the samples are touched, so an oversized
    clip is refused without a copy. Returns a CheckedAudio whose waveform has the input's layout.
    """
    rate = check_sample_rate(sample_rate, what)
    samples = int(waveform.shape[-1]) if hasattr(waveform, "shape") and len(waveform.shape) else 0
    if samples == 0:
        raise ValueError(f"{what} is empty (0 samples). Connect an audio clip with speech in it.")
    seconds = samples / rate
    if seconds > max_seconds:
        raise ValueError(f"{what} is {seconds:.0f} s long; the limit is {max_seconds:g} s. Cut it into parts, or "
                         f"raise the limit with the PLAYMATE_MAX_AUDIO_SECONDS setting (README, Security and limits).")
    x = waveform if isinstance(waveform, torch.Tensor) else torch.from_numpy(np.asarray(waveform))
    if not x.is_floating_point():
        raise ValueError(f"{what} holds {x.dtype} samples; float samples in [-1, 1] are expected.")
    x = x.detach().to("cpu", torch.float32)
    finite = torch.isfinite(x)
    if not bool(finite.all()):
        raise ValueError(f"{what} has {int((~finite).sum())} NaN/inf sample(s). Re-export or re-decode the file; "
                         f"if it came from another node, check that node's output.")
    peak = float(x.abs().max())
    if peak <= FULL_SCALE:
        return CheckedAudio(x, rate, seconds)
    note = (f"{what} peaks at {peak:.3g}, beyond float audio's full scale of 1.0; it was scaled down by "
            f"{peak:.3g}x (lower the gain upstream to avoid this)")
    return CheckedAudio(x / peak, rate, seconds, note)
