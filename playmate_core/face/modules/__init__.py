"""nn.Module families of the face engine, one per paper symbol (F, M, W, G, S)."""
from .appearance import AppearanceFeatureExtractor
from .generator import SPADEGenerator
from .motion_extractor import MotionExtractor
from .stitching import StitchingRetargeting
from .warping import WarpingNetwork

__all__ = ["AppearanceFeatureExtractor", "MotionExtractor", "WarpingNetwork", "SPADEGenerator",
           "StitchingRetargeting"]
