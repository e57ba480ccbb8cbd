"""Playmate's custom socket types (namespaced upper-case ids; never a core name like VIDEO or MODEL), and
the Schema helper every node uses.

PLAYMATE_MODELS          runtime.PlaymateModels: face engine, motion model, audio encoder, cropper
PLAYMATE_SOURCE          playmate_core.pipeline.PortraitSource: appearance volume, crop, source motion
PLAYMATE_MOTION          playmate_core.motion.MotionSequence: per-frame 70-d motion at its own fps
PLAYMATE_EMOTION         dict of MotionRequest emotion fields (Playmate Emotion -> Audio To Motion)
PLAYMATE_MOTION_OPTIONS  dict of MotionRequest fields / backend options (options nodes -> Audio To Motion)
"""
import dataclasses

from comfy_api.v0_0_2 import io

Models = io.Custom("PLAYMATE_MODELS")
Source = io.Custom("PLAYMATE_SOURCE")
Motion = io.Custom("PLAYMATE_MOTION")
Emotion = io.Custom("PLAYMATE_EMOTION")
MotionOptions = io.Custom("PLAYMATE_MOTION_OPTIONS")

# What people type in the node search for this pack's main nodes.
ALIASES = ["talking head", "lip sync", "audio to video", "avatar", "portrait animation"]
HAS_SEARCH_ALIASES = "search_aliases" in {f.name for f in dataclasses.fields(io.Schema)}   # 0.3.75 no, 0.33.0 yes


def schema(**fields) -> io.Schema:
    """io.Schema(**fields); search_aliases is dropped where this ComfyUI's Schema has no such field."""
    if not HAS_SEARCH_ALIASES:
        fields.pop("search_aliases", None)
    return io.Schema(**fields)
