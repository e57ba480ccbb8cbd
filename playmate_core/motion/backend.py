"""The motion-backend front door: every caller (nodes, trainer, scripts) loads motion models here.

    backend = load_motion_backend("models/playmate/playmate_stage1.safetensors",
                                  emotion="models/playmate/playmate_emotion.safetensors",
                                  audio_encoder="models/audio_encoders/wav2vec2-base-960h")
    backend.capabilities        # kind, emotion yes/no, request fields that apply, trained, provenance
    seq = backend.generate(waveform, sample_rate, source_motion, MotionRequest(fps=25, emotion="happy"))

The checkpoint kind is recognised from the file's contents (never its name): a JoyVASA release `.pt`
(a torch zip naming JoyVASA's modules) or a Playmate `.safetensors`. A new backend is one class in its
own folder registered with `interface.register` and imported below; its options become node widgets by
themselves (`backend_options`), so nothing in nodes/ changes.

Every backend returned here carries `backend.warnings` (a tuple of sentences, also logged): mismatches
found at load time that do not stop it, e.g. a chosen audio encoder other than the one the checkpoint
was trained with (`encoder_warnings`). The node layer shows them to the user.
"""
from __future__ import annotations

from pathlib import Path

import logging

import torch

from .interface import BackendOption, MotionBackend, MotionRequest, declared_options, registered
from .joyvasa.backend import JoyVASABackend
from .playmate.backend import PlaymateBackend
from .playmate.checkpoint import UNKNOWN, audio_encoder_fingerprint

log = logging.getLogger("playmate")

__all__ = ["load_motion_backend", "backend_options", "describe_backends", "BackendOption", "is_checkpoint_name", "is_emotion_checkpoint_name",
           "MotionBackend", "MotionRequest", "PlaymateBackend", "JoyVASABackend"]

_ORDER = (JoyVASABackend, PlaymateBackend)     # most specific recognition first


def _backend_for(checkpoint: Path) -> type:
    for backend_cls in _ORDER + tuple(b for b in registered() if b not in _ORDER):
        if backend_cls.recognises(checkpoint):
            return backend_cls
    suffixes = sorted({s for b in registered() for s in b.SUFFIXES})
    raise ValueError(f"'{checkpoint.name}' is not a motion checkpoint this pack can load (expected one of "
                     f"{', '.join(suffixes)}: a Playmate .safetensors from trainer/ or JoyVASA's released .pt)")


def load_motion_backend(checkpoint: str | Path, *, emotion: str | Path | None = None,
                        audio_encoder: str | Path | None = None, device: str | torch.device = "cpu",
                        dtype: torch.dtype = torch.float32) -> MotionBackend:
    """Recognise the checkpoint's kind and load it (strictly) behind the one `generate` call.

    checkpoint: a Playmate stage-1 `.safetensors` or JoyVASA's `.pt` (motion_template.pkl beside it).
    emotion: an optional Playmate stage-2 emotion `.safetensors` (refused for backends without one).
    audio_encoder: the encoder folder (Playmate: the wav2vec2/HuBERT folder it was trained with;
    JoyVASA: chinese-hubert-base, config only; None: Playmate then needs precomputed features).
    """
    if checkpoint is None:
        if emotion is not None:
            raise ValueError("an emotion checkpoint needs its stage-1 motion checkpoint (the one it was trained "
                             "on): choose a motion_model, or set emotion_model to none")
        raise ValueError("no motion checkpoint given: choose a motion_model (files in models/playmate)")
    checkpoint = Path(checkpoint)
    backend_cls = _backend_for(checkpoint)
    backend = backend_cls.load(checkpoint, emotion=Path(emotion) if emotion is not None else None,
                               audio_encoder=Path(audio_encoder) if audio_encoder is not None else None,
                               device=device, dtype=dtype).eval()
    backend.warnings = tuple(encoder_warnings(backend, audio_encoder))
    for text in backend.warnings:
        log.warning("%s", text)
    return backend


def encoder_warnings(backend: MotionBackend, audio_encoder: str | Path | None) -> list:
    """One sentence per trained part whose recorded audio encoder (provenance, written by trainer/) is not
    the chosen one (compared by the hash of its files). Unknown on either side: nothing to compare."""
    meta = getattr(getattr(backend, "model", None), "meta", None)
    if audio_encoder is None or not isinstance(meta, dict):
        return []
    chosen = audio_encoder_fingerprint(audio_encoder)
    out = []
    for part, key in (("stage-1 motion model", "provenance"), ("emotion module", "emotion_provenance")):
        recorded = (meta.get(key) or {}).get("audio_encoder") or {}
        if UNKNOWN in (recorded.get("sha256", UNKNOWN), chosen["sha256"]) or recorded["sha256"] == chosen["sha256"]:
            continue
        out.append(f"the {part} was trained with audio encoder {recorded.get('name', '?')} (sha256 "
                   f"{recorded['sha256'][:12]}), but the chosen audio encoder '{audio_encoder}' is {chosen['name']} "
                   f"(sha256 {chosen['sha256'][:12]}): its features mean something else to the model, so lip sync "
                   f"will be poor. Choose the encoder the model was trained with.")
    return out


def describe_backends() -> str:
    """One line per backend (what it is), for node descriptions."""
    return " ".join(f"{b.DESCRIPTION}." for b in registered())


def backend_options() -> tuple:
    """Every backend's own options (BackendOption), for the node widgets, in registration order."""
    return tuple(declared_options().values())


def is_checkpoint_name(name: str) -> bool:
    """A file name some backend may load as its motion checkpoint (companion files such as JoyVASA's
    motion_template.* excluded)."""
    base = Path(name).name
    companions = tuple(c for b in registered() for c in b.COMPANIONS)
    if companions and base.startswith(companions):
        return False
    return any(base.endswith(b.SUFFIXES) for b in registered() if b.SUFFIXES)


def is_emotion_checkpoint_name(name: str) -> bool:
    """A file name that may hold an emotion module (only backends with emotion control take one)."""
    return is_checkpoint_name(name) and any(Path(name).suffix in b.EMOTION_SUFFIXES for b in registered())

