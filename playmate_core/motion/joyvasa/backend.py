"""The public JoyVASA model behind the backend interface (motion/interface.py).

    backend = JoyVASABackend.load(Path("models/playmate/motion_generator_hubert_chinese.pt"),
                                  audio_encoder=Path("models/audio_encoders/chinese-hubert-base"))
    seq = backend.generate(waveform, sample_rate, source_motion, MotionRequest(options={"joyvasa_cfg_scale": 2.8}))

Files: the released `.pt`, `motion_template.pkl` beside it (its safetensors cache is written there on first
load), and chinese-hubert-base's config.json (only the config: the fine-tuned encoder is inside the .pt).
The request's steps below the checkpoint's own step count respace the schedule; pose_scale scales the head
motion about the source pose (JoyVASA has no pose scale of its own). No emotion control.
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..interface import COMMON_FIELDS, BackendOption, Capabilities, MotionBackend, MotionRequest, register
from ..layout import POSE, source_vector
from ..sequence import scale_pose
from .api import DEFAULT_CFG_SCALE, DEFAULT_POSE_SMOOTHING, generate_joyvasa_motion, load_joyvasa
from .checkpoint import looks_like_joyvasa
from .model import JoyVASAModel

TEMPLATE = "motion_template.pkl"


@register
class JoyVASABackend(MotionBackend):
    KIND = "joyvasa"
    NAME = "JoyVASA"
    NO_EMOTION = "JoyVASA has no emotion module"
    DESCRIPTION = ("JoyVASA (its released .pt, public trained weights): uses steps, pose_scale and the joyvasa_* "
                   "options; no emotion control")
    SUFFIXES = (".pt", ".pth")
    COMPANIONS = ("motion_template",)
    OPTIONS = (
        BackendOption("joyvasa_cfg_scale", "float", DEFAULT_CFG_SCALE, minimum=0.0, maximum=10.0, step=0.05,
                      tooltip="JoyVASA backend only: audio guidance (its default 2.8)."),
        BackendOption("joyvasa_pose_smoothing", "float", DEFAULT_POSE_SMOOTHING, minimum=0.0, maximum=0.99,
                      step=0.01, tooltip="JoyVASA backend only: EMA weight on the previous frame's pose; 0 = off, "
                                         "0.99 = JoyVASA's own (it almost freezes the head)."),
        BackendOption("joyvasa_relative", "bool", True,
                      tooltip="JoyVASA backend only: apply the motion relative to its first frame (the reference "
                              "renderer's way); off = absolute pose and expression."),
    )

    def __init__(self, model: JoyVASAModel, files: tuple = ()):
        super().__init__()
        self.model = model
        self.files = tuple(str(f) for f in files)

    @classmethod
    def recognises(cls, checkpoint: Path) -> bool:
        return checkpoint.suffix in cls.SUFFIXES and looks_like_joyvasa(checkpoint)

    @classmethod
    def load(cls, checkpoint: Path, emotion: Path | None = None, audio_encoder: Path | None = None,
             device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32) -> "JoyVASABackend":
        if emotion is not None:
            raise ValueError("the JoyVASA backend has no emotion module; set emotion_model to none (emotion control "
                             "needs a Playmate stage-1 + emotion checkpoint pair)")
        template = checkpoint.parent / TEMPLATE
        model = load_joyvasa(checkpoint, template, audio_encoder, device=device, dtype=dtype)
        return cls(model, [checkpoint, template] + ([audio_encoder] if audio_encoder is not None else []))

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(kind=self.KIND, emotion=False, options=(*COMMON_FIELDS, *(o.name for o in self.OPTIONS)),
                            trained=self.model.trained,
                            provenance={"files": list(self.files), "iteration": self.model.meta.get("iter")})

    def _generate(self, waveform, sample_rate, source_motion, request: MotionRequest, callback):
        n_steps = self.model.cfg.n_diff_steps
        seq = generate_joyvasa_motion(self.model, waveform, sample_rate, source_motion,
                                      cfg_scale=self.option(request, "joyvasa_cfg_scale"),
                                      steps=None if request.steps >= n_steps else request.steps, seed=request.seed,
                                      fps=request.fps, pose_smoothing=self.option(request, "joyvasa_pose_smoothing"),
                                      relative_to_first_frame=self.option(request, "joyvasa_relative"),
                                      callback=callback)
        return scale_pose(seq, source_vector(source_motion)[0, POSE], request.pose_scale)
