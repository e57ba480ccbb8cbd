"""JoyVASA motion backend: the public JoyVASA audio -> LivePortrait-motion diffusion model (MIT code,
jdh-algo/JoyVASA), reimplemented here and loaded strictly from its released files.

    model = load_joyvasa(checkpoint_pt, motion_template_pkl, chinese_hubert_base_folder)
    seq = generate_joyvasa_motion(model, waveform, sample_rate, source_motion)   # MotionSequence

Files: config (hyper-parameters from the file's args), audio (HuBERT at 25 fps), denoiser (post-norm
decoder), sampler (cosine x0 DDPM + CFG), generate (windows), template (de-normalisation), pose
(smoothing, relative motion), checkpoint (strict loader), api (entry points). Facts:
shared/design/joyvasa.md.
"""
from .api import DEFAULT_CFG_SCALE, DEFAULT_POSE_SMOOTHING, generate_joyvasa_motion, load_joyvasa
from .checkpoint import looks_like_joyvasa
from .config import JoyVASAConfig
from .model import JoyVASAModel
from .pose import REFERENCE_POSE_SMOOTHING
from .template import MotionTemplate, load_template

__all__ = ["load_joyvasa", "generate_joyvasa_motion", "JoyVASAModel", "JoyVASAConfig", "MotionTemplate",
           "load_template", "looks_like_joyvasa", "DEFAULT_CFG_SCALE", "DEFAULT_POSE_SMOOTHING",
           "REFERENCE_POSE_SMOOTHING"]
