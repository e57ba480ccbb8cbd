"""Whole-utterance sampling in 100-frame windows, as JoyVASA's inference does it.

    wav (S,) 16 kHz --zero pad 2 frames in front, 1 frame behind--> (S + 1920)
        --cut into W windows of 16000*L/fps samples (stride L frames, no overlap; tail padded)-->
    window 0: context = learned start tokens (m_prev = start_motion_feat, a_prev = start_audio_feat)
    window k: context = last Lp frames of window k-1's x0 and of its audio tokens
    every window starts from the SAME initial noise x_T; each step draws fresh noise
    --> concatenate, drop the frames of the tail padding --> (N_ref, D), N_ref = floor((S + 1920) / 640)

The two leading frames of padding are part of the released model's timing: output frame i is shown
at i / 25 s, exactly as the reference renders it. All noise comes from one torch.Generator, drawn in
the reference's order (x_T, then one draw per step except the last), so seeding it like the
reference seeds torch's global generator reproduces the reference's samples.
"""
from __future__ import annotations

import math
from typing import Callable

import torch

from .config import SAMPLE_RATE
from .model import JoyVASAModel
from .sampler import guided_x0, plan_steps, step

LEAD_FRAMES, TAIL_FRAMES = 2, 1       # silence the reference adds before / after the utterance


def window_plan(num_samples: int, cfg) -> tuple:
    """-> (padded sample count, windows W, frames dropped from the last window). Reference arithmetic."""
    unit = SAMPLE_RATE / cfg.fps                                   # samples per frame (640.0)
    total = num_samples + round((LEAD_FRAMES + TAIL_FRAMES) * unit)
    clip_len = int(total / SAMPLE_RATE * cfg.fps)
    windows = 1 if clip_len <= cfg.n_motions else math.ceil(clip_len / cfg.n_motions)
    pad = cfg.window_samples * windows - total
    return total, windows, (math.ceil(pad / unit) if pad > 0 else 0)


def pad_utterance(wav: torch.Tensor, cfg) -> tuple:
    """(S,) -> ((W * window_samples or more,) padded waveform, W, dropped tail frames)."""
    unit = SAMPLE_RATE / cfg.fps
    total, windows, drop = window_plan(wav.shape[0], cfg)
    wav = torch.nn.functional.pad(wav, (round(LEAD_FRAMES * unit), round(TAIL_FRAMES * unit)))
    pad = cfg.window_samples * windows - total
    if pad > 0:
        fill = float(wav[-1]) if cfg.pad_mode == "replicate" else 0.0
        wav = torch.cat([wav, wav.new_full((pad,), fill)])
    return wav, windows, drop


def sample_window(model: JoyVASAModel, a: torch.Tensor, m_prev: torch.Tensor, a_prev: torch.Tensor,
                  x_T: torch.Tensor, plan: list, cfg_scale: float, gen: torch.Generator,
                  on_step: Callable[[], None]) -> torch.Tensor:
    """Guided ancestral DDPM for one window -> x0 (1,L,D). Batch row 0 = null audio, row 1 = audio."""
    L = model.cfg.n_motions
    a_in = torch.cat([model.null_audio_feat.expand(1, L, -1), a])                       # 2,L,F
    m_prev_in, a_prev_in = m_prev.expand(2, -1, -1), a_prev.expand(2, -1, -1)            # 2,Lp,D ; 2,Lp,F
    x = x_T
    for coef in plan:
        z = torch.randn(x_T.shape, generator=gen).to(x) if coef.t > 1 else None       # 1,L,D
        t = torch.full((2,), coef.t, dtype=torch.long, device=x.device)
        out = model.denoiser(x.expand(2, -1, -1), a_in, m_prev_in, a_prev_in, t)[:, -L:]   # 2,L,D
        x = step(coef, x, guided_x0(out[0:1], out[1:2], cfg_scale), z)                  # 1,L,D
        on_step()
    return x


def sample_utterance(model: JoyVASAModel, wav: torch.Tensor, cfg_scale: float = 2.8, steps: int | None = None,
                     seed: int = 0, callback: Callable[[int, int], None] | None = None) -> torch.Tensor:
    """16 kHz mono (S,) -> normalised JoyVASA motion (N_ref, D) float32 on the CPU (module docstring).

    callback(done, total) runs after every denoising step of every window; an exception raised in it
    stops sampling and propagates.
    """
    cfg, device, dtype = model.cfg, model.device, model.dtype
    padded, windows, drop = pad_utterance(wav.float().cpu(), cfg)
    plan = plan_steps(model.schedule, steps)
    total, done = windows * len(plan), 0

    def on_step():
        nonlocal done
        done += 1
        if callback is not None:
            callback(done, total)

    gen = torch.Generator().manual_seed(int(seed))
    m_prev, a_prev = model.start_motion_feat, model.start_audio_feat                     # 1,Lp,D ; 1,Lp,F
    x_T, parts = None, []
    with torch.inference_mode():
        for k in range(windows):
            chunk = padded[k * cfg.window_samples:(k + 1) * cfg.window_samples]
            a = model.encode_window(chunk[None].to(device, dtype))                      # 1,L,F
            if x_T is None:
                x_T = torch.randn((1, cfg.n_motions, cfg.motion_dim), generator=gen).to(device, dtype)
            x0 = sample_window(model, a, m_prev, a_prev, x_T, plan, float(cfg_scale), gen, on_step)   # 1,L,D
            m_prev, a_prev = x0[:, -cfg.n_prev_motions:], a[:, -cfg.n_prev_motions:]
            parts.append(x0[0].float().cpu())
    motion = torch.cat(parts)                                                            # W*L,D
    return motion[:motion.shape[0] - drop]                                               # N_ref,D
