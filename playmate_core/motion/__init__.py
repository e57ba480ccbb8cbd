"""Playmate motion model: speech -> LivePortrait motion (stage 1) with emotion control (stage 2).

Our implementation of arXiv 2502.07203 §3 (no official code or weights exist): a Conformer
diffusion transformer over 70-d implicit-keypoint motion (layout.py), DDPM/DDIM with eps targets
(scheduler.py), multi-condition CFG (guidance.py), long-audio windows (windows.py), safetensors
checkpoints with their statistics inside (checkpoint.py). Design: shared/design/motion-model.md.
"""
from .api import generate_motion, load_motion_model
from .checkpoint import read_motion_checkpoint, save_motion_checkpoint
from .denoiser import MOTION_PRESETS, MotionDenoiser, MotionDenoiserConfig, motion_preset
from .emotion import EMOTION_LABELS, EMOTION_PRESETS, INTENSITY_LEVELS, EmotionConfig, EmotionModule, emotion_weights
from .generate import MotionSequence
from .guidance import GuidedEpsilon, combine
from .layout import MOTION_DIM, MOTION_LAYOUT, POSE_KEYS, MotionStats, motion_to_vector, vector_to_motion
from .model import MotionModel, build_motion_model
from .scheduler import DDPMCosineScheduler, DiffusionConfig
from .windows import augment_previous_frames, start_previous_frames

__all__ = [
    "load_motion_model", "generate_motion", "save_motion_checkpoint", "read_motion_checkpoint",
    "build_motion_model", "MotionModel", "MotionSequence", "MotionStats",
    "MotionDenoiser", "MotionDenoiserConfig", "MOTION_PRESETS", "motion_preset",
    "EmotionModule", "EmotionConfig", "EMOTION_PRESETS", "EMOTION_LABELS", "INTENSITY_LEVELS", "emotion_weights",
    "GuidedEpsilon", "combine", "DDPMCosineScheduler", "DiffusionConfig",
    "MOTION_DIM", "MOTION_LAYOUT", "POSE_KEYS", "motion_to_vector", "vector_to_motion",
    "augment_previous_frames", "start_previous_frames",
]
