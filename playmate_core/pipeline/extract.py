"""What the Extract Motion node does, as one core call: one image -> the source portrait and its one-frame
motion; a batch of video frames -> the source from the first frame with a face plus per-frame driving motion.

    source, motion = extract_source_and_motion(engine, cropper, frames (B,H,W,3) uint8, fps)
"""
from __future__ import annotations

from typing import Callable

from ..crop.cropper import FaceCropper
from ..face.engine import FaceEngine
from ..motion.sequence import MotionSequence
from .pose_edit import still_motion
from .source import PortraitSource, extract_driving, prepare_source


def extract_source_and_motion(engine: FaceEngine, cropper: FaceCropper, frames, fps: float,
                              on_missing: str = "hold", callback: Callable[[int, int], None] | None = None,
                              name: str = "the image") -> tuple[PortraitSource, MotionSequence]:
    """frames: (B,H,W,3) uint8 (B = 1: a portrait; B > 1: a driving video at `fps`).
    on_missing: video frames without a face ("skip" | "hold" | "error"); callback(done, total) per batch."""
    if len(frames) == 1:
        source = prepare_source(engine, cropper, frames[0], name=name)
        return source, still_motion(source, 1, fps)
    motion, kept = extract_driving(engine, cropper, frames, fps, on_missing=on_missing, callback=callback)
    return prepare_source(engine, cropper, frames[kept[0]], name=f"video frame {kept[0]}"), motion
