"""What a face landmark backend returns and promises: DetectedFace, the LandmarkBackend protocol, and
two helpers every backend uses (the landmark extent, the large-to-small order).

Every backend module imports this file and nothing else of crop/, so backends.py can choose among them
without an import circle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class DetectedFace:
    """One detected face.

    Attributes:
        landmarks: (N, 2) float64 landmark pixels (x, y) in the analysed image.
        box: (4,) float64 face box (x0, y0, x1, y1) in pixels: the detector's box when there is
            one, else the landmarks' extent.
        score: detector confidence in [0, 1], or None when the backend gives none.
        layout: landmark layout name (see ``geometry.LAYOUT_POINTS``).
    """

    landmarks: np.ndarray
    box: np.ndarray
    score: float | None
    layout: str

    @property
    def area(self) -> float:
        """Box area in square pixels (used to sort faces large -> small)."""
        x0, y0, x1, y1 = self.box
        return float(max(x1 - x0, 0.0) * max(y1 - y0, 0.0))


class LandmarkBackend(Protocol):
    """What :class:`~.cropper.FaceCropper` needs from a backend."""

    name: str

    def detect(self, image_rgb: np.ndarray) -> list[DetectedFace]:
        """All faces in an (H, W, 3) uint8 RGB image, sorted by box area, largest first."""
        ...

    def close(self) -> None:
        """Release native resources (the backend can be used again afterwards)."""
        ...


def landmark_box(landmarks: np.ndarray) -> np.ndarray:
    """(x0, y0, x1, y1) extent of (N, 2) landmarks, float64."""
    pts = np.asarray(landmarks, dtype=np.float64)
    return np.concatenate([pts.min(axis=0), pts.max(axis=0)])


def sort_large_to_small(faces: list[DetectedFace]) -> list[DetectedFace]:
    """Faces ordered by box area, largest first (LivePortrait's 'large-small' order)."""
    return sorted(faces, key=lambda face: face.area, reverse=True)
