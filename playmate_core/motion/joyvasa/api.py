"""Public entry points of the JoyVASA backend: `load_joyvasa` and `generate_joyvasa_motion`.

    model = load_joyvasa("models/playmate/motion_generator_hubert_chinese.pt",
                         "models/playmate/motion_template.pkl",
                         "models/audio_encoders/chinese-hubert-base")
    seq = generate_joyvasa_motion(model, waveform, sample_rate, source_motion=engine.extract_motion(src))
    # seq: playmate_core.motion.MotionSequence(origin="joyvasa"), rendered like Playmate's own motion

User input is validated here; the modules below assume clean tensors.
"""
from __future__ import annotations

import json
import logging
import math
import numbers
from pathlib import Path
from typing import Callable

import torch

from ...audio.io import SAMPLE_RATE, check_duration, prepare_waveform
from ...loading import CheckpointError
from ..sequence import MotionSequence, frame_count, resample_frames
from ..layout import check_motion_dict, source_vector
from .audio import build_encoder
from .checkpoint import config_from_file, encoder_geometry, load_state, read_released, verify_derived
from .generate import sample_utterance
from .model import JoyVASAModel
from .pose import relative_to_source, smooth_pose
from .template import load_template

log = logging.getLogger("playmate")

DEFAULT_CFG_SCALE = 2.8            # the reference's inference default
DEFAULT_POSE_SMOOTHING = 0.8       # EMA weight on the previous frame; the reference's 0.99 nearly freezes the head
ENCODER_HINT = "TencentGameMate/chinese-hubert-base (its config.json) in ComfyUI/models/audio_encoders/"


def read_encoder_config(folder: str | Path | None, family: str, state: dict):
    """config.json of the audio encoder folder -> transformers config. None: the base geometry of
    `family` with the sizes the checkpoint's own audio-encoder tensors show (encoder_geometry)."""
    from transformers import HubertConfig, Wav2Vec2Config
    cls = {"hubert": HubertConfig, "wav2vec2": Wav2Vec2Config}[family]
    if folder is None:
        log.info("JoyVASA: no audio-encoder folder given; %s geometry read from the checkpoint (all encoder "
                 "weights come from it)", family)
        return cls(**encoder_geometry(state)), f"<{cls.__name__} from the checkpoint's shapes>"
    folder = Path(folder)
    config_file = folder / "config.json" if folder.is_dir() else folder
    if not config_file.is_file():
        raise FileNotFoundError(f"audio-encoder config '{config_file}' does not exist; expected {ENCODER_HINT}")
    try:
        data = json.loads(config_file.read_text())
        config = cls.from_dict(data)
    except (OSError, ValueError, TypeError) as exc:
        raise CheckpointError(f"cannot read audio-encoder config '{config_file}' ({exc}); expected "
                              f"{ENCODER_HINT}") from exc
    if data.get("model_type", family) != family:
        raise CheckpointError(f"audio-encoder config '{config_file}' is model_type '{data.get('model_type')}', but "
                              f"the JoyVASA checkpoint was trained with a {family} encoder; expected {ENCODER_HINT}")
    return config, str(config_file)


def load_joyvasa(checkpoint: str | Path, template: str | Path, audio_encoder_folder: str | Path | None = None,
                 device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32) -> JoyVASAModel:
    """Load JoyVASA's released motion generator strictly (checkpoint.py) with its motion template.

    audio_encoder_folder: chinese-hubert-base folder (only its config.json is read; the fine-tuned encoder
    weights are inside the checkpoint) or None: the widths, depths and kernels the checkpoint's tensors
    show, with HuBERT-base defaults for what tensors cannot show (12 heads, conv strides, post-norm).
    dtype: float32, bfloat16, or float16 (GPU only).
    """
    from ...face.engine import resolve_device
    device = resolve_device(device)
    if dtype not in (torch.float32, torch.bfloat16, torch.float16):
        raise ValueError(f"dtype {dtype} is not supported; use torch.float32, torch.bfloat16 or torch.float16")
    if dtype == torch.float16 and device.type == "cpu":
        raise ValueError("float16 is slow or unsupported on the CPU; use torch.bfloat16 or torch.float32")
    path = Path(checkpoint)
    tmpl = load_template(template)
    args, state, iteration = read_released(path)
    cfg = config_from_file(args, state, path)
    verify_derived(state, cfg, path)
    hf_config, config_name = read_encoder_config(audio_encoder_folder, cfg.encoder_family, state)
    if hf_config.hidden_size != cfg.audio_dim:
        raise CheckpointError(f"the audio-encoder config {config_name} has hidden_size {hf_config.hidden_size}, but "
                              f"'{path}' maps {cfg.audio_dim}-wide audio features; expected {ENCODER_HINT}")
    model = JoyVASAModel(cfg, build_encoder(cfg.encoder_family, hf_config), tmpl,
                         meta={"iter": iteration, "checkpoint": str(path), "template": str(template),
                               "trained": not bool(getattr(args, "playmate_untrained", False))})
    load_state(model, state, path, config_name)
    model = model.to(device, dtype).eval()
    log.info("JoyVASA motion generator loaded from %s (iter %s, %s)", path, iteration, model.parameter_counts())
    return model


def _check_number(name: str, value, low: float, high: float | None = None) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value) and value >= low
    if not ok or (high is not None and value >= high):
        bound = f"in [{low}, {high})" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be a finite number {bound}, got {value!r}")
    return float(value)


def generate_joyvasa_motion(model: JoyVASAModel, waveform, sample_rate: int, source_motion,
                            cfg_scale: float = DEFAULT_CFG_SCALE, steps: int | None = None, seed: int = 0,
                            fps: float = 25, pose_smoothing: float = DEFAULT_POSE_SMOOTHING,
                            relative_to_first_frame: bool = True,
                            callback: Callable[[int, int], None] | None = None) -> MotionSequence:
    """Speech -> LivePortrait motion (N,70) for N = ceil(duration * fps) frames, any fps.

    source_motion: FaceEngine.extract_motion(source) (batch 1). cfg_scale: audio guidance (reference 2.8).
    steps: None = all of the checkpoint's diffusion steps (the reference); fewer = respaced DDPM.
    seed: the noise generator's seed. pose_smoothing: EMA weight in [0, 1) on the previous frame
    (0 off, 0.99 = the reference). relative_to_first_frame: move the source face by the motion relative
    to frame 0 (the reference renderer's way); False returns JoyVASA's absolute motion.
    callback(done, total): after every denoising step; raise in it to cancel. (No emotion: the backend
    front door, motion/backend.py, refuses an emotion request for JoyVASA.)
    """
    if not isinstance(model, JoyVASAModel):
        raise ValueError(f"model must be a JoyVASAModel (load_joyvasa), got {type(model).__name__}")
    if model.template is None:
        raise ValueError("this JoyVASA model has no motion template; load it with load_joyvasa(checkpoint, template)")
    if isinstance(fps, bool) or not (isinstance(fps, numbers.Real) and math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a positive number, got {fps!r}")
    cfg_scale = _check_number("cfg_scale", cfg_scale, 0.0)
    pose_smoothing = _check_number("pose_smoothing", pose_smoothing, 0.0, 1.0)
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, numbers.Integral)):
        raise ValueError(f"steps must be None (all {model.cfg.n_diff_steps}) or an integer, got {steps!r}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    check_motion_dict(source_motion)
    if sample_rate is None:
        raise ValueError("sample_rate is required with a waveform (e.g. sample_rate=16000)")
    wav = prepare_waveform(waveform, sample_rate)                               # S, 16 kHz mono
    check_duration(wav.shape[0], fps)
    z = sample_utterance(model, wav, cfg_scale, steps, int(seed), callback)     # N_ref,D (25 fps)
    values = smooth_pose(model.template.denormalise(z.double()), pose_smoothing).float()   # N_ref,70
    source = source_vector(source_motion)
    if relative_to_first_frame:
        values = relative_to_source(values, source)
    n_out = frame_count(wav.shape[0], fps, SAMPLE_RATE)
    values = resample_frames(values, model.cfg.fps, float(fps), n_out)           # n_out,70
    kp = torch.as_tensor(source_motion["kp"]).float().reshape(1, 21, 3)
    return MotionSequence(values=values.contiguous(), kp=kp, fps=fps, trained=model.trained, origin="joyvasa")
