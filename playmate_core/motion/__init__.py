"""Motion: speech -> per-frame LivePortrait motion, behind one front door for every backend.

    layout.py      the 70-value motion vector and its normalisation (shared by every backend)
    sequence.py    MotionSequence, time resampling, pose scaling, the frame count (timebase)
    interface.py   MotionRequest, BackendOption, Capabilities, MotionBackend (the rules every backend obeys)
    backend.py     load_motion_backend: recognises the checkpoint kind, returns a MotionBackend
    track_text.py  emotion tracks typed as text ('0-2.5 happy 3')
    playmate/      our Playmate implementation (stage-1 DiT, stage-2 emotion module, CFG, windows, checkpoints)
    joyvasa/       the public JoyVASA model, loaded strictly from its released files

Playmate's own names stay importable from here (load_motion_model, generate_motion, ...).
"""
from .backend import BackendOption, MotionBackend, MotionRequest, backend_options, load_motion_backend
from .interface import Capabilities
from .layout import MOTION_DIM, MOTION_LAYOUT, POSE_KEYS, MotionStats, motion_to_vector, vector_to_motion
from .playmate.api import generate_motion, load_motion_model
from .playmate.checkpoint import read_motion_checkpoint, save_motion_checkpoint
from .playmate.denoiser import MOTION_PRESETS, MotionDenoiser, MotionDenoiserConfig, motion_preset
from .playmate.emotion import (EMOTION_LABELS, EMOTION_PRESETS, INTENSITY_LEVELS, EmotionConfig, EmotionModule,
                               emotion_weights)
from .playmate.guidance import GuidedEpsilon, combine
from .playmate.model import MotionModel, build_motion_model
from .playmate.scheduler import DDPMCosineScheduler, DiffusionConfig
from .playmate.windows import augment_previous_frames, start_previous_frames
from .sequence import MotionSequence, frame_count, resample_frames, scale_pose

__all__ = [
    "load_motion_backend", "MotionBackend", "MotionRequest", "BackendOption", "Capabilities", "backend_options",
    "load_motion_model", "generate_motion", "save_motion_checkpoint", "read_motion_checkpoint",
    "build_motion_model", "MotionModel", "MotionSequence", "MotionStats", "frame_count", "resample_frames",
    "scale_pose",
    "MotionDenoiser", "MotionDenoiserConfig", "MOTION_PRESETS", "motion_preset",
    "EmotionModule", "EmotionConfig", "EMOTION_PRESETS", "EMOTION_LABELS", "INTENSITY_LEVELS", "emotion_weights",
    "GuidedEpsilon", "combine", "DDPMCosineScheduler", "DiffusionConfig",
    "MOTION_DIM", "MOTION_LAYOUT", "POSE_KEYS", "motion_to_vector", "vector_to_motion",
    "augment_previous_frames", "start_previous_frames",
]
