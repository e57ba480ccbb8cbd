"""Playmate core: the LivePortrait-compatible face engine, the audio front-end and the motion model.

Pure PyTorch; imports nothing from ComfyUI, so it runs in scripts, the trainer and tests alike.
The end-to-end tier (source, render, files, previews) is `playmate_core.pipeline`, imported on demand.
Every motion model loads through `load_motion_backend` (motion/backend.py). Layout: README, "Architecture".
"""
from .face.config import FACE_CONFIG_FILENAME, FACE_PRESETS, FaceEngineConfig
from .face.engine import FaceEngine, build_face_modules, load_face_engine, load_face_modules, resolve_face_config
from .face.weights import save_weights
from .loading import CheckpointError
from .motion import (MotionRequest, MotionSequence, build_motion_model, generate_motion, load_motion_backend,
                     load_motion_model, save_motion_checkpoint)
from .timebase import frame_count

__version__ = "0.1.0"

__all__ = ["FaceEngine", "FaceEngineConfig", "FACE_PRESETS", "FACE_CONFIG_FILENAME", "load_face_engine",
           "load_face_modules", "resolve_face_config",
           "build_face_modules", "save_weights", "CheckpointError", "load_motion_model", "generate_motion",
           "build_motion_model", "save_motion_checkpoint", "MotionSequence", "load_motion_backend", "MotionRequest",
           "frame_count", "__version__"]
