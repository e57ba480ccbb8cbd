"""Architecture configs of the LivePortrait face engine (F, M, W, G, S).

Frozen dataclasses, one per network. `FaceEngineConfig.liveportrait()` is the configuration of the
public LivePortrait checkpoints (human and animal); `FaceEngineConfig.tiny()` keeps every structural
feature (21 keypoints, 66 pose bins, spectral norm, occlusion, 2x pixel shuffle) at small widths so
tests can build, save and reload models in a second.

Configs never read files. `from_dict` rejects unknown keys so a misspelled option fails loudly.
Weights written with a non-public architecture (e.g. tiny demo models) carry their config beside them
as `FACE_CONFIG_FILENAME` (JSON of `to_dict()`); the loader in engine.py reads it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..config_base import ConfigMixin

FACE_CONFIG_FILENAME = "playmate_face_config.json"
"""Optional file beside the LivePortrait weights holding the full FaceEngineConfig (to_json())."""


@dataclass(frozen=True)
class AppearanceConfig(ConfigMixin):
    """F: 2D conv encoder lifted to a 3D feature volume f_s (B, reshape_channel, reshape_depth, 64, 64)."""
    image_channel: int = 3
    block_expansion: int = 64
    num_down_blocks: int = 2
    max_features: int = 512
    reshape_channel: int = 32
    reshape_depth: int = 16
    num_resblocks: int = 6


@dataclass(frozen=True)
class MotionExtractorConfig(ConfigMixin):
    """M: ConvNeXt-V2 backbone with pose-bin, translation, expression, scale and keypoint heads."""
    in_chans: int = 3
    depths: tuple = (3, 3, 9, 3)
    dims: tuple = (96, 192, 384, 768)
    num_kp: int = 21
    num_bins: int = 66


@dataclass(frozen=True)
class DenseMotionConfig(ConfigMixin):
    """Dense-motion hourglass inside W."""
    block_expansion: int = 32
    max_features: int = 1024
    num_blocks: int = 5
    reshape_depth: int = 16
    compress: int = 4


@dataclass(frozen=True)
class WarpingConfig(ConfigMixin):
    """W: dense motion + occlusion, warps f_s and projects it to 2D (B, 256, 64, 64)."""
    num_kp: int = 21
    block_expansion: int = 64
    max_features: int = 512
    num_down_blocks: int = 2
    reshape_channel: int = 32
    estimate_occlusion_map: bool = True
    dense_motion: DenseMotionConfig = field(default_factory=DenseMotionConfig)


@dataclass(frozen=True)
class GeneratorConfig(ConfigMixin):
    """G: SPADE decoder; `upscale` 2 adds the final pixel shuffle (256 -> 512)."""
    upscale: int = 2
    block_expansion: int = 64
    max_features: int = 512
    num_down_blocks: int = 2
    out_channels: int = 64
    num_middle_blocks: int = 6
    spade_hidden: int = 128


@dataclass(frozen=True)
class MLPConfig(ConfigMixin):
    input_size: int
    hidden_sizes: tuple
    output_size: int


@dataclass(frozen=True)
class StitchingConfig(ConfigMixin):
    """S: stitching (126->65), lip (65->63) and eye (66->63) retargeting MLPs."""
    stitching: MLPConfig = field(default_factory=lambda: MLPConfig(126, (128, 128, 64), 65))
    lip: MLPConfig = field(default_factory=lambda: MLPConfig(65, (128, 128, 64), 63))
    eye: MLPConfig = field(default_factory=lambda: MLPConfig(66, (256, 256, 128, 128, 64), 63))


@dataclass(frozen=True)
class FaceEngineConfig(ConfigMixin):
    appearance: AppearanceConfig = field(default_factory=AppearanceConfig)
    motion: MotionExtractorConfig = field(default_factory=MotionExtractorConfig)
    warping: WarpingConfig = field(default_factory=WarpingConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    stitching: StitchingConfig = field(default_factory=StitchingConfig)

    @classmethod
    def liveportrait(cls) -> "FaceEngineConfig":
        """The architecture of the public LivePortrait checkpoints (models.yaml)."""
        return cls()

    @classmethod
    def tiny(cls) -> "FaceEngineConfig":
        """Small widths, same structure and interfaces (21 kp, 66 bins, 16x64x64 volume, 512 output)."""
        return cls(
            appearance=AppearanceConfig(block_expansion=8, max_features=64, reshape_channel=4,
                                        reshape_depth=16, num_resblocks=2),
            motion=MotionExtractorConfig(depths=(1, 1, 2, 1), dims=(8, 16, 24, 32)),
            warping=WarpingConfig(block_expansion=8, max_features=64, reshape_channel=4,
                                  dense_motion=DenseMotionConfig(block_expansion=4, max_features=32,
                                                                 num_blocks=3, compress=2)),
            generator=GeneratorConfig(block_expansion=8, max_features=64, out_channels=8,
                                      num_middle_blocks=2, spade_hidden=8),
        )


FACE_PRESETS = {"liveportrait": FaceEngineConfig.liveportrait, "tiny": FaceEngineConfig.tiny}
