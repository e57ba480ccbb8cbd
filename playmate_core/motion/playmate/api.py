"""Public entry points of the motion model: `load_motion_model` and `generate_motion`.

    model = load_motion_model("playmate_motion.safetensors")            # or [stage1, emotion]
    motion = engine.extract_motion(source_image)                        # FaceEngine, batch 1
    seq = generate_motion(model, waveform, sample_rate, source_motion=motion, encoder=audio_encoder,
                          emotion="happy", intensity=2)
    for frame in seq.frames():                                          # or seq.motion() batched
        x_d = engine.transform_keypoints(frame)

Validation of user input happens here, at the boundary; the modules below assume clean tensors.
"""
from __future__ import annotations

import logging
import math
import numbers
from typing import Callable

import torch

from .checkpoint import load_motion_model
from .emotion import emotion_weights
from ..sequence import MotionSequence, frame_count, resample_frames
from .generate import sample_normalised
from ..layout import check_motion_dict, denormalise, inference_pose_std, source_condition, source_vector
from .model import MotionModel

log = logging.getLogger("playmate")

__all__ = ["load_motion_model", "generate_motion"]


def _encode_waveform(model: MotionModel, waveform, sample_rate, encoder, fps: int, out_fps: float) -> tuple:
    """Raw audio -> (features (N',L,D) with N' >= T, N at the model fps, frames at out_fps).
    Pads with real silence up to one window."""
    if encoder is None or not callable(getattr(encoder, "encode", None)):
        raise ValueError("raw audio needs an audio encoder: pass encoder=AudioEncoder.from_pretrained(folder) "
                         "(playmate_core.audio), or pass precomputed features=(N, L, D)")
    if sample_rate is None:
        raise ValueError("sample_rate is required with a waveform (e.g. sample_rate=16000)")
    from ... import audio as audio_frontend
    wav = audio_frontend.prepare_waveform(waveform, sample_rate)                # (S,) 16 kHz mono
    audio_frontend.check_duration(wav.shape[0], out_fps)                        # ValueError below one frame
    n = frame_count(wav.shape[0], fps, audio_frontend.SAMPLE_RATE)
    n_out = frame_count(wav.shape[0], out_fps, audio_frontend.SAMPLE_RATE)
    need = math.ceil(model.config.window * audio_frontend.SAMPLE_RATE / fps)
    if wav.shape[0] < need:                                                     # N < T: real silence after
        wav = torch.nn.functional.pad(wav, (0, need - wav.shape[0]))
    return torch.as_tensor(encoder.encode(wav, fps)), n, n_out


def _check_features(model: MotionModel, features) -> torch.Tensor:
    cfg = model.config
    feats = torch.as_tensor(features)
    if feats.ndim == 4 and feats.shape[0] == 1:
        feats = feats[0]
    if feats.ndim != 3 or tuple(feats.shape[1:]) != (cfg.audio_layers, cfg.audio_dim):
        raise ValueError(f"audio features must be (N, {cfg.audio_layers}, {cfg.audio_dim}) (frames, encoder layers, "
                         f"width) for this motion model, got {tuple(feats.shape)}; use the audio encoder the "
                         f"model was trained with")
    if feats.shape[0] < 1:
        raise ValueError("the audio is shorter than one video frame; at least 40 ms (one frame at 25 fps) is needed")
    finite = feats.is_floating_point() and all(torch.isfinite(feats[i:i + 4096]).all()
                                               for i in range(0, len(feats), 4096))     # chunked: no N*L*D mask
    if not finite:
        raise ValueError("the audio features contain NaN or inf (or are not floats); check the waveform and the "
                         "audio encoder")
    return feats


def _pad_silence(model: MotionModel, feats: torch.Tensor, encoder, fps: int) -> torch.Tensor:
    """Features shorter than one window: append encoder(zeros) frames (or zeros without an encoder)."""
    t_win = model.config.window
    if feats.shape[0] >= t_win:
        return feats
    if encoder is not None:
        silence = torch.as_tensor(encoder.encode(torch.zeros(math.ceil(t_win * model.meta["sample_rate"] / fps)), fps))
        pad = silence[feats.shape[0]:t_win].to(feats)
    else:
        log.warning("audio shorter than one window (%d < %d frames) padded with zero features; pass encoder= to "
                    "pad with encoded silence", feats.shape[0], t_win)
        pad = feats.new_zeros(t_win - feats.shape[0], *feats.shape[1:])
    return torch.cat([feats, pad])


def generate_motion(model: MotionModel, waveform=None, sample_rate: int | None = None, source_motion=None,
                    emotion=None, intensity: int | None = None, w_a: float = 1.5, w_e: float = 1.5,
                    steps: int = 25, eta: float = 1.0, seed: int = 0, fps: float = 25, pose_scale: float = 1.0,
                    callback: Callable[[int, int], None] | None = None, features=None,
                    encoder=None) -> MotionSequence:
    """Speech -> LivePortrait motion for every video frame (N = ceil(duration * fps), any fps).

    The model runs at its own frame rate (25 fps); for another `fps` its output is resampled in time
    (`resample_frames`) to exactly ceil(duration * fps) frames. With `features`, they must be at the
    model's frame rate and the duration is taken as N / model fps.

    source_motion: FaceEngine.extract_motion(source) (batch 1): kp, exp, pitch/yaw/roll, t, scale.
    Audio: `waveform` + `sample_rate` + `encoder` (AudioEncoder.encode(wav16k, fps) -> (N,L,D)), or
    precomputed `features` (N,L,D). emotion: None, a label ('happy', ...) with `intensity` 1-3 or
    None (unknown), or a track [(start_s, end_s, label, intensity), ...] (needs an emotion module).
    The emotion changes the expression only: the head pose is that of emotion=None with the same
    seed, audio and settings, to float rounding (pose-locked chains, generate.py; the trunk work doubles).
    w_a, w_e: audio / emotion guidance (paper eq. 8). steps: sampling steps; eta: 1 = ancestral
    (DDPM-like) sampling on the respaced schedule, the default; 0 = deterministic DDIM, which starts
    from alpha_bar(999) ~ 2e-9 where the eps -> x0 estimate is unusable and, in the learning benchmark,
    gave 10-20x jerkier head pose and 2.5x the expression spread of the data. seed: window k uses seed + k.
    pose_scale: head-motion amount (0 = still head at the source pose, 1 = natural).
    callback(step, total): after every denoising step of every window; raise in it to cancel.
    """
    if not isinstance(model, MotionModel):
        raise ValueError(f"model must be a MotionModel (load_motion_model), got {type(model).__name__}")
    if not (isinstance(fps, numbers.Real) and math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a positive number, got {fps!r}")
    out_fps, fps = fps, model.fps                                              # the model runs at its own rate
    check_motion_dict(source_motion)
    if emotion is not None and not model.has_emotion:
        raise ValueError("an emotion was requested but this motion model has no emotion module; load the stage-2 "
                         "emotion checkpoint too (load_motion_model([stage1, emotion])) or set emotion=None")
    for name, value in (("w_a", w_a), ("w_e", w_e), ("eta", eta), ("pose_scale", pose_scale)):
        if not (isinstance(value, numbers.Real) and math.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    if features is not None:
        feats, n = _check_features(model, features), None
        n_out = frame_count(feats.shape[0], out_fps, fps)
    elif waveform is not None:
        feats, n, n_out = _encode_waveform(model, waveform, sample_rate, encoder, fps, out_fps)
        feats = _check_features(model, feats)
    else:
        raise ValueError("no audio given: pass waveform= and sample_rate= (with encoder=), or features=")
    n = feats.shape[0] if n is None else min(n, feats.shape[0])
    feats = _pad_silence(model, feats, encoder, fps)
    if not model.trained:
        log.warning("generating with an UNTRAINED motion model: the motion is noise, not speech-driven")

    source = source_vector(source_motion)
    kp = torch.as_tensor(source_motion["kp"]).float().reshape(1, 21, 3)
    source_z, f_id = source_condition(source, kp, model.stats)                  # 1,70 ; 1,126
    emo = emotion_weights(emotion, intensity, feats.shape[0], fps, model.emotion_labels)
    with torch.inference_mode():
        audio_tok = model.denoiser.audio_tokens(feats[None])[0]                 # N',d
        z = sample_normalised(model, audio_tok, source_z, f_id.to(model.device), emo, float(w_a), float(w_e),
                              steps, float(eta), seed, callback)[:n]            # N,70
    sigma = inference_pose_std(model.stats, pose_scale, z)
    values = denormalise(z, model.stats, source[0, 63:], sigma)                 # N,70
    if out_fps != fps or n_out != values.shape[0]:
        values, z = (resample_frames(v, fps, out_fps, n_out) for v in (values, z))
    return MotionSequence(values=values, kp=kp, fps=out_fps, trained=model.trained, normalised=z)
