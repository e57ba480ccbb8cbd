"""Architecture of the JoyVASA motion generator, read from the released checkpoint's `args`.

JoyVASA (jdh-algo/JoyVASA, MIT) stores its training `argparse.Namespace` beside the weights. Only six
of its fields shape the network the reference builds at inference; everything else in the denoiser
is a constructor default that the reference never overrides (8 layers, 8 heads, FFN 4F, GELU,
alignment-mask width 1, sinusoidal positions over 600 slots, time table of 501 rows).

Symbols used across this package:

    D   motion_dim      per-frame motion vector (released: 73; the first 70 are used)
    F   feature_dim     transformer width (audio tokens are mapped 768 -> F)
    L   n_motions       frames generated per window (100 = 4 s at 25 fps)
    Lp  n_prev_motions  frames carried over from the previous window (released: 10)
    T   n_diff_steps    DDPM steps (released: 50)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...config_base import ConfigMixin

# Fixed by the reference's DenoisingNetwork defaults (never passed by its loader).
NUM_LAYERS = 8
NUM_HEADS = 8
MLP_RATIO = 4
PE_MAX_LEN = 600              # rows of the positional table (tokens Lp + L must fit)
TIME_TABLE_ROWS = 501         # rows of the diffusion-step table (default n_diff_steps 500, + 1)
AUDIO_MODELS = {"hubert": "hubert", "hubert_zh": "hubert", "hubert_zh_ori": "hubert", "wav2vec2": "wav2vec2"}
SAMPLE_RATE = 16_000
MIN_MOTION_DIM = 70           # exp 63 + scale 1 + t 3 + pitch/yaw/roll 3 (template.py)


@dataclass(frozen=True)
class JoyVASAConfig(ConfigMixin):
    """Shapes of one JoyVASA motion generator (frozen; strict `from_dict`)."""
    motion_dim: int = 73
    feature_dim: int = 256
    n_motions: int = 100
    n_prev_motions: int = 10
    n_diff_steps: int = 50
    audio_model: str = "hubert_zh"
    fps: int = 25
    pad_mode: str = "zero"        # how the last window's audio is padded ('zero' or 'replicate')
    audio_dim: int = 768          # hidden size of the audio encoder

    def __post_init__(self):
        problems = []
        if self.motion_dim < MIN_MOTION_DIM:
            problems.append(f"motion_dim {self.motion_dim} < {MIN_MOTION_DIM}")
        if self.feature_dim % (2 * NUM_HEADS):
            problems.append(f"feature_dim {self.feature_dim} is not a multiple of {2 * NUM_HEADS}")
        if self.n_motions < 1 or self.n_prev_motions < 1 or self.n_prev_motions > self.n_motions:
            problems.append(f"n_motions {self.n_motions} / n_prev_motions {self.n_prev_motions}")
        if self.n_prev_motions + self.n_motions > PE_MAX_LEN:
            problems.append(f"n_prev_motions + n_motions > {PE_MAX_LEN} positional slots")
        if not 1 <= self.n_diff_steps < TIME_TABLE_ROWS:
            problems.append(f"n_diff_steps {self.n_diff_steps} outside 1..{TIME_TABLE_ROWS - 1}")
        if self.audio_model not in AUDIO_MODELS:
            problems.append(f"audio_model {self.audio_model!r} not in {sorted(AUDIO_MODELS)}")
        if self.pad_mode not in ("zero", "replicate"):
            problems.append(f"pad_mode {self.pad_mode!r}")
        if self.fps != 25:
            problems.append(f"fps {self.fps} (the released generator runs at 25)")
        if (SAMPLE_RATE * self.n_motions) % self.fps:
            problems.append(f"a window of {self.n_motions} frames is not a whole number of samples")
        if problems:
            raise ValueError("JoyVASAConfig: " + "; ".join(problems))

    @property
    def encoder_family(self) -> str:
        """'hubert' or 'wav2vec2': the transformers class of the audio encoder."""
        return AUDIO_MODELS[self.audio_model]

    @property
    def window_samples(self) -> int:
        """Audio samples per window: 16000 * L / fps (64000 for L = 100)."""
        return SAMPLE_RATE * self.n_motions // self.fps

    @property
    def tokens(self) -> int:
        """Transformer sequence length Lp + L."""
        return self.n_prev_motions + self.n_motions


# Fields of the training Namespace that decide the inference network, with the reference's
# fallback when an old file lacks one (its loader reads missing fields as None -> constructor default).
ARGS_FIELDS = ("motion_feat_dim", "feature_dim", "n_motions", "n_prev_motions", "n_diff_steps", "audio_model",
               "fps", "pad_mode")
ARGS_DEFAULTS = {"fps": 25, "pad_mode": "zero"}


def config_from_args(args: Any, audio_dim: int) -> JoyVASAConfig:
    """Training Namespace (or dict) -> JoyVASAConfig. Raises ValueError naming a missing field."""
    get = args.get if isinstance(args, dict) else (lambda k, d=None: getattr(args, k, d))
    values = {}
    for name in ARGS_FIELDS:
        value = get(name, ARGS_DEFAULTS.get(name))
        if value is None:
            raise ValueError(f"args has no '{name}'")
        values[name] = value
    return JoyVASAConfig(motion_dim=int(values["motion_feat_dim"]), feature_dim=int(values["feature_dim"]),
                         n_motions=int(values["n_motions"]), n_prev_motions=int(values["n_prev_motions"]),
                         n_diff_steps=int(values["n_diff_steps"]), audio_model=str(values["audio_model"]),
                         fps=int(values["fps"]), pad_mode=str(values["pad_mode"]), audio_dim=int(audio_dim))
