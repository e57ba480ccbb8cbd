"""The end-to-end tier (code-style H1): source preparation, motion edits, rendering, files, previews.

    prepare_source(engine, cropper, image) -> PortraitSource          (F, M and the crop, once)
    extract_driving(engine, cropper, frames, fps) -> (MotionSequence, kept)
    extract_source_and_motion(engine, cropper, frames, fps) -> (PortraitSource, MotionSequence)   (Extract Motion)
    match_length / relative_driving / override_pose / replace_expression   (pure motion edits)
    pose_override(motion, source, pose_source, ...) ; scale_head_motion ; still_motion   (Pose Override node)
    render_frames(engine, source, motion) -> generator of uint8 frames       (bounded memory)
    write_video(path, frames, fps, audio) ; save_motion_file / load_motion_file ; draw_motion_preview
"""
from .extract import extract_source_and_motion
from .motion_file import MOTION_SUFFIX, load_motion_file, save_motion_file
from .pose_edit import (DRIVING_MODES, EYE_KEYPOINTS, LENGTH_POLICIES, LIP_KEYPOINTS, POSE_SOURCES, match_length,
                        override_pose, pose_override, relative_driving, replace_expression, scale_head_motion,
                        still_motion)
from .preview import draw_motion_preview, mouth_opening
from .render import output_size, render_frames, render_mask
from .source import RENDER_SIZE, PortraitSource, extract_driving, prepare_source
from .video_file import write_video

__all__ = [
    "PortraitSource", "prepare_source", "extract_driving", "extract_source_and_motion", "RENDER_SIZE",
    "LIP_KEYPOINTS", "EYE_KEYPOINTS", "LENGTH_POLICIES", "match_length", "relative_driving", "override_pose",
    "replace_expression", "POSE_SOURCES", "DRIVING_MODES", "pose_override", "scale_head_motion", "still_motion",
    "render_frames", "output_size", "render_mask",
    "write_video", "MOTION_SUFFIX", "save_motion_file", "load_motion_file", "draw_motion_preview", "mouth_opening",
]
