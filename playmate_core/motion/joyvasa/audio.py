"""JoyVASA's audio branch: a fine-tuned HuBERT (or wav2vec2) read at 25 fps, then mapped to F.

One window of L frames takes exactly 16000 * L / 25 samples (64000 for L = 100) of raw 16 kHz audio
(no z-normalisation; the reference feeds librosa's [-1, 1] samples):

    wav (B,S) --reflect pad--> (B,S+2r) --CNN--> (B,512,~2L) 50 Hz
        --keep round(2L*50/25) frames, linear resample to 2L--> (B,512,2L)
        --feature projection + transformer--> last hidden state (B,2L,768)
        --linear resample 2L -> L (25 fps)--> (B,L,768) --audio_feature_map--> (B,L,F)

`pad_window` reproduces the reference's padding rule: with n = S // 320 and
side = ceil((320 n + 80 - S) / 2), the waveform is reflect-padded by side // 2 on both ends TWICE
(a second reflection of the already padded signal), then replicate-padded by 1 if side is odd.
For S = 64000: side = 40 -> two reflect pads of 20 -> 64080 samples -> exactly 200 CNN frames.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

HOP = 320                 # samples per 50 Hz CNN frame (product of the conv strides)
PAD_THRESHOLD = 80        # receptive field (400) minus hop: samples the CNN needs beyond n hops
NATIVE_FPS = 50           # CNN frame rate of HuBERT/wav2vec2 at 16 kHz


def pad_window(wav: torch.Tensor) -> torch.Tensor:
    """(B,S) raw samples -> (B,S') padded as the reference does (see the module docstring)."""
    n = wav.shape[1] // HOP
    side = math.ceil((HOP * n + PAD_THRESHOLD - wav.shape[1]) / 2)
    if side < 0:
        return wav
    reflect, odd = divmod(side, 2)
    if reflect > 0:
        wav = F.pad(wav, (reflect, reflect), mode="reflect")                  # B,S+2r
        wav = F.pad(wav, (reflect, reflect), mode="reflect")                  # B,S+4r
    if odd:
        wav = F.pad(wav[:, None], (1, 1), mode="replicate")[:, 0]             # B,S+4r+2
    return wav


def resample_time(x: torch.Tensor, frames: int) -> torch.Tensor:
    """Linear resampling along time, half-pixel centres: (B,C,T) -> (B,C,frames)."""
    return F.interpolate(x, size=frames, mode="linear", align_corners=False)


def build_encoder(family: str, hf_config) -> nn.Module:
    """A randomly initialised transformers HubertModel / Wav2Vec2Model from its config (no file access)."""
    from transformers import HubertModel, Wav2Vec2Model
    cls = {"hubert": HubertModel, "wav2vec2": Wav2Vec2Model}[family]
    return cls(hf_config)


def encoder_hidden_states(encoder: nn.Module, wav: torch.Tensor, frames: int, fps: int) -> torch.Tensor:
    """(B,S) window samples -> last hidden state of `encoder` at `frames` positions (B,frames,768).

    The CNN output (50 Hz) is cut to round(frames * 50 / fps) frames and linearly resampled to `frames`
    (for frames = 2L at 25 fps both steps leave the 2L CNN frames unchanged); spec-augment masking is a
    training-only step and is skipped.
    """
    conv = encoder.feature_extractor(pad_window(wav))                          # B,512,~2L (50 Hz)
    conv = conv[:, :, :round(frames * NATIVE_FPS / fps)]
    conv = resample_time(conv, frames).transpose(1, 2)                         # B,frames,512
    hidden = encoder.feature_projection(conv)
    if isinstance(hidden, tuple):                                              # wav2vec2: (projected, normed)
        hidden = hidden[0]                                                     # B,frames,768
    out = encoder.encoder(hidden)
    return out[0] if isinstance(out, tuple) else out.last_hidden_state         # B,frames,768


def audio_tokens(encoder: nn.Module, feature_map: nn.Linear, wav: torch.Tensor, n_frames: int,
                 fps: int) -> torch.Tensor:
    """(B,S) raw 16 kHz window -> mapped audio tokens (B,L,F) at 25 fps, L = n_frames.

    The encoder runs at 2L positions (its native 50 Hz) and is averaged down to L afterwards
    (linear resampling 2L -> L with half-pixel centres = the mean of each frame pair).
    """
    hidden = encoder_hidden_states(encoder, wav, 2 * n_frames, fps)            # B,2L,768
    hidden = resample_time(hidden.transpose(1, 2), n_frames).transpose(1, 2)   # B,L,768
    return feature_map(hidden)                                                 # B,L,F
