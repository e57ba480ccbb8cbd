"""Crop geometry: landmark anchors and LivePortrait's rotated square crop (pure functions).

Coordinates are image pixels, x to the right, y down, as float arrays of shape (N, 2).
Matrices are 3x3 homogeneous float32 (the last row is [0, 0, 1]); points are row vectors, so a
point p maps to ``M[:2, :2] @ p + M[:2, 2]``.

The crop (design doc ``liveportrait.md`` §5, LivePortrait ``crop_image``):

1. Two anchors from the landmarks: e = eye centre (mean of the two eye centres), l = lip centre.
2. Frame: uy = (l - e) / |l - e| (uy = (0, 1) when |l - e| <= 1e-3 px), ux = (uy_1, -uy_0).
   ux points to the image right for an upright face, uy points down.
3. m = mean of all landmarks; q_i = ((p_i - m)·ux, (p_i - m)·uy) (landmarks in the face frame).
   Box centre in the frame c' = (min q + max q) / 2; size = max of the two extents (square).
4. size *= scale; centre c = m + c'_x·ux + c'_y·uy + vx·size·ux + vy·size·uy
   (negative vy moves the box up, adding forehead).
5. s = dsize / size, t_c = dsize / 2. With rotation, the crop axes are ux and uy:
       M_o2c = [[s·ux_0, s·ux_1, t_c - s·(ux·c)],
                [s·uy_0, s·uy_1, t_c - s·(uy·c)],
                [0,      0,      1           ]]
   This equals LivePortrait's form with θ = atan2(ux_1, ux_0) (cos θ = ux_0, sin θ = ux_1).
   Without rotation (``rotate=False``) the box keeps the centre and size of step 4 (still measured
   in the rotated frame, as LivePortrait does) but is axis-aligned:
       M_o2c = [[s, 0, t_c - s·c_x], [0, s, t_c - s·c_y], [0, 0, 1]].
6. M_c2o = M_o2c⁻¹ (crop -> original), inverted in float64 and stored as float32.

Precision follows LivePortrait so that matrices agree bit for bit: float32 landmarks are processed
in float32, others in float64; ux is rounded to float32 and θ = ±acos(ux_0) (see ``face_angle``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

DEGENERATE_ANCHOR_PX = 1e-3
"""If eye and lip centres are closer than this (pixels), the face frame falls back to upright."""

# Landmark index sets per layout ------------------------------------------------------------
# MediaPipe FaceMesh with refine_landmarks=True: 468 mesh points + 2 x 5 iris points.
# Eyes = iris centres and lip = point 14, as ComfyUI-LivePortraitKJ's MediaPipe cropper does.
MP478_IRIS_CENTRES = (468, 473)
MP_LIP_POINT = 14                         # inner lower-lip midpoint (same in 468 and 478 meshes)
# MediaPipe FaceMesh without refinement: eye centre = mean of the two corners of each eye.
MP468_EYE_CORNERS = ((33, 133), (362, 263))
# InsightFace 2d106det (LivePortrait's reference detector).
IF106_EYES = ((33, 35, 40, 39), (87, 89, 94, 93))
IF106_LIPS = (52, 61)
# LivePortrait landmark.onnx, 203 points.
LP203_EYES = ((0, 6, 12, 18), (24, 30, 36, 42))
LP203_LIPS = (48, 66)

LAYOUT_POINTS = {"mediapipe478": 478, "mediapipe468": 468, "insightface106": 106, "lp203": 203}
"""Supported landmark layouts and their point counts; the layout is inferred from N."""


@dataclass(frozen=True)
class CropBox:
    """A rotated square crop box in original-image pixels.

    Attributes:
        center: (2,) box centre (x, y).
        size: side length in pixels (after ``scale``).
        ux: (2,) unit vector of the crop's x axis in the image.
        uy: (2,) unit vector of the crop's y axis (eye centre -> lip centre).
        angle: rotation θ of the crop x axis in radians, clockwise on screen; cos θ ≈ ux_0,
            sin θ ≈ ux_1 (see ``face_angle`` for the exact rounding).
    """

    center: np.ndarray
    size: float
    ux: np.ndarray
    uy: np.ndarray
    angle: float


def _check_landmarks(landmarks) -> np.ndarray:
    """Validate (N, 2) finite landmarks; float32 stays float32, anything else becomes float64."""
    pts = np.asarray(landmarks)
    pts = pts.astype(np.float32 if pts.dtype == np.float32 else np.float64, copy=False)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"landmarks must have shape (N, 2), got {pts.shape}.")
    if not np.isfinite(pts).all():
        raise ValueError("landmarks contain NaN or infinite values.")
    return pts


def layout_for(n_points: int) -> str:
    """Name of the landmark layout with ``n_points`` points (see ``LAYOUT_POINTS``)."""
    for name, count in LAYOUT_POINTS.items():
        if count == n_points:
            return name
    raise ValueError(
        f"unsupported landmark count {n_points}; supported layouts: "
        + ", ".join(f"{k} ({v} points)" for k, v in LAYOUT_POINTS.items())
    )


def anchor_points(landmarks, layout: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Eye centre and lip centre of one face.

    Args:
        landmarks: (N, 2) pixel coordinates.
        layout: one of ``LAYOUT_POINTS``; inferred from N when None.

    Returns:
        (eye, lip): two (2,) points (float32 for float32 input, else float64).
        eye = mean of the two eye centres; each eye centre is the iris centre (mediapipe478),
        the mean of the two eye corners (mediapipe468) or the mean of four eye-contour points
        (insightface106, lp203). lip = point 14 (MediaPipe) or the mean of two lip points
        (insightface106: 52 and 61; lp203: 48 and 66).
    """
    pts = _check_landmarks(landmarks)
    layout = layout or layout_for(pts.shape[0])
    if LAYOUT_POINTS.get(layout) != pts.shape[0]:
        raise ValueError(
            f"layout {layout!r} expects {LAYOUT_POINTS.get(layout)} points, got {pts.shape[0]}."
        )
    if layout == "mediapipe478":
        eyes = [pts[i] for i in MP478_IRIS_CENTRES]
        lip = pts[MP_LIP_POINT]
    elif layout == "mediapipe468":
        eyes = [pts[list(idx)].mean(axis=0) for idx in MP468_EYE_CORNERS]
        lip = pts[MP_LIP_POINT]
    elif layout == "insightface106":
        eyes = [pts[list(idx)].mean(axis=0) for idx in IF106_EYES]
        lip = pts[list(IF106_LIPS)].mean(axis=0)
    else:  # lp203
        eyes = [pts[list(idx)].mean(axis=0) for idx in LP203_EYES]
        lip = pts[list(LP203_LIPS)].mean(axis=0)
    return (eyes[0] + eyes[1]) / 2.0, lip.copy()


def face_angle(ux: np.ndarray) -> float:
    """θ = acos(ux_0), negated when ux_1 < 0 (radians, clockwise on screen).

    ux is rounded to float32 first, as LivePortrait does; near θ = 0 this limits θ to about
    ±3e-4 rad of precision. The rounding is kept on purpose so that crops match the reference.
    """
    ux32 = np.asarray(ux, dtype=np.float32)
    theta = math.acos(min(max(float(ux32[0]), -1.0), 1.0))
    return -theta if ux32[1] < 0 else theta


def crop_box(
    landmarks,
    scale: float = 2.3,
    vx_ratio: float = 0.0,
    vy_ratio: float = -0.125,
    layout: str | None = None,
) -> CropBox:
    """LivePortrait's square face box (steps 1-4 of the module docstring).

    Args:
        landmarks: (N, 2) pixel coordinates of one face. float32 input is processed in float32,
            anything else in float64 (mirrors the reference's precision).
        scale: box side / landmark extent (2.3 for the source crop).
        vx_ratio, vy_ratio: centre shift along ux / uy, as a fraction of the scaled side.
        layout: landmark layout name, inferred from N when None.
    """
    pts = _check_landmarks(landmarks)
    dtype = pts.dtype
    eye, lip = anchor_points(pts, layout)
    uy = (lip - eye).astype(dtype)
    length = float(np.linalg.norm(uy))
    uy = np.array([0.0, 1.0], dtype) if length <= DEGENERATE_ANCHOR_PX else uy / dtype.type(length)
    # ux is stored in float32 by the reference; using the rounded axis keeps the box identical.
    ux = np.array([uy[1], -uy[0]], dtype=np.float32).astype(dtype)
    frame = np.stack([ux, uy])                       # (2, 2) rows = face axes
    mean = pts.mean(axis=0)
    local = (pts - mean) @ frame.T                   # (N, 2) landmarks in the face frame
    low, high = local.min(axis=0), local.max(axis=0)
    mid = (low + high) / dtype.type(2)
    size = (high - low).max() * dtype.type(scale)
    center = mean + ux * mid[0] + uy * mid[1]
    center = center + ux * (dtype.type(vx_ratio) * size) + uy * (dtype.type(vy_ratio) * size)
    return CropBox(center=center, size=size, ux=ux, uy=uy, angle=face_angle(ux))


def similarity_from_box(box: CropBox, dsize: int = 512, rotate: bool = True) -> np.ndarray:
    """M_o2c (3x3 float32) mapping the box onto a ``dsize`` x ``dsize`` crop (step 5).

    With rotation the linear part is s·[[cos θ, sin θ], [-sin θ, cos θ]] (θ = ``box.angle``),
    i.e. s·[ux; uy]; the translation puts the box centre at (dsize/2, dsize/2). With
    ``rotate=False`` the linear part is s·I (axis-aligned crop of the same centre and size).
    """
    if not box.size > 0:
        raise ValueError("the landmarks span zero pixels; cannot build a crop (all points equal?).")
    dtype = np.asarray(box.center).dtype.type
    s = dtype(dsize) / dtype(box.size)
    half = dtype(dsize / 2)
    cos_t, sin_t = (dtype(math.cos(box.angle)), dtype(math.sin(box.angle))) if rotate else (1, 0)
    cx, cy = box.center
    m = np.array(
        [[s * cos_t, s * sin_t, half - s * (cos_t * cx + sin_t * cy)],
         [-s * sin_t, s * cos_t, half - s * (-sin_t * cx + cos_t * cy)],
         [0.0, 0.0, 1.0]],
        dtype=np.float32,
    )
    return m


def invert(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a 3x3 (or 2x3, completed with [0, 0, 1]) affine matrix, float32."""
    m = np.asarray(matrix, dtype=np.float64)
    if m.shape == (2, 3):
        m = np.vstack([m, [0.0, 0.0, 1.0]])
    if m.shape != (3, 3):
        raise ValueError(f"expected a 2x3 or 3x3 matrix, got shape {m.shape}.")
    return np.linalg.inv(m).astype(np.float32)


def crop_matrices(
    landmarks,
    dsize: int = 512,
    scale: float = 2.3,
    vx_ratio: float = 0.0,
    vy_ratio: float = -0.125,
    rotate: bool = True,
    layout: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(M_o2c, M_c2o), both 3x3 float32: original -> crop and crop -> original (steps 1-6)."""
    box = crop_box(landmarks, scale=scale, vx_ratio=vx_ratio, vy_ratio=vy_ratio, layout=layout)
    m_o2c = similarity_from_box(box, dsize=dsize, rotate=rotate)
    return m_o2c, invert(m_o2c)


def transform_points(points, matrix: np.ndarray) -> np.ndarray:
    """Apply an affine matrix (2x3 or 3x3) to (N, 2) points: p' = M[:2,:2] @ p + M[:2,2].

    Returns float64 (N, 2) (float32 inputs are promoted for accuracy).
    """
    pts = np.asarray(points, dtype=np.float64)
    m = np.asarray(matrix, dtype=np.float64)
    return pts @ m[:2, :2].T + m[:2, 2]
