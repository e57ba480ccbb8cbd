"""Playmate core: the LivePortrait-compatible face engine and (later) the audio-to-motion model.

Pure PyTorch; imports nothing from ComfyUI, so it runs in scripts, the trainer and tests alike.
"""
from .face_config import FACE_PRESETS, FaceEngineConfig
from .face_engine import FaceEngine, build_face_modules, load_face_engine, load_face_modules
from .liveportrait_weights import save_weights
from .loading import CheckpointError

__version__ = "0.1.0"

__all__ = ["FaceEngine", "FaceEngineConfig", "FACE_PRESETS", "load_face_engine", "load_face_modules",
           "build_face_modules", "save_weights", "CheckpointError", "__version__"]
