"""On-disk cache of per-utterance audio features (`motion-model.md` §2.3: N x 12 x 768 fp16 ~ 18 KB/frame).

Key = sha256 of (normalised 16 kHz waveform bytes, fps as an exact fraction, encoder identity, chunking).
The same samples hit; another fps, encoder, weights file, dtype or chunking misses (a gain change
misses too: the 1e-7 variance floor makes its normalised bytes differ in the last bits).
One `<key>.safetensors` per utterance, written atomically, so several processes (trainer workers) can
share a folder.
"""
from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import torch

from .encoder import CHUNK_SECONDS, CONTEXT_SECONDS, AudioEncoder
from ..timebase import fps_fraction
from .io import normalize_waveform

log = logging.getLogger("playmate")

CACHE_VERSION = "playmate-audio-features-v1"   # bump when encode() changes its numbers


class FeatureCache:
    """Folder of cached `AudioEncoder.encode` results, stored as `dtype` (float16 by default)."""

    def __init__(self, folder: str | Path, dtype: torch.dtype = torch.float16):
        self.folder = Path(folder)
        self.dtype = dtype
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(encoder: AudioEncoder, waveform16k: torch.Tensor, fps: float,
            chunk_seconds: float | None = CHUNK_SECONDS, context_seconds: float = CONTEXT_SECONDS) -> str:
        """Hex sha256 naming the features of `waveform16k` (S,) at `fps` under `encoder`."""
        x = normalize_waveform(waveform16k) if encoder.normalize else waveform16k.float()
        h = hashlib.sha256(CACHE_VERSION.encode())
        h.update(x.detach().cpu().contiguous().numpy().astype("<f4").tobytes())
        h.update(f"|fps={fps_fraction(fps)}|enc={encoder.identity}|chunk={chunk_seconds}/{context_seconds}".encode())
        return h.hexdigest()

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.safetensors"

    def get(self, key: str) -> torch.Tensor | None:
        """Cached (N, L, D) float32 features, or None (missing or unreadable file)."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        p = self.path(key)
        if not p.is_file():
            return None
        try:
            return load_file(str(p))["features"].float()
        except (OSError, KeyError, RuntimeError, ValueError, SafetensorError) as exc:   # truncated/foreign
            log.warning("audio feature cache: ignoring unreadable %s (%s)", p, exc)   # file: recompute
            return None

    def put(self, key: str, features: torch.Tensor) -> None:
        from safetensors.torch import save_file

        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.path(key).with_suffix(f".tmp{os.getpid()}")
        save_file({"features": features.detach().to("cpu", self.dtype).contiguous()}, str(tmp),
                  metadata={"format": CACHE_VERSION, "shape": "N,L,D"})
        os.replace(tmp, self.path(key))

    def encode_cached(self, encoder: AudioEncoder, waveform16k: torch.Tensor, fps: float = 25.0, *,
                      chunk_seconds: float | None = CHUNK_SECONDS,
                      context_seconds: float = CONTEXT_SECONDS) -> torch.Tensor:
        """`encoder.encode(...)` through the cache -> (N, L, D) float32 on CPU.

        A miss stores and returns the features rounded to the cache dtype, so a later hit gives the
        same values.
        """
        key = self.key(encoder, waveform16k, fps, chunk_seconds, context_seconds)
        cached = self.get(key)
        if cached is not None:
            self.hits += 1
            return cached
        self.misses += 1
        features = encoder.encode(waveform16k, fps, chunk_seconds=chunk_seconds,
                                  context_seconds=context_seconds).cpu()
        self.put(key, features)
        return features.to(self.dtype).float()               # same values as a later hit


def encode_cached(encoder: AudioEncoder, waveform16k: torch.Tensor, fps: float = 25.0,
                  cache: FeatureCache | None = None, *, chunk_seconds: float | None = CHUNK_SECONDS,
                  context_seconds: float = CONTEXT_SECONDS) -> torch.Tensor:
    """Encode through `cache` when given, else directly -> (N, L, D) float32 on CPU."""
    if cache is None:
        return encoder.encode(waveform16k, fps, chunk_seconds=chunk_seconds, context_seconds=context_seconds).cpu()
    return cache.encode_cached(encoder, waveform16k, fps, chunk_seconds=chunk_seconds,
                               context_seconds=context_seconds)
