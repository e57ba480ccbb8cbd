"""The source portrait (everything rendering needs, computed once) and motion from driving frames.

    image --to_rgb_uint8--> I (H,W,3) --FaceCropper.crop--> CropInfo (crop_512, input_256, M_c2o)
    input_256 --F--> f_s (1,C,D,64,64)        input_256 --M--> motion (kp, exp, angles, t, scale)
    motion --Eq.2--> x_s (1,21,3)             M_c2o --mask_to_original--> paste mask (H,W)

    driving frames --crop_video--> crops --M (batches)--> (N,70) vectors -> MotionSequence(origin="driving")
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from ..crop.cropper import CropInfo, FaceCropper, to_tensor
from ..crop.images import to_rgb_uint8
from ..crop.paste_back import mask_to_original
from ..face.engine import FaceEngine
from ..motion.sequence import MotionSequence
from ..motion.layout import POSE, motion_to_vector

RENDER_SIZE = 512          # the generator's output side; the crop must match it for paste-back


@dataclass
class PortraitSource:
    """A prepared source portrait. All tensors float32 on the CPU.

    image: (H,W,3) uint8 RGB original. crop: its CropInfo. f_s: (1,C,16,64,64) appearance volume
    (C = 32 for LivePortrait). motion: batch-1 dict kp, exp (1,21,3); pitch, yaw, roll (1,1) degrees;
    t (1,3); scale (1,1). x_s: (1,21,3) source keypoints (Eq. 2 of motion). mask: (H,W) paste-back
    weight in [0,1] (mask_to_original of the crop).
    """
    image: np.ndarray
    crop: CropInfo
    f_s: torch.Tensor
    motion: dict
    x_s: torch.Tensor
    mask: np.ndarray

    @property
    def kp(self) -> torch.Tensor:
        """(1,21,3) canonical keypoints of the source (what every rendered frame uses)."""
        return self.motion["kp"]

    def vector(self) -> torch.Tensor:
        """(70,) the source motion in the layout of motion/layout.py."""
        return motion_to_vector(self.motion)[0]

    def pose(self) -> torch.Tensor:
        """(7,) pitch, yaw, roll (degrees), tx, ty, tz, scale."""
        return self.vector()[POSE]


def _check_inputs(engine, cropper) -> None:
    if not isinstance(engine, FaceEngine):
        raise ValueError(f"engine must be a FaceEngine (load_face_engine), got {type(engine).__name__}")
    if not isinstance(cropper, FaceCropper):
        raise ValueError(f"cropper must be a FaceCropper, got {type(cropper).__name__}")
    if cropper.dsize != RENDER_SIZE:
        raise ValueError(f"the cropper's dsize is {cropper.dsize} but the renderer outputs {RENDER_SIZE}x"
                         f"{RENDER_SIZE} crops; use FaceCropper(dsize={RENDER_SIZE})")


def _cpu_motion(motion: dict) -> dict:
    return {k: v.detach().float().cpu() for k, v in motion.items()}


def prepare_source(engine: FaceEngine, cropper: FaceCropper, image, name: str = "source image") -> PortraitSource:
    """Crop the face of `image` (anything to_rgb_uint8 accepts) and run F and M on its 256 input once.

    Raises ValueError (from the cropper) when no face is found, naming `name` and what to try.
    """
    _check_inputs(engine, cropper)
    rgb = to_rgb_uint8(image, name=name)                                     # H,W,3 uint8
    crop = cropper.crop(rgb, name=name)
    inp = to_tensor(crop)                                                    # 1,3,256,256
    f_s = engine.extract_appearance(inp).cpu()                               # 1,C,16,64,64
    motion = _cpu_motion(engine.extract_motion(inp))
    x_s = engine.transform_keypoints(motion)                                 # 1,21,3
    mask = mask_to_original(crop.M_c2o, crop.source_size, dsize=crop.crop_512.shape[0])[:, :, 0]   # H,W
    return PortraitSource(image=rgb, crop=crop, f_s=f_s, motion=motion, x_s=x_s, mask=mask)


def extract_driving(engine: FaceEngine, cropper: FaceCropper, frames, fps: float, on_missing: str = "skip",
                    batch: int = 8, callback: Callable[[int, int], None] | None = None
                    ) -> tuple[MotionSequence, list[int]]:
    """Per-frame motion of a driving video -> (MotionSequence (N,70) at `fps`, kept frame indices).

    frames: (T,H,W,3) or a sequence of images. on_missing: "skip" | "hold" | "error" (crop_video).
    M runs `batch` crops at a time; callback(done, N) after each batch (raise in it to cancel).
    kp of the result is the first kept frame's canonical keypoints (1,21,3); origin="driving".
    """
    _check_inputs(engine, cropper)
    if isinstance(fps, bool) or not isinstance(fps, numbers.Real) or not math.isfinite(fps) or fps <= 0:
        raise ValueError(f"fps must be the driving video's frame rate, a positive number, got {fps!r}")
    if isinstance(batch, bool) or not isinstance(batch, numbers.Integral) or batch < 1:
        raise ValueError(f"batch must be an integer >= 1, got {batch!r}")
    crops, kept = cropper.crop_video(frames, on_missing=on_missing, name="driving video")
    rows, kp = [], None
    for start in range(0, len(crops), int(batch)):
        motion = _cpu_motion(engine.extract_motion(to_tensor(crops[start:start + batch])))
        kp = motion["kp"][:1] if kp is None else kp                          # 1,21,3
        rows.append(motion_to_vector(motion))                                # b,70
        if callback is not None:
            callback(min(start + batch, len(crops)), len(crops))
    seq = MotionSequence(values=torch.cat(rows), kp=kp.reshape(1, 21, 3).clone(), fps=float(fps), trained=True,
                         origin="driving")
    return seq, list(kept)


__all__ = ["PortraitSource", "prepare_source", "extract_driving", "RENDER_SIZE"]
