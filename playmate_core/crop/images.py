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

DEFAULT_MAX_PIXELS = 4096 * 4096
"""Frames with more pixels are downscaled (area-averaged) to fit before anything else sees them
(PLAYMATE_MAX_IMAGE_PIXELS in ComfyUI): the crop, the render and the paste-back at full resolution
all cost memory in proportion to the pixel count."""

ROW_BLOCK = 256
"""Rows converted at a time by batch_to_uint8 (bounded float temporaries for huge frames)."""


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


def fit_pixels(height: int, width: int, max_pixels: float) -> tuple[int, int]:
    """(H, W) scaled by one factor to at most `max_pixels` pixels (unchanged when within)."""
    if height * width <= max_pixels:
        return height, width
    factor = (max_pixels / (height * width)) ** 0.5
    return max(1, int(height * factor)), max(1, int(width * factor))


def batch_to_uint8(images, max_pixels: float = DEFAULT_MAX_PIXELS, name: str = "image"):
    """ComfyUI IMAGE (B,H,W,C) float 0..1 (torch or numpy) -> (B,H',W',3) uint8 numpy, -> note.
    Values are clipped to [0, 1] (NaN -> 0), as ComfyUI's own image savers do.

    Converted ROW_BLOCK rows at a time, so a huge frame never gets full-size float temporaries; frames
    above `max_pixels` are downscaled with INTER_AREA to fit. note: '' or what was downscaled.
    """
    if images.ndim != 4 or images.shape[-1] < 3:
        raise ValueError(f"{name}: expected an IMAGE batch (B, H, W, 3), got shape {tuple(images.shape)}")
    count, height, width = (int(v) for v in images.shape[:3])
    out_h, out_w = fit_pixels(height, width, max_pixels)
    out = np.empty((count, out_h, out_w, 3), np.uint8)
    row = np.empty((height, width, 3), np.uint8) if (out_h, out_w) != (height, width) else None
    for b in range(count):
        target = out[b] if row is None else row
        for top in range(0, height, ROW_BLOCK):
            block = images[b, top:top + ROW_BLOCK, :, :3]
            block = block.detach().cpu().float().numpy() if hasattr(block, "detach") else np.asarray(block, np.float32)
            block = np.clip(np.nan_to_num(block, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)   # as ComfyUI's savers
            target[top:top + ROW_BLOCK] = np.rint(block * 255.0)
        if row is not None:
            out[b] = cv2.resize(row, (out_w, out_h), interpolation=cv2.INTER_AREA)
    note = "" if row is None else (f"{name} is {width}x{height} px ({height * width / 1e6:.1f} MP), above the "
                                   f"{max_pixels / 1e6:.1f} MP limit; downscaled to {out_w}x{out_h} (raise "
                                   f"PLAYMATE_MAX_IMAGE_PIXELS to keep more)")
    return out, note
