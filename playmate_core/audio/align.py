"""Aligning the encoder's native 50 Hz frames with video frames at any fps (`motion-model.md` §2.3).

Geometry of the wav2vec2/HuBERT CNN (stride `hop` = 320 samples, receptive field `rf` = 400 samples at
16 kHz): on a waveform padded with `(rf - hop) / 2` = 40 samples in front, native frame k covers samples
[hop*k - 40, hop*k + 360) of the original audio, so its centre is at t_k = (k + 1/2) * hop / sr, i.e.
(k + 1/2) / 50 s. Video frame i covers [i / fps, (i + 1) / fps).

* fps <= 50: video frame i = the mean of the native frames whose centres fall in its window. Every
  window then holds at least one centre. At 25 fps this is exactly "average pairs" (frames 2i, 2i+1).
* fps > 50: linear interpolation of the native frames at the video frame centre (i + 1/2) / fps.

Both are sparse linear maps, returned as (video_idx, native_idx, weight) triplets so the encoder can
apply them chunk by chunk without holding every native frame of a long utterance.
"""
from __future__ import annotations

import math
from fractions import Fraction

import torch
import torch.nn.functional as F

from ..timebase import fps_fraction
from .io import SAMPLE_RATE

HOP = 320            # product of the CNN strides (5 * 2**6): one native frame per 20 ms at 16 kHz
RECEPTIVE_FIELD = 400  # CNN receptive field in samples (25 ms)


def native_rate(hop: int = HOP, sample_rate: int = SAMPLE_RATE) -> Fraction:
    """Native encoder frame rate in Hz (50 for wav2vec2 at 16 kHz)."""
    return Fraction(sample_rate, hop)


def native_frames_needed(n_frames: int, fps: float | Fraction, hop: int = HOP,
                         sample_rate: int = SAMPLE_RATE) -> int:
    """M = ceil(N * 50 / fps): native frames covering the N video frames (2N at 25 fps)."""
    ratio = native_rate(hop, sample_rate) * n_frames / fps_fraction(fps)
    return max(1, math.ceil(ratio))


def pad_for_native_frames(waveform: torch.Tensor, num_native: int, hop: int = HOP,
                          receptive_field: int = RECEPTIVE_FIELD) -> torch.Tensor:
    """Zero-pad (S,) so the CNN yields exactly `num_native` frames centred as in the module docstring.

    Front: (rf - hop) / 2 = 40 samples. Back: up to hop * M + (rf - hop) samples in total (40 at 25 fps
    when S = 640 N). Raises ValueError if S > hop * M (M native frames cannot cover the audio).
    """
    front = (receptive_field - hop) // 2
    total = hop * num_native + (receptive_field - hop)     # CNN output length: (total - rf) // hop + 1 = M
    back = total - front - waveform.shape[-1]
    if back < front:                                        # S > hop * M: the tail would get no frame
        raise ValueError(f"{waveform.shape[-1]} samples do not fit in {num_native} native frames "
                         f"(max {hop * num_native}); compute M with native_frames_needed.")
    return F.pad(waveform, (front, back))                   # (S,) -> (hop*M + rf - hop,)


def video_frame_weights(n_frames: int, fps: float | Fraction, num_native: int, hop: int = HOP,
                        sample_rate: int = SAMPLE_RATE) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Sparse map native -> video frames: out[v] = sum_j weight[j] * native[native_idx[j]] over video_idx[j] == v.

    Returns (video_idx (J,) long, native_idx (J,) long, weight (J,) float64). Exact integer arithmetic
    decides which window a native centre falls in (no float boundary errors).
    """
    f = fps_fraction(fps)
    r = native_rate(hop, sample_rate)
    if f <= r:
        # owner(k) = floor(t_k * fps) = floor((2k + 1) * fps / (2r))
        q = f / (2 * r)
        k = torch.arange(num_native, dtype=torch.long)
        owner = ((2 * k + 1) * q.numerator) // q.denominator                 # (M,)
        keep = owner < n_frames
        k, owner = k[keep], owner[keep]
        counts = torch.bincount(owner, minlength=n_frames)                    # (N,)
        if bool((counts == 0).any()):
            raise ValueError(f"{num_native} native frames do not cover {n_frames} video frames at "
                             f"{float(f):g} fps; compute M with native_frames_needed.")
        return owner, k, 1.0 / counts[owner].to(torch.float64)
    # fps > native rate: interpolate at the video frame centre, in native-index units.
    i = torch.arange(n_frames, dtype=torch.float64)
    pos = ((i + 0.5) * float(r / f) - 0.5).clamp(0, num_native - 1)          # (N,)
    k0 = pos.floor().long()
    k1 = (k0 + 1).clamp(max=num_native - 1)
    w1 = pos - k0.to(torch.float64)
    video = torch.cat([torch.arange(n_frames), torch.arange(n_frames)])
    return video, torch.cat([k0, k1]), torch.cat([1.0 - w1, w1])


def native_to_video(native: torch.Tensor, fps: float | Fraction, n_frames: int, hop: int = HOP,
                    sample_rate: int = SAMPLE_RATE) -> torch.Tensor:
    """Apply `video_frame_weights` to native features (M, ...) -> (N, ...), same dtype."""
    video, k, w = video_frame_weights(n_frames, fps, native.shape[0], hop, sample_rate)
    out = native.new_zeros((n_frames, *native.shape[1:]))
    scaled = native[k] * w.to(native.dtype).view(-1, *([1] * (native.dim() - 1)))   # (J, ...)
    return out.index_add_(0, video, scaled)
