"""Video dubbing, who: follow ONE person through a clip where faces come and go (pure, per frame).

Per frame the detector returns faces sorted large -> small (crop/detection.py). The tracker keeps one:

    start      no face kept yet, or the last frame had no face at all (everyone left: a new shot)
               -> faces[face_index] when the frame has that many faces, else none
    follow     otherwise -> the face with the largest IoU with the last kept box when IoU >= MIN_IOU,
               else the face whose centre is nearest the last kept centre when that distance is at most
               MAX_SHIFT x the last box's side and the sides differ by at most MAX_SIZE_RATIO
    lost       no face qualifies (the person left while someone else stays in view) -> none; the last
               kept box is kept, so the same person is picked up when they come back near it

A frame with no kept face is passed through unchanged by the dubbing pipeline.
"""
from __future__ import annotations

import numbers
from typing import Sequence

import numpy as np

from ..crop.detection import DetectedFace

MIN_IOU = 0.3            # boxes of one face in consecutive frames overlap far more than this
MAX_SHIFT = 0.5          # centre jump allowed between kept frames, in units of the box side
MAX_SIZE_RATIO = 1.5     # box side may grow or shrink by at most this factor between kept frames


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes in pixels; 0 for empty boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    area = lambda r: max(0.0, r[2] - r[0]) * max(0.0, r[3] - r[1])   # noqa: E731
    union = area(a) + area(b) - inter
    return float(inter / union) if union > 0 else 0.0


def _centre_and_side(box: np.ndarray) -> tuple[np.ndarray, float]:
    return np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2]), float(max(box[2] - box[0], box[3] - box[1]))


def same_face(last: np.ndarray, box: np.ndarray) -> tuple[bool, float]:
    """(is it plausibly the same face as `last` one kept frame later, matching score: higher is closer)."""
    iou = box_iou(last, box)
    if iou >= MIN_IOU:
        return True, 1.0 + iou                               # any IoU match ranks above a centre match
    (c0, s0), (c1, s1) = _centre_and_side(last), _centre_and_side(box)
    if s0 <= 0 or s1 <= 0 or max(s0 / s1, s1 / s0) > MAX_SIZE_RATIO:
        return False, 0.0
    shift = float(np.linalg.norm(c1 - c0)) / s0
    return shift <= MAX_SHIFT, 1.0 - shift


class FaceTracker:
    """Feed every frame's faces in order to `update`; it returns the followed person's face or None."""

    def __init__(self, face_index: int = 0):
        if isinstance(face_index, bool) or not isinstance(face_index, numbers.Integral) or face_index < 0:
            raise ValueError(f"face_index must be 0 (the largest face) or more, got {face_index!r}")
        self.face_index = int(face_index)
        self.last_box: np.ndarray | None = None
        self.frame_was_empty = True
        self.max_faces_seen = 0

    def update(self, faces: Sequence[DetectedFace]) -> DetectedFace | None:
        """faces: this frame's detections, largest first. -> the kept face, or None (pass the frame through)."""
        self.max_faces_seen = max(self.max_faces_seen, len(faces))
        empty, self.frame_was_empty = self.frame_was_empty, not faces
        if not faces:
            return None
        if self.last_box is None or empty:
            chosen = faces[self.face_index] if len(faces) > self.face_index else None
        else:
            scored = [(same_face(self.last_box, np.asarray(f.box, np.float64)), i) for i, f in enumerate(faces)]
            matches = [(score, i) for (ok, score), i in scored if ok]
            chosen = faces[max(matches)[1]] if matches else None
        if chosen is not None:
            self.last_box = np.asarray(chosen.box, np.float64).copy()
        return chosen


__all__ = ["FaceTracker", "box_iou", "same_face", "MIN_IOU", "MAX_SHIFT", "MAX_SIZE_RATIO"]
