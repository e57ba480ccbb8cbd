"""The Playmate motion model: speech -> LivePortrait motion (stage 1) with emotion control (stage 2).

Our implementation of arXiv 2502.07203 §3 (no official code or weights exist): a Conformer diffusion
transformer over the 70-d motion of ../layout.py (denoiser.py, conformer.py, attention.py, linear.py),
the emotion module (emotion.py), DDPM/DDIM with eps targets (scheduler.py), multi-condition CFG
(guidance.py), long-audio windows (windows.py, generate.py), safetensors checkpoints with their
statistics inside (checkpoint.py), the public entry points (api.py) and the backend adapter
(backend.py). Design: shared/design/motion-model.md.
"""
from .api import generate_motion, load_motion_model
from .backend import PlaymateBackend
from .model import MotionModel, build_motion_model

__all__ = ["generate_motion", "load_motion_model", "PlaymateBackend", "MotionModel", "build_motion_model"]
