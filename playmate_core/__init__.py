"""Playmate core: the LivePortrait-compatible face engine, the audio front-end and the motion model.

Pure PyTorch; imports nothing from ComfyUI, so it runs in scripts, the trainer and tests alike.
"""
from .face_config import FACE_PRESETS, FaceEngineConfig
from .face_engine import FaceEngine, build_face_modules, load_face_engine, load_face_modules
from .liveportrait_weights import save_weights
from .loading import CheckpointError
from .motion import (MotionSequence, build_motion_model, generate_motion, load_motion_model,
                     save_motion_checkpoint)

__version__ = "0.1.0"

__all__ = ["FaceEngine", "FaceEngineConfig", "FACE_PRESETS", "load_face_engine", "load_face_modules",
           "build_face_modules", "save_weights", "CheckpointError", "load_motion_model", "generate_motion",
           "build_motion_model", "save_motion_checkpoint", "MotionSequence", "__version__"]
