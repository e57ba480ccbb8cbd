"""Face landmark backends: the common result type and the backend choice.

Backends (each imports its optional dependency lazily, inside its methods):

* ``"mediapipe"``: MediaPipe FaceMesh, 478 landmarks; models ship inside the mediapipe wheel, so it
  works offline. Models licensed Apache-2.0. See :mod:`.mediapipe_backend`.
* ``"insightface"``: InsightFace buffalo_l (SCRFD ``det_10g.onnx`` + ``2d106det.onnx``) through
  onnxruntime, 106 landmarks, LivePortrait's reference detector. The buffalo_l models are licensed
  for **non-commercial research only**, and must be placed by the user. See
  :mod:`.insightface_backend`.
* ``"auto"``: insightface when its model files are present and onnxruntime is installed,
  otherwise mediapipe.
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass
from typing import Protocol

import numpy as np

logger = logging.getLogger("playmate")

BACKENDS = ("mediapipe", "insightface", "auto")


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


def make_backend(backend: str = "auto", insightface_root: str | None = None) -> LandmarkBackend:
    """Build the landmark backend named ``backend`` (see the module docstring).

    Args:
        backend: "mediapipe", "insightface" or "auto".
        insightface_root: folder holding buffalo_l (e.g. ``ComfyUI/models/insightface``); needed
            for "insightface", optional for "auto".

    Raises:
        ValueError: unknown backend name.
        FileNotFoundError: "insightface" without the model files (the message lists the paths).
    """
    from .insightface_backend import InsightFaceBackend, buffalo_l_paths
    from .mediapipe_backend import MediaPipeBackend

    if backend not in BACKENDS:
        raise ValueError(f"unknown face backend {backend!r}; choose one of {', '.join(BACKENDS)}.")
    if backend == "mediapipe":
        return MediaPipeBackend()
    if backend == "insightface":
        return InsightFaceBackend(insightface_root)
    paths = buffalo_l_paths(insightface_root) if insightface_root else None
    if paths is None:
        logger.info("face backend auto: buffalo_l not found, using mediapipe")
        return MediaPipeBackend()
    if importlib.util.find_spec("onnxruntime") is None:
        logger.warning(
            "face backend auto: buffalo_l found in %s but onnxruntime is not installed "
            "(pip install onnxruntime); using mediapipe", insightface_root)
        return MediaPipeBackend()
    logger.info("face backend auto: using insightface buffalo_l from %s", paths[0].parent)
    return InsightFaceBackend(insightface_root)
