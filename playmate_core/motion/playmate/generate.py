"""Window-by-window sampling of a whole utterance (§2.5-2.6); the result becomes a MotionSequence (motion/sequence.py).

    audio tokens (N,d) --per window k: prev block + guided DDIM from noise(seed + k)--> z (T,70)
    --stitch (windows.py)--> z (N,70) --de-normalise around the source pose--> values (N,70)

Emotion never moves the head. With an emotion (and w_e != 0) two chains are sampled side by side
(guidance.py): chain 0 is the emotion-free run (emotion=None with the same seed: the same noise
draws, eps and previous frames; it runs as its own trunk batch with exactly that run's shapes, so
it is bit-identical to it in any precision), chain 1 carries the emotion.
Chain 1's noisy pose is overwritten with chain 0's after every step, so its trunk sees chain 0's
pose and its own expression; each chain keeps its own previous frames from window to window. The
output is chain 1's expression with chain 0's pose: the head pose of every frame is that of
emotion=None, whatever the emotion, intensity, w_e or track. Cost: the trunk passes double while an
emotion is active (one batch per chain); a window with no emotion in it whose previous frames
agree in both chains runs chain 0 alone.
"""
from __future__ import annotations

from typing import Callable

import torch

from .guidance import GuidedEpsilon
from ..layout import MOTION_DIM, POSE
from .model import MotionModel
from .windows import OVERLAP, stitch, window_starts


def _is_null(model: MotionModel, emotion: tuple) -> bool:
    """True when the per-frame weights ((1,T,9), (1,T,4)) are the null emotion / unknown intensity everywhere."""
    null = model.emotion.null_weights(emotion[0].shape[1], emotion[0].device)
    return torch.equal(emotion[0][0], null[0]) and torch.equal(emotion[1][0], null[1])


def sample_normalised(model: MotionModel, audio_tok: torch.Tensor, source_z: torch.Tensor, f_id: torch.Tensor,
                      emotion: tuple | None, w_a: float, w_e: float, steps: int, eta: float, seed: int,
                      callback: Callable[[int, int], None] | None = None) -> torch.Tensor:
    """Guided DDIM over all windows -> stitched z (max(N,T),70) float32.

    audio_tok (N',d) Proj_a tokens with N' >= T (silence-padded by the caller); source_z (1,70);
    f_id (1,126); emotion None or per-frame weights ((N',9), (N',4)). Window k draws its initial
    noise (and eta > 0 noise) from torch.Generator seeded with seed + k (each chain from its own
    generator with that seed: identical draws). callback(done, total) runs after every denoising
    step; an exception raised there stops generation and propagates.
    """
    d, cfg = model.denoiser, model.config
    p, t_win, n = cfg.prev_frames, cfg.window, audio_tok.shape[0]
    schedule = model.scheduler.set_timesteps(steps)
    total = steps * len(window_starts(n, t_win, t_win - OVERLAP))
    done = 0
    device = model.device
    chains = 2 if emotion is not None and w_e != 0 else 1          # w_e = 0: eq. 8 is the emotion-free run

    def sample_window(k: int, start: int, prev: torch.Tensor, virtual: torch.Tensor) -> torch.Tensor:
        nonlocal done
        idx = torch.arange(start - p, start + t_win)
        tok = audio_tok[idx.clamp(min=0)]                                           # P+T,d
        emo = None if chains == 1 else (emotion[0][None, start:start + t_win].to(device),
                                        emotion[1][None, start:start + t_win].to(device))
        active = chains
        if chains == 2 and _is_null(model, emo) and torch.equal(prev[:, 0], prev[:, 1]):
            active, emo = 1, None                                                   # chain 1 = chain 0 here
        virt = torch.cat([virtual, torch.zeros(t_win, dtype=torch.bool)])
        null_cur = torch.cat([virtual, torch.ones(t_win, dtype=torch.bool)])
        masks = torch.stack([virt, null_cur]).to(device)                            # 2,P+T: audio, null
        ctx = torch.cat([d.context_tokens(prev[:, c][None].expand(2, -1, -1).to(device, model.dtype),
                                          tok[None].expand(2, -1, -1), masks) for c in range(active)])  # 2C,P+T,d
        guided = GuidedEpsilon(d, model.emotion, ctx[0::2], ctx[1::2], f_id, emo, w_a, w_e)   # audio, null rows
        gens = [torch.Generator().manual_seed(int(seed) + k) for _ in range(active)]
        x = torch.cat([torch.randn((1, t_win, MOTION_DIM), generator=g) for g in gens]).to(device)   # C,T,70
        for t, t_prev in schedule:
            eps = guided(x, t)                                                      # C,T,70
            x = torch.cat([model.scheduler.step(eps[c:c + 1], t, t_prev, x[c:c + 1], eta, g)
                           for c, g in enumerate(gens)])
            x[1:, :, POSE] = x[:1, :, POSE]                                         # chain 0 carries the pose
            done += 1
            if callback is not None:
                callback(done, total)
        return x.transpose(0, 1).expand(-1, chains, -1).cpu()                       # T,C,70

    with torch.inference_mode():
        z = stitch(n, t_win, p, source_z.cpu().float(), sample_window, OVERLAP, chains=chains)   # N,C,70
    return z[:, -1]                                                                 # the emotion chain if any
