"""Image normalisation for the crop stage.

Every image that enters the face cropper goes through :func:`to_rgb_uint8` first, so the rest of the
package only ever sees ``(H, W, 3) uint8`` RGB arrays. :func:`resize_to_limit` then applies the size
limit LivePortrait applies to a source image before cropping (``source_max_dim`` 1280,
``source_division`` 2 in its inference config).
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

logger = logging.getLogger("playmate")

MIN_SIDE = 64
"""Smallest accepted height or width in pixels: below this no face can be cropped usefully."""

UINT16_TO_UINT8 = 257.0
"""65535 / 255: maps the 16-bit range exactly onto the 8-bit range (257 * k -> k)."""

FLOAT_RANGE_TOLERANCE = 0.01
"""Float images may overshoot [0, 1] by this much (resampling ringing) and are clipped silently."""

DEFAULT_MAX_SIDE = 1280
"""LivePortrait's default limit on the longer side of a source image, in pixels."""

DEFAULT_DIVISION = 2
"""LivePortrait makes source heights and widths multiples of this (even sizes for video codecs)."""


def _as_numpy(img) -> np.ndarray:
    """Return ``img`` as a numpy array; torch tensors are detached and moved to the CPU."""
    if hasattr(img, "detach") and hasattr(img, "cpu"):
        img = img.detach().cpu().numpy()
    return np.asarray(img)


def _to_three_channels(arr: np.ndarray, name: str) -> np.ndarray:
    """(H,W), (H,W,1), (H,W,3) or (H,W,4) -> (H,W,3); any dtype is kept."""
    if arr.ndim == 2:
        return np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim == 3 and arr.shape[2] == 1:
        return np.repeat(arr, 3, axis=2)
    if arr.ndim == 3 and arr.shape[2] == 3:
        return arr
    if arr.ndim == 3 and arr.shape[2] == 4:
        # The alpha channel is dropped, as cv2.imread(IMREAD_COLOR) in LivePortrait and
        # ComfyUI's LoadImage (PIL convert("RGB")) do: transparent pixels keep their stored RGB.
        return arr[:, :, :3]
    hint = ""
    if arr.ndim == 4:
        hint = " It looks like a batch: pass one frame at a time (e.g. images[0])."
    elif arr.ndim == 3 and arr.shape[0] in (1, 3, 4):
        hint = " It looks channels-first: transpose it to HxWxC (e.g. img.transpose(1, 2, 0))."
    raise ValueError(
        f"{name}: expected an image of shape HxW, HxWx1, HxWx3 or HxWx4, got shape "
        f"{tuple(arr.shape)}.{hint}"
    )


def _to_uint8_values(arr: np.ndarray, name: str) -> np.ndarray:
    """Convert uint8 / uint16 / float [0,1] values to uint8 (rounding to nearest)."""
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.uint16:
        return np.rint(arr.astype(np.float32) / UINT16_TO_UINT8).astype(np.uint8)
    if arr.dtype in (np.float16, np.float32, np.float64):
        arr = arr.astype(np.float32)
        if not np.isfinite(arr).all():
            raise ValueError(f"{name}: the float image contains NaN or infinite values.")
        low, high = float(arr.min()), float(arr.max())
        if low < -FLOAT_RANGE_TOLERANCE or high > 1.0 + FLOAT_RANGE_TOLERANCE:
            raise ValueError(
                f"{name}: float images must hold values in [0, 1], got [{low:.4g}, {high:.4g}]. "
                "If the values are 0-255, divide by 255 or convert to uint8 first."
            )
        # Rounding (not truncation) makes uint8 -> float (/255) -> uint8 an exact round trip.
        return np.rint(np.clip(arr, 0.0, 1.0) * 255.0).astype(np.uint8)
    raise ValueError(
        f"{name}: unsupported dtype {arr.dtype}; use uint8, uint16, or float16/32/64 in [0, 1]."
    )


def to_rgb_uint8(img, name: str = "image") -> np.ndarray:
    """Normalise one image to an RGB ``(H, W, 3)`` uint8 array.

    Args:
        img: numpy array (or CPU/GPU torch tensor) of shape HxW (grayscale), HxWx1, HxWx3 (RGB)
            or HxWx4 (RGBA). dtype uint8; uint16 (scaled by 1/257, rounded); or float16/32/64 with
            values in [0, 1] (scaled by 255, rounded; overshoot up to 0.01 is clipped).
            RGBA: the alpha channel is dropped (not composited), matching LivePortrait's
            ``cv2.imread(..., IMREAD_COLOR)`` and ComfyUI's image loader.
        name: how the image is called in error messages (e.g. "source image", "frame 12").

    Returns:
        C-contiguous ``(H, W, 3)`` uint8 RGB array (a new array unless the input already was one).

    Raises:
        ValueError: unsupported shape or dtype, float values outside [0, 1], or a side shorter
            than ``MIN_SIDE`` (64) pixels.
    """
    arr = _as_numpy(img)
    arr = _to_three_channels(arr, name)
    height, width = arr.shape[:2]
    if height < MIN_SIDE or width < MIN_SIDE:
        raise ValueError(
            f"{name} is {width}x{height} px (WxH); the face cropper needs at least "
            f"{MIN_SIDE} px on each side. Use a larger image or upscale it first."
        )
    arr = _to_uint8_values(arr, name)
    return np.ascontiguousarray(arr)


def resize_to_limit(
    img: np.ndarray, max_side: int = DEFAULT_MAX_SIDE, division: int = DEFAULT_DIVISION
) -> np.ndarray:
    """Limit the longer side and make both sides multiples of ``division``, as LivePortrait does.

    Step 1 (only if ``max_side > 0`` and ``max(H, W) > max_side``): resize with ``cv2.resize``
    (default INTER_LINEAR) so that the longer side becomes exactly ``max_side`` and the shorter
    side ``int(short * max_side / long)`` (truncated). When H == W the width is treated as the
    longer side.
    Step 2: drop the last ``H % division`` rows and ``W % division`` columns (bottom/right trim,
    no resampling, so pixel coordinates are unchanged). If a side would become 0 the image is
    returned as it is after step 1. ``division < 1`` is treated as 1.

    Args:
        img: ``(H, W)`` or ``(H, W, C)`` array of any dtype cv2.resize accepts.
        max_side: limit on the longer side in pixels; 0 or negative disables step 1.
        division: required divisor of H and W (2 = even sizes).

    Returns:
        The resized and/or trimmed image (a view of ``img`` when only trimming was needed).
    """
    height, width = img.shape[:2]
    if max_side > 0 and max(height, width) > max_side:
        if height > width:
            new_height, new_width = max_side, int(width * (max_side / height))
        else:
            new_height, new_width = int(height * (max_side / width)), max_side
        logger.debug("resize_to_limit: %dx%d -> %dx%d", width, height, new_width, new_height)
        img = cv2.resize(img, (new_width, new_height))
    division = max(int(division), 1)
    new_height = img.shape[0] - img.shape[0] % division
    new_width = img.shape[1] - img.shape[1] % division
    if new_height == 0 or new_width == 0:
        return img
    return img[:new_height, :new_width]
