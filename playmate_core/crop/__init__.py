"""Face crop and paste-back for LivePortrait-style rendering (design doc ``liveportrait.md`` §5).

    image --to_rgb_uint8/resize_to_limit--> RGB uint8 --FaceCropper.crop--> CropInfo
          (crop_512, input_256, M_o2c, M_c2o, landmarks)  --renderer-->  out_512
    out_512 --paste_back(out_512, M_c2o, image)--> frame at the source resolution

Optional landmark backends (mediapipe, onnxruntime) are imported only when a backend is used.
"""

from .backends import BACKENDS, make_backend
from .detection import DetectedFace
from .cropper import CropInfo, FaceCropper, to_tensor
from .geometry import (
    LAYOUT_POINTS,
    CropBox,
    anchor_points,
    crop_box,
    crop_matrices,
    invert,
    layout_for,
    similarity_from_box,
    transform_points,
)
from .images import MIN_SIDE, resize_to_limit, to_rgb_uint8
from .paste_back import feather_mask, mask_to_original, paste_back

__all__ = [
    "BACKENDS",
    "LAYOUT_POINTS",
    "MIN_SIDE",
    "CropBox",
    "CropInfo",
    "DetectedFace",
    "FaceCropper",
    "anchor_points",
    "crop_box",
    "crop_matrices",
    "feather_mask",
    "invert",
    "layout_for",
    "make_backend",
    "mask_to_original",
    "paste_back",
    "resize_to_limit",
    "similarity_from_box",
    "to_rgb_uint8",
    "to_tensor",
    "transform_points",
]
