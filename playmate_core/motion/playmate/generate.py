"""Window-by-window sampling of a whole utterance (§2.5-2.6); the result becomes a MotionSequence (motion/sequence.py).

    audio tokens (N,d) --per window k: prev block + guided DDIM from noise(seed + k)--> z (T,70)
    --stitch (windows.py)--> z (N,70) --de-normalise around the source pose--> values (N,70)
"""
from __future__ import annotations

from typing import Callable

import torch

from .guidance import GuidedEpsilon
from ..layout import MOTION_DIM
from .model import MotionModel
from .windows import OVERLAP, stitch, window_starts


def sample_normalised(model: MotionModel, audio_tok: torch.Tensor, source_z: torch.Tensor, f_id: torch.Tensor,
                      emotion: tuple | None, w_a: float, w_e: float, steps: int, eta: float, seed: int,
                      callback: Callable[[int, int], None] | None = None) -> torch.Tensor:
    """Guided DDIM over all windows -> stitched z (max(N,T),70) float32.

    audio_tok (N',d) Proj_a tokens with N' >= T (silence-padded by the caller); source_z (1,70);
    f_id (1,126); emotion None or per-frame weights ((N',9), (N',4)). Window k draws its initial
    noise (and eta > 0 noise) from torch.Generator seeded with seed + k. callback(done, total)
    runs after every denoising step; an exception raised there stops generation and propagates.
    """
    d, cfg = model.denoiser, model.config
    p, t_win, n = cfg.prev_frames, cfg.window, audio_tok.shape[0]
    schedule = model.scheduler.set_timesteps(steps)
    total = steps * len(window_starts(n, t_win, t_win - OVERLAP))
    done = 0
    device = model.device

    def sample_window(k: int, start: int, prev: torch.Tensor, virtual: torch.Tensor) -> torch.Tensor:
        nonlocal done
        idx = torch.arange(start - p, start + t_win)
        tok = audio_tok[idx.clamp(min=0)]                                           # P+T,d
        virt = torch.cat([virtual, torch.zeros(t_win, dtype=torch.bool)])
        null_cur = torch.cat([virtual, torch.ones(t_win, dtype=torch.bool)])
        masks = torch.stack([virt, null_cur]).to(device)                            # 2,P+T
        ctx = d.context_tokens(prev[None].expand(2, -1, -1).to(device, model.dtype),
                               tok[None].expand(2, -1, -1), masks)                   # 2,P+T,d
        emo = None if emotion is None else (emotion[0][None, start:start + t_win].to(device),
                                            emotion[1][None, start:start + t_win].to(device))
        guided = GuidedEpsilon(d, model.emotion, ctx[:1], ctx[1:], f_id, emo, w_a, w_e)   # audio, null
        gen = torch.Generator().manual_seed(int(seed) + k)
        x = torch.randn((1, t_win, MOTION_DIM), generator=gen).to(device)           # 1,T,70
        for t, t_prev in schedule:
            x = model.scheduler.step(guided(x, t), t, t_prev, x, eta, gen)
            done += 1
            if callback is not None:
                callback(done, total)
        return x[0].cpu()                                                           # T,70

    with torch.inference_mode():
        return stitch(n, t_win, p, source_z.cpu().float(), sample_window, OVERLAP)
