"""Face landmark backends: the choice among them (the common result type is in detection.py).

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

from .detection import LandmarkBackend
from .insightface_backend import InsightFaceBackend, buffalo_l_paths
from .mediapipe_backend import MediaPipeBackend

logger = logging.getLogger("playmate")

BACKENDS = ("mediapipe", "insightface", "auto")


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
