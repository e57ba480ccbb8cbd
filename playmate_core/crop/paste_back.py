"""Paste a rendered face crop back into the original frame (LivePortrait §5 paste-back).

    mask_ori = warpAffine(mask, M_c2o, (W, H), INTER_LINEAR)            (H, W) in [0, 1]
    out_ori  = warpAffine(out_512, M_c2o, (W, H), INTER_LINEAR)         (H, W, 3)
    result   = clip(mask_ori·out_ori + (1 − mask_ori)·original, 0, 255) -> uint8 (truncated)

The mask is the procedural equivalent of LivePortrait's ``mask_template.png`` (see
:func:`feather_mask`), so no image asset is shipped. The arithmetic (uint8 warps, float32 blend,
truncating cast) follows the reference so results agree bit for bit.
"""

from __future__ import annotations

import functools
import logging

import cv2
import numpy as np

from .images import to_rgb_uint8

logger = logging.getLogger("playmate")

DEFAULT_DSIZE = 512
"""Side of the rendered crop (LivePortrait's generator output)."""

DEFAULT_RAMP = 16
"""Width of the feathered border in crop pixels (mask_template.png: 0, 15, 31, ..., 239, 255)."""

MASK_LEVELS = 255
"""The template is 8-bit; the mask is quantised to k/255 so warps and blends match it exactly."""


@functools.lru_cache(maxsize=8)
def _feather_mask_uint8(dsize: int, ramp: int) -> np.ndarray:
    # Full-weight core: the square [ramp, dsize - ramp] in pixel-centre coordinates (the template
    # is 255 from pixel 16 to pixel 496 inclusive, so its ramp is 16 px at the left/top and 15 px
    # at the right/bottom). Outside, the weight falls linearly with the Euclidean distance to that
    # square, which rounds the corners.
    coords = np.arange(dsize, dtype=np.float64)
    gap = np.maximum(np.maximum(ramp - coords, coords - (dsize - ramp)), 0.0)  # (dsize,)
    distance = np.hypot(gap[:, None], gap[None, :])                            # (dsize, dsize)
    weight = np.clip(1.0 - distance / ramp, 0.0, 1.0)
    # floor(255·w) reproduces the template's truncated levels; the epsilon guards exact k/255.
    mask = np.floor(weight * MASK_LEVELS + 1e-6).astype(np.uint8)
    mask.setflags(write=False)
    return mask


def feather_mask(dsize: int = DEFAULT_DSIZE, ramp: int = DEFAULT_RAMP) -> np.ndarray:
    """Blend weight for a ``dsize`` crop: 1 inside, a linear ramp to 0 at the borders.

    w(x, y) = floor(255 · clip(1 − d(x, y) / ramp, 0, 1)) / 255, where d is the Euclidean
    distance of pixel (x, y) to the square [ramp, dsize − ramp]²; corners are therefore rounded.
    For dsize=512, ramp=16 this equals LivePortrait's ``mask_template.png`` / 255 exactly.

    Returns:
        float32 array (dsize, dsize) in [0, 1] (a fresh copy; safe to modify).
    """
    if dsize <= 2 * ramp or ramp < 1:
        raise ValueError(f"feather_mask needs ramp >= 1 and dsize > 2*ramp, got {dsize=}, {ramp=}.")
    return _feather_mask_uint8(int(dsize), int(ramp)).astype(np.float32) / MASK_LEVELS


def _crop_to_uint8(out_crop) -> np.ndarray:
    """(S, S, 3) uint8, or float in [0, 1] quantised like LivePortrait's parse_output."""
    arr = np.asarray(out_crop.detach().cpu().numpy() if hasattr(out_crop, "detach") else out_crop)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.shape[0] != arr.shape[1]:
        raise ValueError(
            f"the rendered crop must be a square SxSx3 image (HWC), got shape {arr.shape}; "
            "convert a 1x3xSxS tensor with out[0].permute(1, 2, 0)."
        )
    if arr.dtype == np.uint8:
        return arr
    if np.issubdtype(arr.dtype, np.floating):
        # clip to [0, 1], x255, truncate: what LivePortrait does before its paste-back.
        return (np.clip(arr.astype(np.float32), 0.0, 1.0) * 255.0).astype(np.uint8)
    raise ValueError(f"the rendered crop must be uint8 or float in [0, 1], got dtype {arr.dtype}.")


def _affine_2x3(m_c2o) -> np.ndarray:
    m = np.asarray(m_c2o, dtype=np.float32)
    if m.shape not in ((3, 3), (2, 3)):
        raise ValueError(f"M_c2o must be a 2x3 or 3x3 matrix, got shape {m.shape}.")
    return m[:2]


def mask_to_original(m_c2o, source_size: tuple[int, int], dsize: int = DEFAULT_DSIZE) -> np.ndarray:
    """Feather mask warped into the original frame: float32 (H, W, 1) in [0, 1].

    Compute it once per source image and pass it to :func:`paste_back` as ``mask_ori`` when many
    frames share the same ``M_c2o``.

    Args:
        m_c2o: crop -> original matrix (3x3 or 2x3) built for a ``dsize`` crop.
        source_size: (H, W) of the original image.
    """
    height, width = source_size
    mask = _feather_mask_uint8(int(dsize), DEFAULT_RAMP)
    warped = cv2.warpAffine(mask, _affine_2x3(m_c2o), (int(width), int(height)),
                            flags=cv2.INTER_LINEAR)
    return (warped.astype(np.float32) / MASK_LEVELS)[:, :, None]


def paste_back(out_crop, m_c2o, original, mask_ori: np.ndarray | None = None) -> np.ndarray:
    """Blend a rendered face crop into the original image.

    Args:
        out_crop: rendered crop (S, S, 3), uint8 or float in [0, 1] (float is clipped, x255 and
            truncated to uint8 first, as LivePortrait does). S is usually 512.
        m_c2o: crop -> original matrix (3x3 or 2x3) of the same crop, e.g. ``CropInfo.M_c2o``.
        original: the source image (anything :func:`to_rgb_uint8` accepts), (H, W, 3).
        mask_ori: optional precomputed :func:`mask_to_original` for this M_c2o and size.

    Returns:
        uint8 (H', W', 3) with H' = H and W' = W rounded down to even numbers: an odd source loses
        its last row / column (no resampling), as LivePortrait's resize_to_limit does, so the
        result can be encoded by video codecs that need even sizes.
    """
    crop = _crop_to_uint8(out_crop)
    orig = to_rgb_uint8(original, name="original image")
    height, width = orig.shape[:2]
    if mask_ori is None:
        mask_ori = mask_to_original(m_c2o, (height, width), dsize=crop.shape[0])
    if mask_ori.shape[:2] != (height, width):
        raise ValueError(
            f"mask_ori is {mask_ori.shape[:2]} but the original image is {(height, width)}; "
            "compute it with mask_to_original(M_c2o, original.shape[:2])."
        )
    mask = mask_ori if mask_ori.ndim == 3 else mask_ori[:, :, None]
    warped = cv2.warpAffine(crop, _affine_2x3(m_c2o), (width, height), flags=cv2.INTER_LINEAR)
    blended = mask * warped + (1.0 - mask) * orig                  # (H, W, 3) float32
    result = np.clip(blended, 0, 255).astype(np.uint8)             # truncation, as the reference
    even_h, even_w = height - height % 2, width - width % 2
    if (even_h, even_w) != (height, width):
        logger.debug("paste_back: trimming %dx%d to even %dx%d", width, height, even_w, even_h)
    return result[:even_h, :even_w]
