"""Render a motion sequence on a prepared source portrait, one frame at a time (LivePortrait §3.1).

Per frame i (always with the SOURCE's canonical keypoints x_c,s, never the motion's own kp):
    x_d,i = s_i (x_c,s R(pitch_i, yaw_i, roll_i) + exp_i) + t_i          Eq. 2 (transform_keypoints)
    x_d,i <- x_d,i + S(x_s, x_d,i)                                       stitching (optional)
    I_i   = G(W(f_s, x_s, x_d,i))    (1,3,512,512) in (0,1) -> uint8 (512,512,3) (clip, x255, truncate)
    frame = paste_back(I_i, M_c2o, source image)  (H',W',3), H', W' even  |  the 512 crop itself

`render_frames` is a generator: memory does not grow with the number of frames.
"""
from __future__ import annotations

import numbers
from typing import Callable, Iterator

import numpy as np
import torch

from ..crop.paste_back import paste_back as paste_into
from ..face.engine import FaceEngine
from ..motion.sequence import MotionSequence
from ..motion.layout import MOTION_DIM, vector_to_motion
from .source import RENDER_SIZE, PortraitSource


def output_size(source: PortraitSource, paste_back: bool = True) -> tuple[int, int]:
    """(H, W) of every rendered frame: the source image trimmed to even sides, or (512, 512)."""
    if not paste_back:
        return RENDER_SIZE, RENDER_SIZE
    h, w = source.image.shape[:2]
    return h - h % 2, w - w % 2


def render_mask(source: PortraitSource, paste_back: bool = True) -> np.ndarray:
    """(H, W) float32 in [0,1] matching the rendered frames: the paste-back weight (even-trimmed), or
    ones (512, 512) for crops."""
    if not paste_back:
        return np.ones((RENDER_SIZE, RENDER_SIZE), np.float32)
    h, w = output_size(source, True)
    return np.ascontiguousarray(source.mask[:h, :w], dtype=np.float32)


def to_uint8_crop(image: torch.Tensor) -> np.ndarray:
    """(1,3,S,S) float in (0,1) -> (S,S,3) uint8 = trunc(clip(x, 0, 1) * 255) (LivePortrait's parse_output)."""
    hwc = image[0].permute(1, 2, 0).clamp(0, 1).mul(255).to(torch.uint8)   # S,S,3
    return hwc.cpu().numpy()


def _check(engine, source, motion, batch) -> torch.Tensor:
    if not isinstance(engine, FaceEngine):
        raise ValueError(f"engine must be a FaceEngine (load_face_engine), got {type(engine).__name__}")
    if not isinstance(source, PortraitSource):
        raise ValueError(f"source must be a PortraitSource (prepare_source), got {type(source).__name__}")
    if not isinstance(motion, MotionSequence):
        raise ValueError(f"motion must be a MotionSequence (generate_motion, extract_driving or "
                         f"load_motion_file), got {type(motion).__name__}")
    values = torch.as_tensor(motion.values).float().cpu()
    if values.ndim != 2 or values.shape[1] != MOTION_DIM or values.shape[0] < 1:
        raise ValueError(f"motion.values must be (frames >= 1, {MOTION_DIM}), got {tuple(values.shape)}")
    if not torch.isfinite(values).all():
        raise ValueError("motion.values contains NaN or inf; regenerate the motion")
    if isinstance(batch, bool) or not isinstance(batch, numbers.Integral) or batch < 1:
        raise ValueError(f"batch must be an integer >= 1, got {batch!r}")
    if source.f_s.shape[1] != engine.cfg.warping.reshape_channel:
        raise ValueError(f"the source was prepared with another face engine (appearance volume with "
                         f"{source.f_s.shape[1]} channels, this engine expects {engine.cfg.warping.reshape_channel}); "
                         f"run prepare_source again with this engine")
    return values


def render_frames(engine: FaceEngine, source: PortraitSource, motion: MotionSequence, paste_back: bool = True,
                  stitching: bool = True, callback: Callable[[int, int], None] | None = None,
                  batch: int = 1) -> Iterator[np.ndarray]:
    """Yield len(motion) uint8 frames (H',W',3) (see `output_size`), one at a time.

    Inputs are validated when this is called (not at the first frame). callback(i + 1, N) runs after
    frame i is rendered (before it is yielded); raising in it (or closing the generator) stops rendering. `batch` frames go
    through W and G together (1 = least memory; larger can be faster on a GPU).
    """
    values = _check(engine, source, motion, batch)
    return _frames(engine, source, values, bool(paste_back), bool(stitching), callback, int(batch))


def _frames(engine, source, values, paste_back, stitching, callback, batch) -> Iterator[np.ndarray]:
    n = values.shape[0]
    f_s = source.f_s.to(engine.device, engine.dtype)                      # moved once: 1,C,16,64,64
    x_s = source.x_s.to(engine.device, torch.float32)                      # 1,21,3
    kp = source.kp.reshape(1, 21, 3)
    mask = source.mask[:, :, None] if paste_back else None                 # H,W,1
    for start in range(0, n, batch):
        x_d = engine.transform_keypoints(vector_to_motion(values[start:start + batch], kp))   # b,21,3
        if stitching:
            x_d = engine.stitch(x_s.expand(x_d.shape[0], -1, -1), x_d)     # b,21,3
        out = engine.warp_decode(f_s, x_s, x_d, chunk=batch)               # b,3,512,512
        for j in range(out.shape[0]):
            crop = to_uint8_crop(out[j:j + 1])                             # 512,512,3
            frame = paste_into(crop, source.crop.M_c2o, source.image, mask_ori=mask) if paste_back else crop
            if callback is not None:
                callback(start + j + 1, n)
            yield frame
        del out


__all__ = ["render_frames", "output_size", "render_mask", "to_uint8_crop"]
