"""Five-point face alignment to the ArcFace 112x112 template, and CSIM (identity cosine similarity).

1. Five points per frame from the project's MediaPipe FaceMesh (478 refined landmarks, see
   ``crop.mediapipe_backend``; its models ship inside the mediapipe wheel): the two iris centres,
   the nose tip and the two mouth corners, in the template's order (image left to right, so the
   subject's right eye comes first on a frontal, unmirrored face).
2. A similarity transform (uniform scale s, rotation R, translation t) fitted by least squares
   (Umeyama 1991) from those points p_i to the template q_i:  min_{s,R,t} sum |s R p_i + t - q_i|^2.
3. ``cv2.warpAffine`` with that 2x3 matrix (bilinear, black border) gives the (112, 112, 3) crop,
   as InsightFace's ``norm_crop`` does.

CSIM = mean over generated frames of cos(e_ref, e_t), with e the L2-normalised ArcFace embedding of
the aligned face (``arcface.identity_embeddings``); 1 means the same identity as the source portrait.
"""
from __future__ import annotations

import cv2
import numpy as np
from torch import nn

from .arcface import INPUT_SIZE, identity_embeddings

ARCFACE_TEMPLATE = np.array([
    [38.2946, 51.6963],    # left eye (image left)
    [73.5318, 51.5014],    # right eye
    [56.0252, 71.7366],    # nose tip
    [41.5493, 92.3655],    # left mouth corner
    [70.7299, 92.2041],    # right mouth corner
], dtype=np.float64)
"""InsightFace's standard 5-point ArcFace destination for a 112x112 crop, (x, y) pixels."""

# MediaPipe FaceMesh (refine_landmarks=True, 478 points) indices, in ARCFACE_TEMPLATE's order.
MP478_FIVE_POINTS = (
    468,   # iris centre on the image-left eye (subject's right)
    473,   # iris centre on the image-right eye
    1,     # nose tip
    61,    # mouth corner, image left
    291,   # mouth corner, image right
)
MIN_SCALE_VARIANCE = 1e-12
"""Below this spread (px^2) the landmarks are degenerate and no similarity can be fitted."""


def five_points(frames: np.ndarray) -> np.ndarray:
    """Five landmarks per frame from MediaPipe FaceMesh (the largest face in each frame).

    Args:
        frames: uint8 (N, H, W, 3) RGB.

    Returns:
        (N, 5, 2) float64 pixel coordinates (x, y) in ARCFACE_TEMPLATE's order.

    Raises:
        ValueError: wrong array shape/dtype, or a frame with no face (its index is named).
        RuntimeError: mediapipe missing (the message says how to install it).
    """
    from ..crop.mediapipe_backend import MediaPipeBackend

    frames = _check_frames(frames, "frames")
    backend = MediaPipeBackend(max_faces=1)
    try:
        points = []
        for index, frame in enumerate(frames):
            faces = backend.detect(np.ascontiguousarray(frame))
            if not faces:
                raise ValueError(f"no face found in frame {index} of {len(frames)} "
                                 f"(size {frame.shape[1]}x{frame.shape[0]}); CSIM needs a visible face "
                                 f"in every frame.")
            points.append(faces[0].landmarks[list(MP478_FIVE_POINTS)])        # (5, 2)
    finally:
        backend.close()
    return np.stack(points).astype(np.float64) if points else np.zeros((0, 5, 2))


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (Umeyama) mapping ``src`` points onto ``dst``.

    Args:
        src, dst: (K, 2) corresponding points, K >= 2.

    Returns:
        (2, 3) float64 matrix M = [s R | t] with dst ~ s R src + t (R a proper rotation).
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 2 or len(src) < 2:
        raise ValueError(f"need two (K, 2) point sets with K >= 2, got {src.shape} and {dst.shape}.")
    mu_src, mu_dst = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - mu_src, dst - mu_dst                                # (K, 2)
    var_src = (src_c ** 2).sum(axis=1).mean()
    if var_src < MIN_SCALE_VARIANCE:
        raise ValueError("the landmarks are (nearly) all at one point; cannot fit a similarity.")
    cov = dst_c.T @ src_c / len(src)                                         # (2, 2)
    u, sing, vt = np.linalg.svd(cov)
    reflect = np.diag([1.0, np.sign(np.linalg.det(u) * np.linalg.det(vt)) or 1.0])
    rotation = u @ reflect @ vt
    scale = float(np.trace(np.diag(sing) @ reflect) / var_src)
    translation = mu_dst - scale * rotation @ mu_src
    return np.hstack([scale * rotation, translation[:, None]])


def align_faces(frames: np.ndarray, points: np.ndarray | None = None) -> np.ndarray:
    """Warp each frame so its five points land on ARCFACE_TEMPLATE.

    Args:
        frames: uint8 (N, H, W, 3) RGB.
        points: (N, 5, 2) landmarks in template order; found with ``five_points`` when None.

    Returns:
        uint8 (N, 112, 112, 3) aligned faces.
    """
    frames = _check_frames(frames, "frames")
    points = five_points(frames) if points is None else np.asarray(points, dtype=np.float64)
    if points.shape != (len(frames), 5, 2):
        raise ValueError(f"points must be ({len(frames)}, 5, 2) for {len(frames)} frames, got {points.shape}.")
    out = np.zeros((len(frames), INPUT_SIZE, INPUT_SIZE, 3), dtype=np.uint8)
    for index, (frame, pts) in enumerate(zip(frames, points)):
        matrix = similarity_transform(pts, ARCFACE_TEMPLATE)                 # frame px -> crop px
        out[index] = cv2.warpAffine(np.ascontiguousarray(frame), matrix, (INPUT_SIZE, INPUT_SIZE),
                                    flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                                    borderValue=0)
    return out


def csim(model: nn.Module, reference: np.ndarray, frames: np.ndarray, *,
         device="cpu") -> float:
    """Identity similarity of generated frames to the source portrait.

    Args:
        model: ArcFace IResNet from ``arcface.load_arcface``.
        reference: uint8 (H, W, 3) RGB source portrait.
        frames: uint8 (N, H', W', 3) RGB generated frames (N >= 1).

    Returns:
        mean_t cos(e_ref, e_t) in [-1, 1].
    """
    reference = np.asarray(reference)
    if reference.ndim != 3:
        raise ValueError(f"reference must be one (H, W, 3) image, got shape {reference.shape}.")
    frames = _check_frames(frames, "frames")
    if len(frames) == 0:
        raise ValueError("csim needs at least one generated frame, got 0.")
    e_ref = identity_embeddings(model, align_faces(reference[None]), device=device)   # (1, 512)
    e_gen = identity_embeddings(model, align_faces(frames), device=device)            # (N, 512)
    return float((e_gen @ e_ref[0]).mean())


def _check_frames(frames: np.ndarray, name: str) -> np.ndarray:
    """Validate uint8 (N, H, W, 3)."""
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"{name} must be uint8 (N, H, W, 3) RGB, got {frames.dtype} {frames.shape}.")
    return frames
