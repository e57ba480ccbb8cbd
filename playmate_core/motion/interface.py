"""What every motion backend offers and what every caller asks: the request, the options, the capabilities.

    request = MotionRequest(fps=25, seed=0, steps=25, emotion="happy", options={"joyvasa_cfg_scale": 2.8})
    backend.capabilities   -> Capabilities(kind, emotion yes/no, which request fields apply, trained, provenance)
    backend.generate(waveform, sample_rate, source_motion, request, callback) -> MotionSequence

The rules that hold for every backend are checked here, once (`MotionBackend.generate`): the common fields'
ranges (fps, seed, steps, pose_scale); an emotion asked
of a backend without an emotion module is refused; an option that does not apply to the loaded backend and
was changed from its default is named in a warning; an option no backend declares is refused. Backends
implement `_generate` and declare their own options (`BackendOption`), which the node layer turns into
widgets, so a new backend needs no change outside the core. The front door is `motion/backend.py`.
"""
from __future__ import annotations

import dataclasses
import logging
import numbers
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Mapping

import torch
from torch import nn

from ..timebase import check_fps
from .sequence import MotionSequence
from .track_text import parse_emotion_track

log = logging.getLogger("playmate")

COMMON_FIELDS = ("fps", "seed", "steps", "pose_scale")      # every backend reads these
MAX_POSE_SCALE = 10.0


@dataclass(frozen=True)
class BackendOption:
    """One backend-specific request option (a node widget: name, type, default, range, tooltip)."""
    name: str
    kind: str                     # "float" | "int" | "bool"
    default: Any
    tooltip: str
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None


@dataclass(frozen=True)
class MotionRequest:
    """What a caller asks of any backend. Each backend reads COMMON_FIELDS plus the fields and `options`
    its Capabilities.options list; the rest must stay at their defaults (else a warning names them).

    emotion: None, a label ('happy', ...) or a track [(start_s, end_s, label, intensity), ...].
    intensity: 1-3 or None (unknown). cfg_audio / cfg_emotion: the paper's w_a / w_e (eq. 8).
    eta: 1 = ancestral sampling, 0 = deterministic DDIM. options: backend-specific values by name.
    """
    fps: float = 25.0
    seed: int = 0
    steps: int = 25
    pose_scale: float = 1.0
    emotion: Any = None
    intensity: int | None = None
    cfg_audio: float = 1.5
    cfg_emotion: float = 1.5
    eta: float = 1.0
    options: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_widgets(cls, emotion: str = "none", emotion_track: str = "", intensity: int = 0,
                     **fields) -> "MotionRequest":
        """The node form: emotion 'none' = no emotion, a non-empty emotion_track (text, see track_text.py)
        overrides the single emotion, intensity 0 = unknown; unknown keyword names go to `options`."""
        track = parse_emotion_track(emotion_track or "")
        known = {f.name for f in dataclasses.fields(cls)} - {"options", "emotion", "intensity"}
        options = {k: v for k, v in fields.items() if k not in known}
        common = {k: v for k, v in fields.items() if k in known}
        return cls(emotion=track or (None if emotion in (None, "none") else emotion),
                   intensity=intensity or None, options=options, **common)

    def asks_emotion(self) -> bool:
        return self.emotion is not None


@dataclass(frozen=True)
class Capabilities:
    """What a loaded backend can do. options: the MotionRequest fields and option names it reads."""
    kind: str
    emotion: bool
    options: tuple
    trained: bool
    emotion_labels: tuple = ()
    provenance: Mapping[str, Any] = field(default_factory=dict)


def check_common_fields(request: MotionRequest) -> None:
    """fps in [MIN_FPS, MAX_FPS], an integer seed >= 0, an integer steps >= 1, pose_scale in [0, MAX_POSE_SCALE]."""
    check_fps(request.fps, "fps")
    for name in ("seed", "steps"):
        value, low = getattr(request, name), 0 if name == "seed" else 1
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    p = request.pose_scale
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 <= p <= MAX_POSE_SCALE:
        raise ValueError(f"pose_scale must be a number in [0, {MAX_POSE_SCALE}] (0 = still head, 1 = natural), "
                         f"got {p!r}")


class MotionBackend(nn.Module):
    """A loaded motion model behind the one `generate` call. Subclasses set KIND, DESCRIPTION, OPTIONS
    (their own BackendOptions), READS (the MotionRequest fields they read beyond COMMON_FIELDS), and
    implement `capabilities`, `_generate`, and the class methods `recognises` / `load` (backend.py)."""
    KIND: ClassVar[str] = ""
    NAME: ClassVar[str] = ""                  # for messages: "the {NAME} backend ..."
    NO_EMOTION: ClassVar[str] = "the model has no emotion module"
    DESCRIPTION: ClassVar[str] = ""
    OPTIONS: ClassVar[tuple] = ()
    READS: ClassVar[tuple] = ()
    SUFFIXES: ClassVar[tuple] = ()            # checkpoint file suffixes this backend loads
    COMPANIONS: ClassVar[tuple] = ()          # file-name prefixes of companion files (not checkpoints)
    EMOTION_SUFFIXES: ClassVar[tuple] = ()    # suffixes of its separate emotion-module files, if it has any
    warnings: tuple = ()                      # load-time mismatches that do not stop it (set by backend.py)

    @property
    def capabilities(self) -> Capabilities:
        raise NotImplementedError

    def generate(self, waveform, sample_rate: int, source_motion: Mapping[str, torch.Tensor],
                 request: MotionRequest | None = None,
                 callback: Callable[[int, int], None] | None = None) -> MotionSequence:
        """Speech -> MotionSequence of exactly ceil(duration * request.fps) frames.

        waveform: (C,S) or (S,) at sample_rate (any rate); source_motion: FaceEngine.extract_motion of the
        source (batch 1). callback(done, total) after every denoising step; raise in it to cancel."""
        request = request or MotionRequest()
        if not isinstance(request, MotionRequest):
            raise ValueError(f"request must be a MotionRequest, got {type(request).__name__}")
        self.check_request(request)
        return self._generate(waveform, sample_rate, source_motion, request, callback)

    def check_request(self, request: MotionRequest) -> None:
        """The rules shared by every backend (see the module docstring)."""
        check_common_fields(request)
        caps = self.capabilities
        if request.asks_emotion() and not caps.emotion:
            raise ValueError(f"the {self.NAME} backend has no emotion control ({self.NO_EMOTION}): ask for no "
                             f"emotion (in ComfyUI: disconnect the Playmate Emotion node or set it to none), or load "
                             f"a Playmate motion model with its emotion checkpoint (emotion_model)")
        declared = declared_options()
        unknown = sorted(set(request.options) - set(declared))
        if unknown:
            raise ValueError(f"unknown motion option(s) {unknown}; the backends declare {sorted(declared)}")
        applies = set(caps.options)
        defaults = MotionRequest()
        ignored = [f.name for f in dataclasses.fields(MotionRequest) if f.name not in applies | {"options"}
                   and getattr(request, f.name) != getattr(defaults, f.name)]
        ignored += [k for k, v in request.options.items() if k not in applies and v != declared[k].default]
        if ignored:
            log.warning("%s backend: %s do(es) not apply and is ignored", caps.kind, ", ".join(sorted(ignored)))

    def option(self, request: MotionRequest, name: str):
        """A backend option's value from the request, or its declared default."""
        spec = next(o for o in self.OPTIONS if o.name == name)
        return request.options.get(name, spec.default)

    def _generate(self, waveform, sample_rate, source_motion, request, callback) -> MotionSequence:
        raise NotImplementedError


_REGISTRY: list = []


def register(backend_cls: type) -> type:
    """Class decorator: make a backend known to the front door and to the node widgets."""
    if backend_cls not in _REGISTRY:
        _REGISTRY.append(backend_cls)
    return backend_cls


def registered() -> tuple:
    return tuple(_REGISTRY)


def declared_options() -> dict:
    """Every backend's own options by name (the node widgets), in registration order."""
    out: dict = {}
    for backend_cls in _REGISTRY:
        for spec in backend_cls.OPTIONS:
            out.setdefault(spec.name, spec)
    return out
