"""InsightFace buffalo_l landmark backend (106 points), LivePortrait's reference detector.

Runs the two buffalo_l ONNX files directly with onnxruntime (the ``insightface`` package is not
needed): SCRFD ``det_10g.onnx`` finds face boxes, ``2d106det.onnx`` puts 106 landmarks in each box.

LICENCE: the InsightFace buffalo_l models are released for **non-commercial research purposes
only**. They are never downloaded by this package; the user places them, e.g. in
``ComfyUI/models/insightface/models/buffalo_l/``.

Facts used (InsightFace model zoo, as LivePortrait's FaceAnalysisDIY calls it):
* SCRFD: the image is resized, keeping its aspect ratio, into the top-left of a black
  ``DET_SIZE`` x ``DET_SIZE`` canvas; input = (RGB − 127.5) / 128, NCHW. Nine outputs: scores,
  box distances and 5-point distances for strides 8, 16, 32, with 2 anchors per grid cell.
  Anchor centre = (col, row) · stride; box = centre ± distance · stride (left, top, right,
  bottom). Scores >= ``det_thresh`` are kept, boxes divided by the resize factor, then greedy NMS
  at IoU 0.4 (areas counted with the +1 pixel convention).
* 2d106det: a ``LMK_SIZE`` crop centred on the box, scaled so the longer box side covers
  1/``LMK_BOX_SCALE`` of it; input = RGB pixel values 0..255 (mean 0, std 1), NCHW; output 212
  values = 106 (x, y) in [−1, 1]: pixel = (v + 1) · LMK_SIZE / 2, then mapped back to the image.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from .detection import DetectedFace, sort_large_to_small

logger = logging.getLogger("playmate")

LAYOUT = "insightface106"
DETECTOR_FILE = "det_10g.onnx"
LANDMARK_FILE = "2d106det.onnx"
MODEL_PACK = "buffalo_l"
DET_SIZE = 512
"""Detector input side in pixels (LivePortrait prepares the detector with det_size 512)."""
DET_THRESH = 0.15
"""Box score threshold (LivePortrait CLI default; its CropConfig default is 0.1)."""
NMS_THRESH = 0.4
SCRFD_MEAN, SCRFD_STD = 127.5, 128.0
STRIDES = (8, 16, 32)
ANCHORS_PER_CELL = 2
LMK_SIZE = 192
LMK_BOX_SCALE = 1.5
LMK_POINTS = 106


def _candidate_dirs(root: Path) -> list[Path]:
    """Where buffalo_l may sit relative to ``root`` (the pack folder, .../models, or its parent)."""
    return [root, root / MODEL_PACK, root / "models" / MODEL_PACK]


def buffalo_l_paths(root) -> tuple[Path, Path] | None:
    """(det_10g.onnx, 2d106det.onnx) found under ``root``, or None if either file is missing."""
    for folder in _candidate_dirs(Path(root).expanduser()):
        det, lmk = folder / DETECTOR_FILE, folder / LANDMARK_FILE
        if det.is_file() and lmk.is_file():
            return det, lmk
    return None


def require_buffalo_l(root) -> tuple[Path, Path]:
    """Like :func:`buffalo_l_paths` but raises FileNotFoundError listing every path tried."""
    if root is None:
        raise FileNotFoundError(
            "the insightface backend needs insightface_root, the folder that holds buffalo_l "
            "(e.g. ComfyUI/models/insightface); or use backend='mediapipe'."
        )
    found = buffalo_l_paths(root)
    if found is None:
        tried = "\n".join(f"  {d / DETECTOR_FILE}\n  {d / LANDMARK_FILE}"
                          for d in _candidate_dirs(Path(root).expanduser()))
        raise FileNotFoundError(
            f"InsightFace buffalo_l models not found under {root}. Expected both files in one of:"
            f"\n{tried}\nPlace det_10g.onnx and 2d106det.onnx there (buffalo_l is licensed for "
            "non-commercial research only), or use backend='mediapipe'."
        )
    return found


def letterbox(image: np.ndarray, size: int = DET_SIZE) -> tuple[np.ndarray, float]:
    """Resize into the top-left of a black size x size canvas, keeping the aspect ratio.

    Returns (canvas (size, size, 3) uint8, factor) with canvas pixel = factor · image pixel.
    """
    height, width = image.shape[:2]
    if height / width > 1.0:
        new_h, new_w = size, int(size / (height / width))
    else:
        new_h, new_w = int(size * (height / width)), size
    canvas = np.zeros((size, size, 3), dtype=np.uint8)
    canvas[:new_h, :new_w] = cv2.resize(image, (new_w, new_h))
    return canvas, new_h / height


def anchor_centres(size: int, stride: int) -> np.ndarray:
    """(cells·ANCHORS_PER_CELL, 2) float32 anchor centres (x, y), row-major, anchors repeated."""
    cells = size // stride
    ys, xs = np.mgrid[:cells, :cells]
    centres = np.stack([xs, ys], axis=-1).reshape(-1, 2).astype(np.float32) * stride
    return np.repeat(centres, ANCHORS_PER_CELL, axis=0)


def decode_scrfd(outputs: list[np.ndarray], size: int, threshold: float):
    """SCRFD raw outputs -> (boxes (K, 4), scores (K,)) in canvas pixels, score >= threshold.

    ``outputs`` = [score_s8, score_s16, score_s32, box_s8, box_s16, box_s32, kps...]; each array
    may carry a leading batch axis of 1.
    """
    boxes, scores = [], []
    for level, stride in enumerate(STRIDES):
        score = np.asarray(outputs[level]).reshape(-1)                            # (A,)
        dist = np.asarray(outputs[level + len(STRIDES)]).reshape(-1, 4) * stride  # (A, 4)
        centres = anchor_centres(size, stride)                                    # (A, 2)
        keep = score >= threshold
        boxes.append(np.concatenate([centres[keep] - dist[keep, :2],
                                     centres[keep] + dist[keep, 2:]], axis=1))
        scores.append(score[keep])
    return np.concatenate(boxes), np.concatenate(scores)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_thresh: float = NMS_THRESH) -> list[int]:
    """Greedy non-maximum suppression; returns kept indices, best score first."""
    areas = (boxes[:, 2] - boxes[:, 0] + 1) * (boxes[:, 3] - boxes[:, 1] + 1)
    order = list(np.argsort(-scores, kind="stable"))
    keep = []
    while order:
        best, rest = order[0], np.array(order[1:], dtype=int)
        keep.append(int(best))
        if rest.size == 0:
            break
        lt = np.maximum(boxes[best, :2], boxes[rest, :2])
        rb = np.minimum(boxes[best, 2:], boxes[rest, 2:])
        inter = np.prod(np.maximum(0.0, rb - lt + 1), axis=1)
        iou = inter / (areas[best] + areas[rest] - inter)
        order = [int(i) for i in rest[iou <= iou_thresh]]
    return keep


class InsightFaceBackend:
    """SCRFD + 2d106det through onnxruntime. Sessions open on first use (CPU by default)."""

    name = "insightface"

    def __init__(self, root, det_thresh: float = DET_THRESH,
                 providers: tuple[str, ...] = ("CPUExecutionProvider",)) -> None:
        self.det_path, self.lmk_path = require_buffalo_l(root)
        self.det_thresh = float(det_thresh)
        self.providers = list(providers)
        self._det = None
        self._lmk = None

    def _sessions(self):
        if self._det is None:
            try:
                import onnxruntime
            except ImportError as exc:
                raise RuntimeError(
                    "the insightface backend needs onnxruntime: pip install onnxruntime "
                    "(or use backend='mediapipe')."
                ) from exc
            self._det = onnxruntime.InferenceSession(str(self.det_path), providers=self.providers)
            self._lmk = onnxruntime.InferenceSession(str(self.lmk_path), providers=self.providers)
        return self._det, self._lmk

    def close(self) -> None:
        self._det = self._lmk = None

    def _boxes(self, image_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        det, _ = self._sessions()
        canvas, factor = letterbox(image_rgb, DET_SIZE)
        blob = ((canvas.astype(np.float32) - SCRFD_MEAN) / SCRFD_STD).transpose(2, 0, 1)[None]
        outputs = det.run(None, {det.get_inputs()[0].name: blob})
        boxes, scores = decode_scrfd(outputs, DET_SIZE, self.det_thresh)
        boxes = boxes / factor
        keep = nms(boxes, scores)
        return boxes[keep], scores[keep]

    def _landmarks(self, image_rgb: np.ndarray, box: np.ndarray) -> np.ndarray:
        _, lmk = self._sessions()
        centre = (box[:2] + box[2:]) / 2.0
        scale = LMK_SIZE / (float(max(box[2] - box[0], box[3] - box[1])) * LMK_BOX_SCALE)
        to_crop = np.array([[scale, 0.0, LMK_SIZE / 2 - scale * centre[0]],
                            [0.0, scale, LMK_SIZE / 2 - scale * centre[1]]])
        crop = cv2.warpAffine(image_rgb, to_crop, (LMK_SIZE, LMK_SIZE), borderValue=0.0)
        blob = crop.astype(np.float32).transpose(2, 0, 1)[None]            # (1, 3, 192, 192)
        pred = lmk.run(None, {lmk.get_inputs()[0].name: blob})[0].reshape(-1, 2)
        pred = (pred[-LMK_POINTS:] + 1.0) * (LMK_SIZE // 2)                 # (106, 2) crop px
        return (pred.astype(np.float64) - to_crop[:, 2]) / scale            # image px

    def detect(self, image_rgb: np.ndarray) -> list[DetectedFace]:
        """All faces in an (H, W, 3) uint8 RGB image, largest box first, with 106 landmarks."""
        boxes, scores = self._boxes(image_rgb)
        faces = [DetectedFace(self._landmarks(image_rgb, box), box.astype(np.float64),
                              float(score), LAYOUT)
                 for box, score in zip(boxes, scores)]
        return sort_large_to_small(faces)
