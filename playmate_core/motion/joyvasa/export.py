"""Writers of JoyVASA files in the RELEASED layout, for tests, demo models and reference comparisons.

`save_released_layout` writes what JoyVASA's trainer writes: torch.save of {'args': Namespace (with a
pathlib data_root, like the release), 'model': state dict under JoyVASA's names including the
derived buffers, 'iter': int}. `weight_norm` picks the spelling of the HuBERT positional-conv weight:
'parametrizations' (original0/original1, recent torch) or 'weight_g' (weight_g/weight_v, older torch).
`save_template_pickle` writes a motion_template.pkl-like dict of numpy float32 arrays.
Random models built here are UNTRAINED (model.meta['trained'] = False).
"""
from __future__ import annotations

import argparse
import pathlib
import pickle
from dataclasses import fields
from pathlib import Path

import numpy as np
import torch

from .audio import build_encoder
from .checkpoint import POS_CONV, WEIGHT_NORM
from .config import PE_MAX_LEN, TIME_TABLE_ROWS, JoyVASAConfig
from .denoiser import alignment_mask, sinusoid_table
from .model import JoyVASAModel
from .sampler import cosine_schedule
from .template import FIELD_SIZES, MotionTemplate

TINY_HUBERT = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                   conv_dim=(32,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2, vocab_size=32)
TINY_JOYVASA = JoyVASAConfig(motion_dim=73, feature_dim=16, n_motions=10, n_prev_motions=2, n_diff_steps=4,
                             audio_dim=32)


def build_random_joyvasa(cfg: JoyVASAConfig, hubert: dict | None = None, seed: int = 0,
                         template: MotionTemplate | None = None) -> JoyVASAModel:
    """A randomly initialised JoyVASAModel (HuBERT from `hubert` kwargs, default HuBERT-base)."""
    from transformers import HubertConfig, Wav2Vec2Config
    torch.manual_seed(seed)
    hf = (HubertConfig if cfg.encoder_family == "hubert" else Wav2Vec2Config)(**(hubert or {}))
    model = JoyVASAModel(cfg, build_encoder(cfg.encoder_family, hf), template or random_template(seed),
                         meta={"trained": False})
    return model.eval()


def random_template(seed: int = 0) -> MotionTemplate:
    """Plausible LivePortrait magnitudes (no data behind them): exp ~ 0 +- 0.02, pose ranges in degrees."""
    g = np.random.default_rng(seed)
    ranges = {"scale": (1.2, 1.8), "t": (-0.1, 0.1), "pitch": (-20, 20), "yaw": (-30, 30), "roll": (-15, 15)}
    values = {"mean_exp": g.normal(0, 0.01, 63), "std_exp": g.uniform(0.005, 0.03, 63)}
    for name, (lo, hi) in ranges.items():
        n = FIELD_SIZES[f"min_{name}"]
        values[f"min_{name}"] = lo + g.uniform(-0.01, 0.01, n) * (hi - lo)
        values[f"max_{name}"] = hi + g.uniform(-0.01, 0.01, n) * (hi - lo)
    return MotionTemplate(**{k: tuple(float(x) for x in np.asarray(v, np.float32).reshape(-1))
                             for k, v in values.items()})


def released_state(model: JoyVASAModel, weight_norm: str = "parametrizations") -> dict:
    """Our state dict -> JoyVASA's key names, plus the derived buffers the release stores."""
    if weight_norm not in ("parametrizations", "weight_g"):
        raise ValueError(f"weight_norm must be 'parametrizations' or 'weight_g', got {weight_norm!r}")
    cfg, out = model.cfg, {}
    to_old = {v: k for k, v in WEIGHT_NORM.items()}
    for key, value in model.state_dict().items():
        if key.startswith(POS_CONV):
            leaf = key.removeprefix(POS_CONV)
            leaf = (to_old.get(leaf, leaf) if weight_norm == "weight_g" else WEIGHT_NORM.get(leaf, leaf))
            key = POS_CONV + leaf
        out["denoising_net." + key.removeprefix("denoiser.") if key.startswith("denoiser.") else key] = \
            value.detach().float().to("cpu" if value.device.type != "meta" else "meta").clone()
    out["denoising_net.TE.pe"] = sinusoid_table(TIME_TABLE_ROWS, cfg.feature_dim)
    out["denoising_net.PE.pe"] = sinusoid_table(PE_MAX_LEN, cfg.feature_dim)
    out["denoising_net.alignment_mask"] = alignment_mask(cfg.tokens)
    out.update({f"diffusion_sched.{k}": v for k, v in cosine_schedule(cfg.n_diff_steps).items()})
    return out


def released_args(cfg: JoyVASAConfig, **extra) -> argparse.Namespace:
    """A training Namespace like the release's (fields the loader reads, plus a few it ignores)."""
    return argparse.Namespace(motion_feat_dim=cfg.motion_dim, feature_dim=cfg.feature_dim, n_motions=cfg.n_motions,
                              n_prev_motions=cfg.n_prev_motions, n_diff_steps=cfg.n_diff_steps,
                              audio_model=cfg.audio_model, fps=cfg.fps, pad_mode=cfg.pad_mode, use_indicator=False,
                              n_layers=6, diff_schedule="cosine", data_root=pathlib.PosixPath("data/hdtf"), **extra)


def save_released_layout(model: JoyVASAModel, path: str | Path, weight_norm: str = "parametrizations",
                         iteration: int = 20000) -> Path:
    """torch.save({'args', 'model', 'iter'}) as JoyVASA's trainer does (see module docstring)."""
    path = Path(path)
    torch.save({"args": released_args(model.cfg), "model": released_state(model, weight_norm), "iter": iteration},
               str(path))
    return path


def save_template_pickle(template: MotionTemplate, path: str | Path, extra_fields: bool = True) -> Path:
    """A motion_template.pkl-like pickle: the used fields as float32 arrays (+ unused ones, like the release)."""
    data = {f.name: np.asarray(getattr(template, f.name), np.float32) for f in fields(template)}
    if extra_fields:
        data.update(mean_scale=np.float32([1.5]), std_R=np.ones(9, np.float32), max_lip=np.ones(1, np.float32))
    path = Path(path)
    path.write_bytes(pickle.dumps(data, protocol=4))
    return path
