"""LivePortrait's implicit-keypoint face space: F, M, W, G and the stitching/retargeting MLPs S.

    config.py     frozen architecture configs (presets: liveportrait, tiny) saved beside tiny weights
    modules/      the nn.Module families, one per paper symbol (+ fast inference forms of W and G)
    weights.py    the two public file layouts (official .pth, ComfyUI safetensors), strict slot checks
    keypoints.py  pure pose/keypoint math (bins -> degrees, rotation, x = s (x_c R + delta) + t, ratios)
    engine.py     FaceEngine: extract appearance and motion, transform keypoints, stitch, warp and decode
"""
from .config import FACE_CONFIG_FILENAME, FACE_PRESETS, FaceEngineConfig
from .engine import (FaceEngine, build_face_modules, load_face_engine, load_face_modules, resolve_device,
                     resolve_face_config)
from .weights import save_weights

__all__ = ["FaceEngine", "FaceEngineConfig", "FACE_PRESETS", "FACE_CONFIG_FILENAME", "build_face_modules",
           "load_face_engine", "load_face_modules", "resolve_device", "resolve_face_config", "save_weights"]
