"""Playmate's custom socket types (namespaced upper-case ids; never a core name like VIDEO or MODEL).

PLAYMATE_MODELS   runtime.PlaymateModels: face engine, motion model, audio encoder, cropper
PLAYMATE_SOURCE   playmate_core.pipeline.PortraitSource: appearance volume, crop, source motion
PLAYMATE_MOTION   playmate_core.motion.MotionSequence: per-frame 70-d motion at its own fps
"""
from comfy_api.v0_0_2 import io

Models = io.Custom("PLAYMATE_MODELS")
Source = io.Custom("PLAYMATE_SOURCE")
Motion = io.Custom("PLAYMATE_MOTION")
