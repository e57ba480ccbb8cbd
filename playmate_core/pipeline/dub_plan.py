"""Video dubbing, pass 1: read the source video once and decide, per frame, whether and where to crop.

    for each frame k (decoded in order, one in memory at a time):
        faces_k = detector(frame_k)                       largest first (crop/detection.py)
        face_k  = FaceTracker(face_index).update(faces_k) the followed person, or None (dub_track.py)
        b_k     = LivePortrait's crop box of face_k      (dub_crop.box_vector)
    boxes = smooth_boxes(b, kept, fps)                    per run of kept frames (dub_crop.py)

The plan holds a few numbers per frame (time stamp, 5 box values), never pixels, so it stays small for
long clips; pass 2 (dub.py) decodes the frames again as it renders them.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Callable

import numpy as np

from ..crop.cropper import FaceCropper
from .dub_crop import BOX_DIM, SMOOTH_SECONDS, box_vector, smooth_boxes
from .dub_reader import decode_frames, probe
from .dub_track import FaceTracker


@dataclass(frozen=True)
class DubPlan:
    """fps: the source's frame rate (exact). size: (H, W) of its frames. pts: (M,) int64 time stamps.
    boxes: (M,5) float64 smoothed crop boxes (c_x, c_y, side, ux_0, ux_1), NaN rows where no face is kept.
    faces_seen: most faces found in one frame (for error messages about face_index)."""
    fps: Fraction
    size: tuple[int, int]
    pts: np.ndarray
    boxes: np.ndarray
    faces_seen: int

    @property
    def frames(self) -> int:
        return int(self.pts.shape[0])

    @property
    def kept(self) -> np.ndarray:
        """(M,) bool: frames where the followed face was found (the others pass through unchanged)."""
        return ~np.isnan(self.boxes[:, 0])


def _no_face_message(frames: int, faces_seen: int, face_index: int) -> str:
    if faces_seen == 0:
        return (f"no face found in any of the {frames} frames of the video; give a video where a face is visible "
                f"(front-facing, at least ~1/10 of the frame), or try the other cropper backend")
    return (f"face_index {face_index} was asked for but at most {faces_seen} face(s) are visible in a frame of the "
            f"video; use face_index 0 to {faces_seen - 1} (0 = the largest face)")


def analyse_video(cropper: FaceCropper, video, smooth_seconds: float = SMOOTH_SECONDS,
                  callback: Callable[[int, int], None] | None = None, name: str = "the video") -> DubPlan:
    """Pass 1 over `video` (a path or a seekable binary file). Crop options (scale, vx_ratio, vy_ratio,
    rotate, face_index) come from `cropper`. callback(k + 1, estimate) after every frame (raise to cancel).
    Raises ValueError when no frame holds the chosen face, naming face_index and what was seen."""
    if not isinstance(cropper, FaceCropper):
        raise ValueError(f"cropper must be a FaceCropper, got {type(cropper).__name__}")
    fps, estimate = probe(video)
    tracker = FaceTracker(cropper.face_index)
    pts, rows, size = [], [], None
    nan_row = np.full(BOX_DIM, np.nan)
    for k, (stamp, rgb) in enumerate(decode_frames(video)):
        if size is None:
            size = rgb.shape[:2]
        elif rgb.shape[:2] != size:
            raise ValueError(f"{name}: frame {k} is {rgb.shape[1]}x{rgb.shape[0]} px but frame 0 was "
                             f"{size[1]}x{size[0]}; re-encode the video at one frame size")
        face = tracker.update(cropper.backend.detect(rgb))
        pts.append(stamp)
        rows.append(nan_row if face is None else
                    box_vector(face.landmarks, cropper.scale, cropper.vx_ratio, cropper.vy_ratio, face.layout))
        if callback is not None:
            callback(k + 1, max(estimate, k + 1))
    if not pts:
        raise ValueError(f"{name} has no frames; give a video with at least one frame")
    raw = np.stack(rows)                                                     # M,5
    kept = ~np.isnan(raw[:, 0])
    if not kept.any():
        raise ValueError(f"{name}: " + _no_face_message(len(pts), tracker.max_faces_seen, cropper.face_index))
    boxes = smooth_boxes(np.where(kept[:, None], raw, 0.0), kept, float(fps), smooth_seconds=smooth_seconds)
    return DubPlan(fps=fps, size=(int(size[0]), int(size[1])), pts=np.asarray(pts, np.int64), boxes=boxes,
                   faces_seen=tracker.max_faces_seen)


def first_face_frame(cropper: FaceCropper, video, name: str = "the video") -> tuple[int, np.ndarray]:
    """(k, RGB frame) of the first frame where the tracker picks a face (face_index: faces[face_index] of the
    first frame that has that many), decoding only up to it. The source portrait for Audio To Motion."""
    tracker = FaceTracker(cropper.face_index)
    count = 0
    for k, (_, rgb) in enumerate(decode_frames(video)):
        count = k + 1
        if tracker.update(cropper.backend.detect(rgb)) is not None:
            return k, rgb
    if count == 0:
        raise ValueError(f"{name} has no frames; give a video with at least one frame")
    raise ValueError(f"{name}: " + _no_face_message(count, tracker.max_faces_seen, cropper.face_index))


__all__ = ["DubPlan", "analyse_video", "first_face_frame"]
