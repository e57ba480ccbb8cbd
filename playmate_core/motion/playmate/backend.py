"""The Playmate motion model behind the backend interface (motion/interface.py).

    backend = PlaymateBackend.load(stage1_file, emotion=emotion_file, audio_encoder=wav2vec2_folder)
    seq = backend.generate(waveform, sample_rate, source_motion, MotionRequest(emotion="happy", cfg_audio=1.5))

Files: a stage-1 `.safetensors` (optionally holding the emotion module too), an optional stage-2 emotion
`.safetensors`, and the audio-encoder folder the model was trained with (wav2vec2/HuBERT, HF layout).
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..interface import COMMON_FIELDS, Capabilities, MotionBackend, MotionRequest, register
from .api import generate_motion
from .checkpoint import load_motion_model
from .model import MotionModel


@register
class PlaymateBackend(MotionBackend):
    KIND = "playmate"
    NAME = "Playmate"
    NO_EMOTION = "this stage-1 checkpoint has no emotion module; its stage-2 emotion checkpoint adds one"
    DESCRIPTION = ("Playmate (.safetensors from this pack's trainer): audio-conditioned diffusion transformer; emotion "
                   "control and multi-condition CFG (paper eq. 8) need its stage-2 emotion checkpoint")
    READS = ("emotion", "intensity", "cfg_audio", "cfg_emotion", "eta")
    SUFFIXES = (".safetensors",)
    EMOTION_SUFFIXES = (".safetensors",)

    def __init__(self, model: MotionModel, encoder: torch.nn.Module | None = None, files: tuple = ()):
        super().__init__()
        self.model = model
        self.encoder = encoder
        self.files = tuple(str(f) for f in files)

    @classmethod
    def recognises(cls, checkpoint: Path) -> bool:
        return checkpoint.suffix == ".safetensors"

    @classmethod
    def load(cls, checkpoint: Path, emotion: Path | None = None, audio_encoder: Path | None = None,
             device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32) -> "PlaymateBackend":
        files = [checkpoint] + ([emotion] if emotion is not None else [])
        model = load_motion_model(files, device=device, dtype=dtype)
        encoder = None
        if audio_encoder is not None:
            from ...audio.encoder import AudioEncoder
            encoder = AudioEncoder.from_pretrained(audio_encoder, device=model.device)
        return cls(model, encoder, files + ([audio_encoder] if audio_encoder is not None else []))

    @property
    def capabilities(self) -> Capabilities:
        m = self.model
        reads = (*self.READS,) if m.has_emotion else tuple(r for r in self.READS if r not in
                                                            ("emotion", "intensity", "cfg_emotion"))
        return Capabilities(kind=self.KIND, emotion=m.has_emotion, options=(*COMMON_FIELDS, *reads),
                            trained=m.trained, emotion_labels=m.emotion_labels if m.has_emotion else (),
                            provenance={"files": list(self.files), "stage1_trained": m.meta.get("stage1_trained"),
                                        "emotion_trained": m.meta.get("emotion_trained"),
                                        "training": m.meta.get("training", {})})

    def _generate(self, waveform, sample_rate, source_motion, request: MotionRequest, callback):
        return generate_motion(self.model, waveform, sample_rate, source_motion=source_motion,
                               emotion=request.emotion, intensity=request.intensity, w_a=request.cfg_audio,
                               w_e=request.cfg_emotion, steps=request.steps, eta=request.eta, seed=request.seed,
                               fps=request.fps, pose_scale=request.pose_scale, callback=callback,
                               encoder=self.encoder)
