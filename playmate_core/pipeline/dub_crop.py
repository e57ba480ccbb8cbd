"""Video dubbing, where: one LivePortrait crop per source frame, smoothed over time, and the crop warp.

Per kept frame k the landmarks give LivePortrait's crop box (crop/geometry.py crop_box):
    b_k = (c_x, c_y, side, ux_0, ux_1)       centre and side in pixels, ux the crop's x axis (unit)
Inside each run of consecutive kept frames (a gap starts a new run: the face may come back elsewhere):
    b'_k = sum_i w_i b_i / sum_i w_i,  w_i = exp(-(i - k)^2 / 2 sigma^2),  |i - k| <= 3 sigma, i in the run
    sigma = SMOOTH_SECONDS * fps frames; ux renormalised to unit length
then a dead band holds the box still: b''_k = b''_{k-1} unless some corner of the crop square moves by more
than HOLD_PX pixels, so a still shot gets bit-identical crops and paste-back masks (no flicker at the mask
edge), while real motion is followed within HOLD_PX.
    M_o2c,k = similarity_from_box(b''_k, 512)       M_c2o,k = M_o2c,k^-1      (crop/geometry.py)
"""
from __future__ import annotations

import cv2
import numpy as np

from ..crop.cropper import NETWORK_SIZE
from ..crop.geometry import CropBox, crop_box, face_angle, invert, similarity_from_box

SMOOTH_SECONDS = 0.08    # Gaussian sigma of the crop smoothing in seconds (2 frames at 25 fps)
HOLD_PX = 0.25           # dead band: a crop corner must move more than this (pixels) for the box to move
BOX_DIM = 5              # (c_x, c_y, side, ux_0, ux_1)


def box_vector(landmarks, scale: float, vx_ratio: float, vy_ratio: float, layout: str | None) -> np.ndarray:
    """(5,) float64 crop-box parameters of one face (centre, side, x axis) from its (N,2) landmarks."""
    box = crop_box(landmarks, scale=scale, vx_ratio=vx_ratio, vy_ratio=vy_ratio, layout=layout)
    return np.array([box.center[0], box.center[1], box.size, box.ux[0], box.ux[1]], np.float64)


def _gaussian_smooth(run: np.ndarray, sigma: float) -> np.ndarray:
    """(L,5) -> (L,5): normalised Gaussian average over the run (edges use only frames inside it)."""
    if sigma <= 0 or len(run) < 2:
        return run.copy()
    radius = int(np.ceil(3 * sigma))
    offsets = np.arange(-radius, radius + 1)
    weights = np.exp(-0.5 * (offsets / sigma) ** 2)                     # (2r+1,)
    out = np.empty_like(run)
    for k in range(len(run)):
        idx = k + offsets
        ok = (idx >= 0) & (idx < len(run))
        w = weights[ok]
        out[k] = (w[:, None] * run[idx[ok]]).sum(0) / w.sum()
    out[:, 3:5] /= np.linalg.norm(out[:, 3:5], axis=1, keepdims=True)  # ux back to unit length
    return out


def _corners(b: np.ndarray) -> np.ndarray:
    """(4,2) corners of the square crop box b = (c_x, c_y, side, ux_0, ux_1)."""
    ux = b[3:5]
    uy = np.array([-ux[1], ux[0]])
    half = b[2] / 2
    return np.array([b[:2] + half * (sx * ux + sy * uy) for sx in (-1, 1) for sy in (-1, 1)])


def _hold(run: np.ndarray, hold_px: float) -> np.ndarray:
    """Dead band over a smoothed run: keep the previous box unless a corner moves more than hold_px."""
    out = run.copy()
    for k in range(1, len(run)):
        moved = np.abs(_corners(run[k]) - _corners(out[k - 1])).max()
        if moved <= hold_px:
            out[k] = out[k - 1]
    return out


def smooth_boxes(boxes: np.ndarray, kept: np.ndarray, fps: float, smooth_seconds: float = SMOOTH_SECONDS,
                 hold_px: float = HOLD_PX) -> np.ndarray:
    """boxes (M,5) float64 (rows where kept is False are ignored), kept (M,) bool -> smoothed (M,5), NaN where
    no face is kept. Runs of consecutive kept frames are smoothed independently (module docstring)."""
    boxes, kept = np.asarray(boxes, np.float64), np.asarray(kept, bool)
    if boxes.shape != (kept.shape[0], BOX_DIM):
        raise ValueError(f"boxes must be ({kept.shape[0]}, {BOX_DIM}), got {boxes.shape}")
    out = np.full_like(boxes, np.nan)
    edges = np.flatnonzero(np.diff(np.r_[0, kept.astype(np.int8), 0]))   # run starts and ends, alternating
    for start, end in zip(edges[0::2], edges[1::2]):
        out[start:end] = _hold(_gaussian_smooth(boxes[start:end], smooth_seconds * float(fps)), hold_px)
    return out


def crop_matrices_from_box(b: np.ndarray, dsize: int = 512, rotate: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(M_o2c, M_c2o), both 3x3 float32, for box parameters b (5,) (crop/geometry.py step 5-6)."""
    ux = b[3:5].astype(np.float64)
    box = CropBox(center=b[:2].astype(np.float64), size=float(b[2]), ux=ux, uy=np.array([-ux[1], ux[0]]),
                  angle=face_angle(ux))
    m_o2c = similarity_from_box(box, dsize=dsize, rotate=rotate)
    return m_o2c, invert(m_o2c)


def warp_crop(image_rgb: np.ndarray, m_o2c: np.ndarray, dsize: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """(H,W,3) uint8 -> (crop (dsize,dsize,3), network input (256,256,3)) uint8, with the same warp and resize
    as FaceCropper (bilinear, black border; INTER_AREA to 256), so a dub crop equals the cropper's for a box."""
    crop = cv2.warpAffine(image_rgb, m_o2c[:2], (dsize, dsize), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)                  # dsize,dsize,3
    small = cv2.resize(crop, (NETWORK_SIZE, NETWORK_SIZE), interpolation=cv2.INTER_AREA)  # 256,256,3
    return crop, small


__all__ = ["box_vector", "smooth_boxes", "crop_matrices_from_box", "warp_crop", "SMOOTH_SECONDS", "HOLD_PX"]
