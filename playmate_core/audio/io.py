"""Audio input for Playmate's audio branch (paper §3.2; `motion-model.md` §2.3): any waveform -> 16 kHz mono.

* `prepare_waveform` takes what ComfyUI and scripts hand us (numpy or torch; (S,), (C,S) or ComfyUI's
  AUDIO layout (B,C,S)) and returns one float32 16 kHz mono tensor (S,).
* `load_audio_file` decodes any container FFmpeg knows (wav, flac, mp3, m4a, video files) with PyAV,
  resampling to 16 kHz mono in the same pass.
* `normalize_waveform` is THE per-utterance zero-mean / unit-variance step, shared by training and
  inference (it matches `Wav2Vec2FeatureExtractor(do_normalize=True)`).
* frame counts come from `playmate_core.timebase.frame_count` (the one definition of N = ceil(duration * fps)).
"""
from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from ..timebase import fps_fraction
from .bounds import check_sample_rate

log = logging.getLogger("playmate")

SAMPLE_RATE = 16_000          # wav2vec2 / HuBERT input rate (Hz)
NORM_EPS = 1e-7               # variance floor of Wav2Vec2FeatureExtractor.zero_mean_unit_var_norm
MAX_CHANNELS = 64             # a larger "channel" axis means the caller passed (S, C) instead of (C, S)


def check_duration(num_samples: int, fps: float | Fraction, sample_rate: int = SAMPLE_RATE) -> None:
    """Raise ValueError when the audio is shorter than one video frame at `fps`."""
    f = fps_fraction(fps)
    if num_samples * f.numerator < sample_rate * f.denominator:
        raise ValueError(
            f"The audio is {num_samples / sample_rate * 1000:.1f} ms long, shorter than one video frame at "
            f"{float(f):g} fps ({1000 / float(f):.1f} ms). Use a longer audio clip (or pad it with silence).")


def _to_numpy(waveform) -> np.ndarray:
    if isinstance(waveform, torch.Tensor):
        waveform = waveform.detach().to("cpu")
        if waveform.dtype in (torch.bfloat16, torch.float16):
            waveform = waveform.float()
        waveform = waveform.numpy()
    elif not isinstance(waveform, np.ndarray):
        raise ValueError(f"waveform must be a numpy array or torch tensor, got {type(waveform).__name__}.")
    if waveform.dtype == np.bool_ or not (np.issubdtype(waveform.dtype, np.floating)
                                          or np.issubdtype(waveform.dtype, np.integer)):
        raise ValueError(f"waveform must hold float (or integer PCM) samples, got dtype {waveform.dtype}.")
    if np.issubdtype(waveform.dtype, np.integer):          # integer PCM (e.g. int16 from a WAV) -> [-1, 1]
        return waveform.astype(np.float64) / float(np.iinfo(waveform.dtype).max)
    return waveform.astype(np.float64, copy=False)


def _to_mono(x: np.ndarray) -> np.ndarray:
    """(S,) | (C,S) | (B,C,S) -> (S,) float64, channels averaged."""
    if x.ndim == 3:                                         # ComfyUI AUDIO: (B, C, S)
        if x.shape[0] != 1:
            raise ValueError(
                f"The AUDIO input holds a batch of {x.shape[0]} clips (waveform shape {tuple(x.shape)}); Playmate "
                f"animates one utterance at a time. Split the batch or concatenate the clips into one.")
        x = x[0]
    if x.ndim == 1:
        return x
    if x.ndim != 2:
        raise ValueError(f"waveform must have shape (S,), (C, S) or (B, C, S); got {tuple(x.shape)}.")
    if x.shape[0] > MAX_CHANNELS:
        raise ValueError(
            f"waveform shape {tuple(x.shape)} has {x.shape[0]} channels; expected channels first (C, S). If your "
            f"array is (S, C), transpose it (waveform.T).")
    return x.mean(axis=0)                                   # (C, S) -> (S,)


def resample(x: np.ndarray, sample_rate: int | float, target_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Polyphase resampling by the exact rational ratio; output length round(S * target / sr)."""
    from scipy.signal import resample_poly

    ratio = Fraction(target_rate) / Fraction(sample_rate).limit_denominator(1000)
    if ratio == 1:
        return x
    up, down = ratio.numerator, ratio.denominator          # 16000/22050 -> 320/441
    n_out = int(round(len(x) * target_rate / float(sample_rate)))
    y = resample_poly(x, up, down)                          # length ceil(S * up / down)
    return y[:n_out]


def prepare_waveform(waveform, sample_rate: int | float) -> torch.Tensor:
    """Any waveform -> float32 16 kHz mono tensor (S,).

    waveform: numpy array or torch tensor, (S,), (C,S) or ComfyUI AUDIO's (B,C,S) with B == 1; float
    samples (integer PCM is scaled by its dtype's max). Channels are averaged. A whole sample rate in
    [4 kHz, 384 kHz] (audio/bounds.py); resampled
    with `scipy.signal.resample_poly` by the exact ratio 16000/sample_rate.
    Raises ValueError on an empty clip, NaN/inf samples, a bad shape or a sample rate out of range.
    The "shorter than one video frame" check needs the fps: see `check_duration` (the encoder calls it).
    """
    sample_rate = check_sample_rate(sample_rate)            # 4 kHz .. 384 kHz: bounded resampling cost
    x = _to_mono(_to_numpy(waveform))                       # (S,) float64
    if x.size == 0:
        raise ValueError("The audio is empty (0 samples). Connect an audio clip with speech in it.")
    bad = ~np.isfinite(x)
    if bad.any():
        raise ValueError(
            f"The audio has {int(bad.sum())} NaN/inf sample(s) (first at {np.argmax(bad) / sample_rate:.3f} s). "
            f"Re-export or re-decode the file; if it came from another node, check that node's output.")
    y = resample(x, sample_rate)                            # (S16,)
    if y.size == 0:
        raise ValueError(f"The audio has {x.size} sample(s) at {sample_rate} Hz, nothing left at 16 kHz. "
                         f"Use a longer clip.")
    return torch.from_numpy(np.ascontiguousarray(y, dtype=np.float32))


def normalize_waveform(waveform16k: torch.Tensor) -> torch.Tensor:
    """Per-utterance z-normalisation, (x - mean) / sqrt(var + 1e-7), population variance.

    The same function for training and inference (`motion-model.md` §2.3). Statistics are taken in
    float64 (long clips); silence stays exactly 0. (S,) float -> (S,) float32.
    """
    x = waveform16k.to(torch.float64)
    mean = x.mean()
    var = x.var(correction=0)
    return ((x - mean) / torch.sqrt(var + NORM_EPS)).to(torch.float32)


def load_audio_file(path: str | Path, sample_rate: int = SAMPLE_RATE) -> tuple[torch.Tensor, int]:
    """Decode the first audio stream of `path` with PyAV, resampled to mono float at `sample_rate`.

    Returns (waveform (S,) float32 tensor, sample_rate). Decoding and resampling happen in one pass
    (`av.AudioResampler`). AAC (m4a, mp4) adds ~20-100 ms of encoder priming/padding; trim if exact length
    matters.
    """
    import av  # local: PyAV is only needed for files

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Audio file not found: '{path}'. Check the path (wav, flac, mp3, m4a, mp4 ...).")
    chunks: list[np.ndarray] = []
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise ValueError(f"'{path}' has no audio stream. Pass a file with a sound track.")
            resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
            for frame in container.decode(container.streams.audio[0]):
                chunks.extend(f.to_ndarray()[0] for f in resampler.resample(frame))   # (1, n) -> (n,)
            chunks.extend(f.to_ndarray()[0] for f in resampler.resample(None))        # flush
    except av.error.FFmpegError as exc:
        raise ValueError(f"Cannot decode '{path}' ({exc}). Is it an audio or video file? Re-export it as "
                         f"WAV or FLAC.") from exc
    waveform = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    log.debug("decoded %s: %d samples at %d Hz", path, waveform.size, sample_rate)
    return torch.from_numpy(waveform), sample_rate
