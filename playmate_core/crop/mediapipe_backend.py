"""MediaPipe FaceMesh landmark backend (478 points, offline).

Uses the legacy ``mp.solutions`` API of mediapipe 0.10.14: its wheel ships the face detection and
face landmark tflite models, so nothing is downloaded (newer mediapipe releases no longer ship
``solutions``). The MediaPipe models are licensed Apache-2.0.

FaceMesh finds faces with MediaPipe's *short-range* detector, which misses small faces (below
roughly a tenth of the frame). When FaceMesh finds nothing:

1. the *full-range* FaceDetection model (``model_selection=1``) runs on the whole image;
2. if that finds nothing either, it runs on a 3x3 grid of half-size tiles overlapping by half
   (faces down to ~1/25 of the frame), and duplicate boxes are merged;
3. a square region of ``REGION_MARGIN`` x each face box is resampled to ``REGION_SIZE`` px,
   FaceMesh runs on it, and the landmarks are mapped back to the full image.

mediapipe is imported inside :meth:`MediaPipeBackend._solutions`, never at package import time.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

from .detection import DetectedFace, landmark_box, sort_large_to_small

logger = logging.getLogger("playmate")

LAYOUT = "mediapipe478"
MAX_FACES = 8
"""Most faces FaceMesh reports per image."""
MIN_DETECTION_CONFIDENCE = 0.5
"""Face-detector score threshold for FaceMesh and the full-range FaceDetection fallback."""
FULL_RANGE_MODEL = 1
"""FaceDetection ``model_selection``: 0 = short range (within ~2 m), 1 = full range (~5 m)."""
REGION_MARGIN = 2.5
"""Side of the re-analysed region / side of the detected face box (the face fills ~40 %)."""
REGION_SIZE = 384
"""The fallback region is resampled to this many pixels per side before FaceMesh runs on it."""
TILE_GRID = 3
"""Tiles per side for the tiled detector pass; each tile is half the image, stride a quarter."""
MIN_TILE_SIDE = 128
"""The tiled pass is skipped when a tile would be smaller than this (pixels)."""
DUPLICATE_IOU = 0.3
"""Boxes from overlapping tiles with at least this IoU are the same face."""

INSTALL_HINT = (
    'install it with: pip install "protobuf>=4.25.3,<5" absl-py attrs flatbuffers matplotlib && '
    "pip install --no-deps mediapipe==0.10.14"
)


class MediaPipeBackend:
    """FaceMesh (static images, refined 478 landmarks) with a full-range detector fallback.

    The FaceMesh and FaceDetection graphs are created on first use and kept until :meth:`close`.
    """

    name = "mediapipe"

    def __init__(self, max_faces: int = MAX_FACES,
                 min_detection_confidence: float = MIN_DETECTION_CONFIDENCE) -> None:
        self.max_faces = int(max_faces)
        self.min_detection_confidence = float(min_detection_confidence)
        self._mesh = None
        self._detector = None

    @staticmethod
    def _solutions():
        try:
            import mediapipe as mp
        except ImportError as exc:
            raise RuntimeError(f"the mediapipe backend needs mediapipe; {INSTALL_HINT}") from exc
        solutions = getattr(mp, "solutions", None)
        if solutions is None or not hasattr(solutions, "face_mesh"):
            raise RuntimeError(
                f"mediapipe {getattr(mp, '__version__', '?')} has no legacy 'solutions' API (and "
                f"ships no face models); {INSTALL_HINT}"
            )
        return solutions

    def _face_mesh(self):
        if self._mesh is None:
            self._mesh = self._solutions().face_mesh.FaceMesh(
                static_image_mode=True, max_num_faces=self.max_faces, refine_landmarks=True,
                min_detection_confidence=self.min_detection_confidence)
        return self._mesh

    def _face_detector(self):
        if self._detector is None:
            self._detector = self._solutions().face_detection.FaceDetection(
                model_selection=FULL_RANGE_MODEL,
                min_detection_confidence=self.min_detection_confidence)
        return self._detector

    def close(self) -> None:
        """Release the MediaPipe graphs; they are recreated if the backend is used again."""
        for graph in (self._mesh, self._detector):
            if graph is not None:
                graph.close()
        self._mesh = self._detector = None

    def _mesh_landmarks(self, image_rgb: np.ndarray) -> list[np.ndarray]:
        """FaceMesh on an (H, W, 3) uint8 RGB image -> list of (478, 2) float64 pixel arrays."""
        result = self._face_mesh().process(image_rgb)
        height, width = image_rgb.shape[:2]
        faces = []
        for face in result.multi_face_landmarks or []:
            normalised = np.array([(p.x, p.y) for p in face.landmark], dtype=np.float64)
            faces.append(normalised * (width, height))                   # (478, 2) pixels
        return faces

    def _detector_boxes(self, image_rgb: np.ndarray,
                        offset: tuple[int, int] = (0, 0)) -> list[tuple[np.ndarray, float]]:
        """Full-range FaceDetection -> [(box (x0, y0, x1, y1) pixels + offset, score)]."""
        result = self._face_detector().process(np.ascontiguousarray(image_rgb))
        height, width = image_rgb.shape[:2]
        boxes = []
        for det in result.detections or []:
            rel = det.location_data.relative_bounding_box
            box = np.array([rel.xmin * width, rel.ymin * height,
                            (rel.xmin + rel.width) * width, (rel.ymin + rel.height) * height])
            boxes.append((box + np.tile(offset, 2), float(det.score[0]) if det.score else 0.0))
        return boxes

    def _tiled_boxes(self, image_rgb: np.ndarray) -> list[tuple[np.ndarray, float]]:
        """Full-range detection on overlapping tiles; duplicates merged (highest score kept)."""
        height, width = image_rgb.shape[:2]
        tile_h, tile_w = height // 2, width // 2
        if min(tile_h, tile_w) < MIN_TILE_SIDE:
            return []
        found = []
        for ty in np.linspace(0, height - tile_h, TILE_GRID).astype(int):
            for tx in np.linspace(0, width - tile_w, TILE_GRID).astype(int):
                tile = image_rgb[ty:ty + tile_h, tx:tx + tile_w]
                found += self._detector_boxes(tile, offset=(int(tx), int(ty)))
        kept: list[tuple[np.ndarray, float]] = []
        for box, score in sorted(found, key=lambda item: -item[1]):
            if all(_iou(box, other) < DUPLICATE_IOU for other, _ in kept):
                kept.append((box, score))
        return kept

    def _mesh_in_region(self, image_rgb: np.ndarray, box: np.ndarray) -> np.ndarray | None:
        """FaceMesh on a square region around ``box``; landmarks mapped back, or None."""
        centre = (box[:2] + box[2:]) / 2.0
        side = REGION_MARGIN * float(max(box[2] - box[0], box[3] - box[1]))
        if side < 1.0:
            return None
        scale = REGION_SIZE / side
        # region -> pixels: p_region = scale * (p - centre) + REGION_SIZE / 2
        to_region = np.array([[scale, 0.0, REGION_SIZE / 2 - scale * centre[0]],
                              [0.0, scale, REGION_SIZE / 2 - scale * centre[1]]])
        region = cv2.warpAffine(image_rgb, to_region, (REGION_SIZE, REGION_SIZE),
                                flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        faces = self._mesh_landmarks(region)
        if not faces:
            return None
        largest = max(faces, key=lambda pts: np.prod(np.ptp(pts, axis=0)))
        return (largest - to_region[:, 2]) / scale                           # back to pixels

    def detect(self, image_rgb: np.ndarray) -> list[DetectedFace]:
        """All faces in an (H, W, 3) uint8 RGB image, largest first.

        Returns:
            DetectedFace list with (478, 2) landmarks (layout "mediapipe478") in image pixels;
            ``box`` is the landmark extent, ``score`` is the full-range detector's score for faces
            found by the fallback and None otherwise. Empty when no face is found.
        """
        faces = [DetectedFace(pts, landmark_box(pts), None, LAYOUT)
                 for pts in self._mesh_landmarks(image_rgb)]
        if not faces:
            boxes = self._detector_boxes(image_rgb) or self._tiled_boxes(image_rgb)
            logger.debug("FaceMesh found no face; full-range detector found %d", len(boxes))
            for box, score in boxes:
                pts = self._mesh_in_region(image_rgb, box)
                if pts is not None:
                    faces.append(DetectedFace(pts, landmark_box(pts), score, LAYOUT))
        return sort_large_to_small(faces)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes."""
    inter = np.prod(np.clip(np.minimum(a[2:], b[2:]) - np.maximum(a[:2], b[:2]), 0.0, None))
    union = np.prod(a[2:] - a[:2]) + np.prod(b[2:] - b[:2]) - inter
    return float(inter / union) if union > 0 else 0.0
